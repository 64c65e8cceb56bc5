"""MAESTRO v3.0.0 (Hawthorne et al. 2019), the piano recordings of Table 3, after Moliner et al. (2023).

Source: the official zip (about 101 GB, 120 GB uncompressed),
https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.zip, whose SHA-256
``6680fea5...c95291`` is published on the dataset page (https://magenta.tensorflow.org/datasets/maestro,
"Download" section). It is downloaded (resumable, verified) to ``<data_dir>/maestro/maestro-v3.0.0.zip``
unless already there (a hand-placed copy is verified once, then trusted while unchanged; see
:func:`declipbench.data.download.fetch`), or read from ``params.zip``.

The zip is never extracted or held whole: ``maestro-v3.0.0.csv`` is read from inside it, the selected
recordings are copied one at a time to a temporary file (CRC-checked), decoded block by block,
mixed to mono, resampled from 44.1/48 kHz to 22,050 Hz and cut into 1-s segments streamed into
memory-mapped ``{split}.npy`` (:mod:`declipbench.data.segments`). Peak memory is a few blocks, whatever the
size of the selection (BENCHMARKS.md, "MAESTRO preparation memory").

Selection (Moliner et al. 2023): training recordings of the years 2004, 2006,
2008, 2009, 2011, 2013, 2014 and 2015 (rows whose ``split`` is ``train``); testing: the ``test`` split of
2009. Validation (monitoring only; the protocol has none): ``val_files`` recordings of the ``validation``
split of the training years, chosen by a seeded hash.

Test set (the paper, Table 3): "clipped to a fixed input SDR, then normalised so τ = 0.1". Each test
segment ``x`` is scaled by ``tau / tau_x`` where ``tau_x`` clips ``x`` to ``test_input_sdr_db``
(:func:`declipbench.data.levels.scale_to_input_sdr`), so clipping the stored segment at ``tau`` gives exactly
that input SDR. The paper does not give the SDR value: ``test_input_sdr_db`` has no default and must be
set in the config. Silent or near-silent segments (peak below ``test_min_peak``) and segments for which
the target cannot be reached are dropped and counted in the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import logging
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from declipbench import Param
from declipbench.data.audio import SEGMENTS

MODALITY = "audio"
ARCHIVE = "maestro-v3.0.0.zip"
URL = "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0.zip"
SHA256 = "6680fea5be2339ea15091a249fbd70e49551246ddbd5ca50f1b2352c08c95291"  # magenta.tensorflow.org/datasets/maestro
CSV_NAME = "maestro-v3.0.0.csv"

PARAMETERS = {
    "zip": Param(None, str, help="path of the zip (null: <data_dir>/maestro/maestro-v3.0.0.zip)"),
    "download": Param(True),
    "urls": Param([URL], list, items=str),
    "sha256": Param(SHA256, str, help="the published checksum; overriding it is logged"),
    **SEGMENTS,
    "train_years": Param([2004, 2006, 2008, 2009, 2011, 2013, 2014, 2015], list, items=int),
    "test_years": Param([2009], list, items=int),
    "val_files": Param(8, int, min=0, help="recordings of the validation split of the training years (monitoring)"),
    "max_segments_per_file": Param(None, int, min=1, help="null: all whole segments of each recording"),
    "max_files": Param(None, int, min=1, help="cap per split (seeded choice), for small trial runs"),
    "tau": Param(0.1, float, above=0, help="the experiment's clipping level (test scaling)"),
    "test_input_sdr_db": Param(None, float, help="required: the paper does not give Table 3's value"),
    "test_min_peak": Param(1e-3, float, min=0, help="-60 dBFS: quieter test segments are dropped (noise floor)"),
    "on_error": Param("skip", choices=("fail", "skip")),
    "seed": Param(0, int, min=0),
    "progress": Param(True),
}
log = logging.getLogger("declipbench.datasets.maestro")


def _order(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def read_metadata(zf: zipfile.ZipFile, archive: Path) -> tuple[str, list[dict]]:
    """The member prefix (``maestro-v3.0.0/``) and the rows of the CSV inside the zip."""
    names = [n for n in zf.namelist() if PurePosixPath(n).name == CSV_NAME]
    if not names:
        raise ValueError(f"{archive}: no {CSV_NAME} inside; is this the MAESTRO v3.0.0 zip?")
    member = sorted(names, key=len)[0]
    prefix = member[: -len(CSV_NAME)]
    with zf.open(member) as fh:
        rows = list(csv.DictReader(_io.TextIOWrapper(fh, encoding="utf-8")))
    need = {"split", "year", "audio_filename", "duration"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"{archive}:{member}: expected columns {sorted(need)}, got {sorted(rows[0]) if rows else []}")
    return prefix, rows


def select(rows: list[dict], p: dict) -> dict[str, list[dict]]:
    """Moliner et al.'s subset: train = train split of the training years, test = test split of 2009."""
    def pick(split: str, years) -> list[dict]:
        ys = {int(y) for y in years}
        return sorted((r for r in rows if r["split"] == split and int(r["year"]) in ys),
                      key=lambda r: r["audio_filename"])

    out = {"train": pick("train", p["train_years"]), "test": pick("test", p["test_years"])}
    val = sorted(pick("validation", p["train_years"]), key=lambda r: _order(r["audio_filename"], p["seed"]))
    out["val"] = sorted(val[: int(p["val_files"])], key=lambda r: r["audio_filename"])
    if p["max_files"] is not None:
        for k in out:
            chosen = sorted(out[k], key=lambda r: _order(r["audio_filename"], p["seed"]))[: int(p["max_files"])]
            out[k] = sorted(chosen, key=lambda r: r["audio_filename"])
    return {k: out[k] for k in ("train", "val", "test")}


def scale_rows_to_input_sdr(rows: np.ndarray, target_db: float, tau: float, min_peak: float):
    """Scale each segment so clipping it at ``tau`` gives ``target_db`` input SDR; drop what cannot be."""
    from declipbench.data.levels import scale_to_input_sdr

    kept, why = [], {}
    for x in rows:
        peak = float(np.max(np.abs(x)))
        if not peak >= min_peak:
            why["below_test_min_peak"] = why.get("below_test_min_peak", 0) + 1
            continue
        try:
            kept.append(scale_to_input_sdr(x, target_db, tau))
        except ValueError:
            why["input_sdr_unreachable"] = why.get("input_sdr_unreachable", 0) + 1
    out = np.stack(kept) if kept else np.zeros((0, rows.shape[1]), np.float32)
    return out, why


def inputs(params: dict, data_dir: Path | None) -> list:
    """What preparing MAESTRO reads (``declipbench check-data``): the v3.0.0 zip (about 101 GB)."""
    from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, Input

    p = params
    path = Path(p["zip"]).expanduser() if p.get("zip") else Path(data_dir or "data") / "maestro" / ARCHIVE
    if path.is_file():
        return [Input("MAESTRO v3.0.0 zip", str(path), PRESENT)]
    if p["download"] and p["urls"]:
        return [Input("MAESTRO v3.0.0 zip (about 101 GB)", str(path), DOWNLOAD, p["urls"][0])]
    return [Input("MAESTRO v3.0.0 zip", str(path), MANUAL, f"place {ARCHIVE} there (from {URL}) or set download: true")]


def download(params: dict, data_dir: Path | None) -> Path:
    """The verified zip: ``params.zip`` or ``<data_dir>/maestro/maestro-v3.0.0.zip``, downloaded if missing."""
    from declipbench.data.download import fetch

    p = params
    path = Path(p["zip"]).expanduser() if p.get("zip") else Path(data_dir or "data") / "maestro" / ARCHIVE
    if p["sha256"] != SHA256:
        log.warning("MAESTRO checksum overridden in the config (%s); the published one is %s", p["sha256"], SHA256)
    return fetch(path, urls=list(p["urls"] or []) if p["download"] else [], sha256=p["sha256"],
                 progress=p["progress"])


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    from declipbench.data.download import zip_member_file
    from declipbench.data.segments import Source, clipped_counts, write_audio_splits

    p = params
    if p["test_input_sdr_db"] is None:
        raise ValueError("datasets.<name>.params.test_input_sdr_db is not set: Table 3's test set is clipped to a "
                         "fixed input SDR whose value the paper does not give; set it "
                         "in the config (a number in dB)")
    target = float(p["test_input_sdr_db"])
    archive = download(p, data_dir)
    out_dir = Path(out_dir)
    spool = out_dir / ".spool"
    with zipfile.ZipFile(archive) as zf:
        prefix, rows = read_metadata(zf, archive)
        chosen = select(rows, p)
        members = set(zf.namelist())
        sources, missing = {}, []
        for split, items in chosen.items():
            sources[split] = []
            for r in items:
                name = prefix + r["audio_filename"]
                if name not in members:
                    missing.append({"file": r["audio_filename"], "split": split, "reason": "listed in the CSV, not in the zip"})
                    continue
                sources[split].append(Source(
                    r["audio_filename"], (lambda n=name: zip_member_file(zf, n, spool)),
                    estimate_seconds=float(r["duration"] or 0) or None,
                    note={"year": int(r["year"]), "csv_duration": float(r["duration"] or 0)}))
        log.info("MAESTRO selection: %s recordings (train/val/test)", [len(v) for v in sources.values()])
        transform = {"test": lambda x: scale_rows_to_input_sdr(x, target, float(p["tau"]), float(p["test_min_peak"]))}
        manifest = write_audio_splits(sources, out_dir, sample_rate=int(p["sample_rate"]),
                                      segment_seconds=float(p["segment_seconds"]),
                                      max_segments_per_file=p["max_segments_per_file"], on_error=p["on_error"],
                                      transforms=transform, progress=p["progress"])
    shutil.rmtree(spool, ignore_errors=True)
    manifest["skipped"] = missing + manifest["skipped"]
    manifest.update({
        "dataset": "maestro", "archive": str(archive), "sha256": p["sha256"],
        "params": dict(p),
        "selection": {k: len(v) for k, v in chosen.items()},
        "test_scaling": {"input_sdr_db": target, "tau": float(p["tau"]),
                         "rule": "each test segment scaled so clipping at tau gives input_sdr_db"},
        "clipped_at": clipped_counts(out_dir, [float(p["tau"])]),
    })
    return manifest
