"""GTZAN (Tzanetakis & Cook 2002): 10 genres x 100 files x 30 s, 22,050 Hz mono; Table 1 of the paper.

Where the data comes from, in this order:

1. ``params.path``, or an extracted folder at ``<data_dir>/gtzan/genres/<genre>/<genre>.000NN.wav``
   (placed by hand, or left by an earlier run);
2. the archive ``<data_dir>/gtzan/genres.tar.gz``, placed by hand or downloaded (``download: true``)
   from the mirrors below, verified against the published checksums (SHA-256 and MD5), then safely
   extracted (only ``genres/<genre>/<genre>.NNNNN.wav`` members; into a temporary folder renamed to
   ``genres/`` once complete).

The original host (marsyas.info / opihi.cs.uvic.ca) is gone. The mirror is the Internet Archive's capture
of the original URL, which serves the original bytes: 1,225,571,541 bytes, MD5
``5b3d6dddb579ab49814ab86dba69e7c7`` (the one mirdata and torchaudio pin for ``genres.tar.gz``) and SHA-256
``24347e02...4ef2c6`` (torchaudio's and TFDS's). The Hugging Face copy under the ``marsyas`` organisation is
a repack with other bytes (its page lists SHA-256 ``b28cc067...``), so it is not a mirror of this file. A
download that does not match is moved to ``genres.tar.gz.bad`` (the newest failed copy only) and never used.

Preparation: files are split by file, per genre (``test_files_per_genre`` and ``val_files_per_genre``
of each genre, chosen by a seeded hash of the file name), then cut into 1-s segments (at most 30 per
file), streamed into memory-mapped ``{split}.npy``. GTZAN ships one known-corrupt file,
``jazz.00054.wav``: it is excluded (``exclude``) and listed in the manifest's ``skipped``; any other
unreadable file is skipped and listed too (``on_error: skip``).

The number of training measurements depends on the clipping level (segments without a clipped sample
are dropped by the ``measure`` step). The manifest's ``clipped_at`` gives, for each τ in
``report_clipped_at``, the segments per split that will survive; the paper reports 21,898 training
segments at τ = 0.1 (``paper_train_segments``). The ``measure`` step's manifest
(``results/<run>/measurements/<experiment>/manifest.json``, ``splits.train.items_kept``) has the count
actually used.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from declipbench import Param
from declipbench.data.audio import SEGMENTS, list_files, probe
from declipbench.data.io import portable_files

MODALITY = "audio"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
ARCHIVE = "genres.tar.gz"
SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"
MD5 = "5b3d6dddb579ab49814ab86dba69e7c7"
MIRRORS = [
    "https://web.archive.org/web/20220328223413id_/http://opihi.cs.uvic.ca/sound/genres.tar.gz",
]
#: bytes of the original archive (the size TFDS records for it)
SIZE = 1_225_571_541
KNOWN_CORRUPT = {"jazz.00054": "known-corrupt file of GTZAN; excluded by params.exclude"}
PAPER_TRAIN_SEGMENTS = 21898
MEMBER = re.compile(r"^genres/(%s)/\1\.\d{5}\.wav$" % "|".join(GENRES))

PARAMETERS = {
    "path": Param(None, str, help="an extracted genres/ folder (null: <data_dir>/gtzan/genres)"),
    **SEGMENTS,
    "max_segments_per_file": Param(30, int, min=1, nullable=True),
    "test_files_per_genre": Param(1, int, min=0),
    "val_files_per_genre": Param(1, int, min=0),
    "on_error": Param("skip", choices=("fail", "skip")),
    "seed": Param(0, int, min=0),
    "download": Param(True, help="fetch the archive from the mirrors when it is absent"),
    "urls": Param(list(MIRRORS), list, items=str),
    "sha256": Param(SHA256, str, help="the published checksum; overriding it is logged"),
    "md5": Param(MD5, str, nullable=True),
    "exclude": Param(sorted(KNOWN_CORRUPT), list, items=str, help="file stems set aside before the split"),
    "report_clipped_at": Param([0.1], list, items=float, help="tau values whose surviving segments the manifest counts"),
    "progress": Param(True),
}
log = logging.getLogger("declipbench.datasets.gtzan")


def _complete(root: Path) -> bool:
    return all((root / g).is_dir() for g in GENRES)


def locate(params: dict, data_dir: Path | None) -> Path:
    """The extracted ``genres/`` folder named by ``params.path`` or under ``data_dir`` (no download)."""
    root = Path(params["path"]).expanduser() if params.get("path") else Path(data_dir or "data") / "gtzan" / "genres"
    missing = [g for g in GENRES if not (root / g).is_dir()]
    if missing:
        raise ValueError(f"GTZAN not found: {root} lacks genre folder(s) {missing}. Place the extracted "
                         f"genres/ folder of genres.tar.gz there, or the archive at {root.parent / ARCHIVE}, "
                         f"or set datasets.<name>.params.path")
    return root


def inputs(params: dict, data_dir: Path | None) -> list:
    """What preparing GTZAN reads (``declipbench check-data``): the extracted folder, or the archive,
    present or to download."""
    from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, Input

    p = params
    if p.get("path"):
        root = Path(p["path"]).expanduser()
        ok = _complete(root)
        return [Input("GTZAN genres/ folder (params.path)", str(root), PRESENT if ok else MANUAL,
                      "" if ok else f"{root} must hold the ten genre folders of genres.tar.gz")]
    base = Path(data_dir or "data") / "gtzan"
    if _complete(base / "genres"):
        return [Input("GTZAN genres/ folder", str(base / "genres"), PRESENT)]
    archive = base / ARCHIVE
    if archive.is_file():
        return [Input("GTZAN archive", str(archive), PRESENT)]
    if p["download"] and p["urls"]:
        return [Input("GTZAN archive", str(archive), DOWNLOAD, p["urls"][0],
                      SIZE if p["sha256"] == SHA256 else None)]
    return [Input("GTZAN archive", str(archive), MANUAL,
                  f"place genres.tar.gz (SHA-256 {SHA256[:8]}...) there, or its extracted genres/ folder beside it, "
                  "or set download: true")]


def download(params: dict, data_dir: Path | None) -> tuple[Path, dict]:
    """Return the extracted ``genres/`` folder, fetching and extracting the archive if needed."""
    from declipbench.data.download import fetch, safe_extract

    p = params
    if p.get("path"):
        return locate(p, data_dir), {"source": "params.path"}
    base = Path(data_dir or "data") / "gtzan"
    root = base / "genres"
    archive = base / ARCHIVE
    if _complete(root) and not archive.exists():
        return root, {"source": f"extracted folder {root}"}
    if not archive.exists() and not p["download"]:
        return locate(p, data_dir), {"source": f"extracted folder {root}"}
    if (p["sha256"], p["md5"]) != (SHA256, MD5):
        log.warning("GTZAN checksums overridden in the config (sha256=%s, md5=%s); the published ones are %s / %s",
                    p["sha256"], p["md5"], SHA256, MD5)
    fetch(archive, urls=list(p["urls"] or []) if p["download"] else [], sha256=p["sha256"], md5=p["md5"],
          size=SIZE if p["sha256"] == SHA256 else None, progress=p["progress"])
    info = {"source": "archive", "archive": str(archive), "sha256": p["sha256"], "md5": p["md5"]}
    if _complete(root):
        return root, info
    import tarfile

    with tarfile.open(archive, "r:*") as tf:
        names = [m.name for m in tf.getmembers() if MEMBER.match(m.name)]
    if not names:
        raise ValueError(f"{archive}: no member named genres/<genre>/<genre>.NNNNN.wav")
    staging = base / ".genres.extracting"
    if staging.exists():
        shutil.rmtree(staging)
    log.info("extracting %d files of %s", len(names), archive)
    safe_extract(archive, staging, names)
    if root.exists():  # an incomplete folder from an interrupted manual copy: keep it aside, never delete it
        aside = base / f"genres.incomplete.{os.getpid()}"
        log.warning("%s is incomplete; moved to %s", root, aside)
        os.replace(root, aside)
    os.replace(staging / "genres", root)
    shutil.rmtree(staging)
    info["extracted_files"] = len(names)
    return root, info


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    from declipbench.data.seeding import split_by_hash
    from declipbench.data.segments import clipped_counts, file_source, write_audio_splits

    p = params
    root, source = download(p, data_dir)
    excluded = set(p["exclude"] or [])
    by_split: dict[str, list] = {"train": [], "val": [], "test": []}
    skipped = []
    for g in GENRES:
        files = []
        names, unportable = portable_files(list_files(root / g), p["on_error"])
        skipped += unportable
        for f in names:
            stem = f.name[: -len(f.suffix)]
            if stem in excluded:
                skipped.append({"file": str(f.relative_to(root)), "split": None,
                                "reason": KNOWN_CORRUPT.get(stem, "excluded by params.exclude")})
                continue
            problem = probe(f)
            if problem:  # unreadable files are set aside before the split, so every genre keeps its test file
                if p["on_error"] == "fail":
                    raise ValueError(problem)
                skipped.append({"file": str(f.relative_to(root)), "split": None, "reason": problem})
                continue
            files.append(f)
        n_test, n_val = int(p["test_files_per_genre"]), int(p["val_files_per_genre"])
        parts = split_by_hash(files, root / g, {"test": 0, "val": 0}, {"test": n_test, "val": n_val}, p["seed"])
        for k in by_split:
            by_split[k] += [file_source(f, str(f.relative_to(root))) for f in parts[k]]
    manifest = write_audio_splits(by_split, out_dir, sample_rate=int(p["sample_rate"]),
                                  segment_seconds=float(p["segment_seconds"]),
                                  max_segments_per_file=p["max_segments_per_file"], on_error=p["on_error"],
                                  progress=p["progress"])
    manifest["skipped"] = skipped + manifest["skipped"]
    manifest.update({
        "dataset": "gtzan", "root": str(root), "source": source,
        "params": {k: v for k, v in p.items()},
        "files_total": sum(len(v) for v in by_split.values()) + len(skipped),
        "clipped_at": clipped_counts(out_dir, p["report_clipped_at"]),
        "paper_train_segments": PAPER_TRAIN_SEGMENTS,
    })
    for tau, counts in manifest["clipped_at"].items():
        log.info("segments with clipping at tau=%s: %s (the paper trains on %d)", tau, counts, PAPER_TRAIN_SEGMENTS)
    return manifest
