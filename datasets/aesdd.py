"""AESDD, the Acted Emotional Speech Dynamic Database (Vryzas et al. 2018): the speech of Table 2.

Greek utterances by professional actors in five emotions, one folder per emotion (``anger``,
``disgust``, ``fear``, ``happiness``, ``sadness``) inside ``Acted Emotional Speech Dynamic Database/``,
WAV at 44.1 kHz. The official page is https://m3c.web.auth.gr/research/aesdd-speech-emotion-recognition/
(Aristotle University of Thessaloniki); the database is handed out from there (a request form / cloud
links), and a CC-BY-4.0 copy is on the Hugging Face Hub (``EdwardLin2023/AESDD``).

**No checksum of any AESDD archive is published** by its owners or by a mirror we could find, so the
suite pins none and invents none. To use an archive you must pin it yourself: obtain the zip, compute
``sha256sum`` of it, and set ``sha256`` (and ``url``, an https:// link, if it should be downloaded; or
place the file at ``<data_dir>/aesdd/<archive>``). The archive is verified, safely extracted, and the
extracted folder reused afterwards. An extracted folder can also be given directly with ``path``
(no checksum then: you vouch for it).

Preparation: files are split by file (seeded hash, ``file_fractions``), resampled to 22,050 Hz, cut
into 1-s segments (a trailing partial second is dropped) and streamed into memory-mapped
``{split}.npy``. Files that do not decode (the database is known to hold a few) are skipped and listed
with the reason in the manifest.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from declipbench import Param
from declipbench.data.audio import SEGMENTS, file_split_parameters, list_files, probe
from declipbench.data.io import portable_files

MODALITY = "audio"
EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness")
FOLDER = "Acted Emotional Speech Dynamic Database"
OFFICIAL_PAGE = "https://m3c.web.auth.gr/research/aesdd-speech-emotion-recognition/"

PARAMETERS = {
    "path": Param(None, str, help="an extracted folder holding the five emotion folders"),
    "archive": Param("aesdd.zip", str, help="file name under <data_dir>/aesdd/"),
    "url": Param(None, str, help="https:// link to the archive (none is published with a checksum)"),
    "sha256": Param(None, str, help="required for an archive: no published checksum exists"),
    **SEGMENTS,
    "max_segments_per_file": Param(None, int, min=1),
    **file_split_parameters(test=0.2, val=0.1),
    "on_error": Param("skip", choices=("fail", "skip")),
    "seed": Param(0, int, min=0),
    "progress": Param(True),
}
log = logging.getLogger("declipbench.datasets.aesdd")


def find_root(base: Path) -> Path | None:
    """The folder under ``base`` (itself included) that holds the five emotion folders."""
    if not base.is_dir():
        return None
    candidates = [base, *sorted(p for p in base.rglob("*") if p.is_dir())]
    for c in candidates:
        if all((c / e).is_dir() for e in EMOTIONS):
            return c
    return None


def inputs(params: dict, data_dir: Path | None) -> list:
    """What preparing AESDD reads (``declipbench check-data``). No archive of it has a published checksum,
    so without ``path`` or an extracted folder it is a manual step until ``sha256`` is set."""
    from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, Input

    p = params
    if p["path"]:
        root = find_root(Path(p["path"]).expanduser())
        return [Input("AESDD folder (params.path)", str(p["path"]), PRESENT if root else MANUAL,
                      "" if root else f"it must hold the folders {list(EMOTIONS)}")]
    base = Path(data_dir or "data") / "aesdd"
    if find_root(base / "extracted") is not None:
        return [Input("AESDD extracted folder", str(base / "extracted"), PRESENT)]
    archive = base / p["archive"]
    how = (f"obtain the database from {OFFICIAL_PAGE}, place its zip at {archive} (or set params.url), compute "
           f"sha256sum {archive.name} and set datasets.<name>.params.sha256; or set params.path to an "
           f"extracted '{FOLDER}' folder")
    if archive.is_file():
        return [Input("AESDD archive", str(archive), PRESENT if p["sha256"] else MANUAL, "" if p["sha256"] else how)]
    if p["url"] and p["sha256"]:
        return [Input("AESDD archive", str(archive), DOWNLOAD, p["url"])]
    return [Input("AESDD archive", str(archive), MANUAL, how)]


def download(params: dict, data_dir: Path | None) -> tuple[Path, dict]:
    from declipbench.data.download import fetch, safe_extract

    p = params
    if p["path"]:
        root = find_root(Path(p["path"]).expanduser())
        if root is None:
            raise ValueError(f"datasets.<name>.params.path: {p['path']} holds no folders {list(EMOTIONS)}")
        return root, {"source": "params.path"}
    base = Path(data_dir or "data") / "aesdd"
    extracted = base / "extracted"
    archive = base / p["archive"]
    root = find_root(extracted)
    if root is not None and not archive.exists():
        return root, {"source": f"extracted folder {extracted}"}
    if not p["sha256"]:
        raise ValueError(
            f"AESDD: no checksum is published for any AESDD archive, so one must be given. Obtain the database "
            f"from {OFFICIAL_PAGE}, place the zip at {archive} (or set params.url to an https:// link), compute "
            f"its SHA-256 (sha256sum {archive.name}) and set datasets.<name>.params.sha256; or point "
            f"params.path at an extracted '{FOLDER}' folder")
    fetch(archive, urls=[p["url"]] if p["url"] else [], sha256=p["sha256"], progress=p["progress"])
    info = {"source": "archive", "archive": str(archive), "sha256": p["sha256"]}
    if root is not None:
        return root, info
    staging = base / ".extracting"
    if staging.exists():
        shutil.rmtree(staging)
    safe_extract(archive, staging)
    found = find_root(staging)
    if found is None:
        raise ValueError(f"{archive}: no folder with {list(EMOTIONS)} inside; is this the AESDD archive?")
    if extracted.exists():
        aside = base / f"extracted.incomplete.{os.getpid()}"
        os.replace(extracted, aside)
    os.replace(staging, extracted)
    return find_root(extracted), info


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    from declipbench.data.seeding import split_by_hash
    from declipbench.data.segments import clipped_counts, file_source, write_audio_splits

    p = params
    root, source = download(p, data_dir)
    files, skipped = [], []
    for e in EMOTIONS:
        names, unportable = portable_files(list_files(root / e), p["on_error"])
        skipped += unportable
        for f in names:
            problem = probe(f)
            if problem:
                if p["on_error"] == "fail":
                    raise ValueError(problem)
                skipped.append({"file": str(f.relative_to(root)), "split": None, "reason": problem})
            else:
                files.append(f)
    if not files:
        raise ValueError(f"AESDD: no readable audio under {root}")
    parts = split_by_hash(files, root, p["file_fractions"], p["min_files"], p["seed"])
    sources = {s: [file_source(f, str(f.relative_to(root))) for f in parts[s]] for s in ("train", "val", "test")}
    manifest = write_audio_splits(sources, out_dir, sample_rate=int(p["sample_rate"]),
                                  segment_seconds=float(p["segment_seconds"]),
                                  max_segments_per_file=p["max_segments_per_file"], on_error=p["on_error"],
                                  progress=p["progress"])
    manifest["skipped"] = skipped + manifest["skipped"]
    manifest.update({"dataset": "aesdd", "root": str(root), "source": source, "params": dict(p),
                     "files_total": len(files) + len(skipped), "clipped_at": clipped_counts(out_dir, [0.1])})
    return manifest
