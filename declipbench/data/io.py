"""File I/O shared by the steps: atomic writes, arrays (``.npy``/``.npz``), JSON, CSV, text."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..foundation.paths import Paths


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0o666 less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename a finished temporary file onto ``path`` with the usual file mode (``mkstemp`` creates 0600
    files, which other users of a shared results folder could not read)."""
    os.chmod(tmp, _default_file_mode())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# the names atomic_path and the segment writers give their temporary files: ".<name>.<8 chars><suffix>"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")


def remove_stale_temporaries(folder, names=None) -> list[Path]:
    """Delete the temporary files a killed step left in ``folder`` (hidden, named as :func:`atomic_path`
    names them; only those of ``names`` when given). A step calls it on start: a job killed with SIGKILL
    cannot clean up after itself, and its temporaries (arrays of hundreds of MB) would stay for ever."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for f in folder.iterdir():
        m = _TEMPORARY.match(f.name)
        if m and f.is_file() and (names is None or m.group("name") in names):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                removed.append(f)
    return removed


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


def save_arrays(path, **arrays) -> None:
    """Save named arrays to an ``.npz`` file atomically (uncompressed: fast reads, memory-mappable members)."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def save_npy(path, arr: np.ndarray) -> None:
    """One array to ``.npy`` atomically (memory-mappable for fast training reads)."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, arr)


def load_npy(path, mmap: bool = True) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt or truncated file
        raise ValueError(f"cannot read array file {path}: {exc}") from exc


def load_arrays(path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt or truncated archive
        raise ValueError(f"cannot read arrays from {path}: {exc}") from exc


def write_csv(path, rows: Iterable[dict], fieldnames: list[str]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fieldnames, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow(r)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def load_split(meas_dir: Path | str, split: str, with_x: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``(y, x)`` of a split of a measured set (``x`` None unless ``with_x``), memory-mapped files as arrays."""
    y = np.asarray(load_npy(Paths.split_array(str(meas_dir), split, "y")))
    x = np.asarray(load_npy(Paths.split_array(str(meas_dir), split, "x"))) if with_x else None
    return y, x


def shown_name(path) -> str:
    """A file name for messages and manifests, also when it is not valid UTF-8: its bytes, undecodable
    ones as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def portable_files(files: list[Path], on_error: str) -> tuple[list[Path], list[dict]]:
    """The files whose names are valid UTF-8 (what manifests, logs and hashing can carry), and the others:
    with ``on_error == "fail"`` the first such name stops the run (a ``ValueError`` naming it); with
    ``"skip"`` each is left out and returned as a manifest record, with the reason."""
    good, skipped = [], []
    for f in files:
        try:
            str(f).encode("utf-8")
        except UnicodeEncodeError:
            reason = "the file name is not valid UTF-8: rename the file"
            if on_error == "fail":
                raise ValueError(f"{shown_name(f)}: {reason}") from None
            skipped.append({"file": shown_name(f), "split": None, "reason": reason})
            continue
        good.append(f)
    return good, skipped


def open_memmap_reserved(tmp: Path, shape: tuple, dtype=np.float32, *, final: Path | None = None) -> np.memmap:
    """``np.lib.format.open_memmap(tmp, "w+")`` with the file's blocks reserved on disk first
    (``posix_fallocate``). A memory-mapped file is sparse: on a full disk the first write to a page without
    a block kills the process with SIGBUS, leaving nothing in its log. Reserving fails instead with an
    ``OSError`` naming the file (``final``, the name it is written for) and the bytes it needs; the caller
    removes its temporary."""
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
    size = int(mm.offset + mm.nbytes)
    try:
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):  # a file system that cannot reserve
            return mm
        raise OSError(exc.errno, f"{final or tmp}: cannot reserve {size / 1e6:.1f} MB on disk "
                                 f"({os.strerror(exc.errno or 0).lower()}); free space under {Path(tmp).parent}") from exc
    return mm
