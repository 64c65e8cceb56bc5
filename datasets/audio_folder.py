"""Any folder of audio files (WAV, FLAC, OGG, ...), cut into fixed-length segments.

Splits are made **by file** (no segment of a test file is ever trained on): files are ordered by a hash
of their relative path and seed, then assigned to test / val / train by ``file_fractions``. Each file is
resampled to ``sample_rate`` (polyphase, exact ratio) and cut into consecutive non-overlapping segments
of ``segment_seconds`` (at most ``max_segments_per_file``; a trailing partial segment is dropped).

``include`` keeps only the files whose path relative to ``path`` matches one of its glob patterns
(``fnmatch``, case-sensitive, ``/`` as separator; default: every audio file), for a folder that holds more
than one kind of recording; a pattern that matches no audio file is an error naming it.

Unreadable or corrupt files: ``on_error: fail`` (default) stops with the file's name; ``on_error: skip``
skips it and lists it, with the reason, in ``manifest.json``. Never silent.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from declipbench import Param
from declipbench.data.audio import EXTENSIONS, SEGMENTS, file_split_parameters, list_files
from declipbench.data.io import portable_files

MODALITY = "audio"
PARAMETERS = {
    "path": Param(None, str, help="the folder of audio files (required)"),
    "include": Param(None, list, items=str,
                     help="glob patterns (relative to path) of the files to use; default: every audio file"),
    **SEGMENTS,
    "max_segments_per_file": Param(None, int, min=1),
    **file_split_parameters(test=0.1, val=0.1),
    "on_error": Param("fail", choices=("fail", "skip"), help="an unreadable file stops the run, or is skipped and listed"),
    "seed": Param(0, int, min=0),
}
log = logging.getLogger("declipbench.datasets.audio_folder")


def segment_file(path: Path, sample_rate: int, seg_len: int, max_segments: int | None) -> np.ndarray:
    from declipbench.data.audio import read_audio

    x, _ = read_audio(path, sample_rate)
    n = len(x) // seg_len
    if max_segments is not None:
        n = min(n, int(max_segments))
    return x[: n * seg_len].reshape(n, seg_len)


def included(files: list[Path], root: Path, patterns: list[str]) -> list[Path]:
    """The files whose path relative to ``root`` matches one of ``patterns``; every pattern must match."""
    from fnmatch import fnmatchcase

    rel = {f: f.relative_to(root).as_posix() for f in files}
    for pattern in patterns:
        if not any(fnmatchcase(r, pattern) for r in rel.values()):
            raise ValueError(f"datasets.<name>.params.include: {pattern!r} matches no audio file under {root}")
    return [f for f in files if any(fnmatchcase(rel[f], pattern) for pattern in patterns)]


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    from declipbench.data.io import save_npy
    from declipbench.data.seeding import split_by_hash

    p = params
    if not p["path"]:
        raise ValueError("datasets.<name>.params.path: the folder of audio files is not set")
    root = Path(p["path"]).expanduser()
    if not root.is_dir():
        raise ValueError(f"datasets.<name>.params.path: {root} is not a directory")
    files, unportable = portable_files(list_files(root), p["on_error"])
    if p["include"] is not None:
        files = included(files, root, p["include"])
    if not files:
        raise ValueError(f"no audio files ({', '.join(EXTENSIONS)}) under {root}")
    files_by_split = split_by_hash(files, root, p["file_fractions"], p["min_files"], p["seed"])
    sr, seg_len = int(p["sample_rate"]), int(round(p["sample_rate"] * p["segment_seconds"]))
    manifest = {"params": {k: (str(v) if isinstance(v, Path) else v) for k, v in p.items()},
                "splits": {}, "skipped": unportable}
    for split in ("train", "val", "test"):
        segs, used = [], []
        for f in files_by_split.get(split, []):
            try:
                s = segment_file(f, sr, seg_len, p["max_segments_per_file"])
            except ValueError as exc:
                if p["on_error"] == "fail":
                    raise
                log.warning("skipping %s: %s", f, exc)
                manifest["skipped"].append({"file": str(f), "split": split, "reason": str(exc)})
                continue
            segs.append(s)
            used.append({"file": str(f), "segments": int(len(s))})
        x = np.concatenate(segs) if segs else np.zeros((0, seg_len), np.float32)
        save_npy(Path(out_dir) / f"{split}.npy", x.astype(np.float32))
        manifest["splits"][split] = {"items": int(len(x)), "files": used, "seconds": float(x.size / sr)}
        log.info("%s: %d segments from %d files", split, len(x), len(used))
    if manifest["skipped"]:
        log.warning("%d file(s) skipped; listed in manifest.json", len(manifest["skipped"]))
    return manifest
