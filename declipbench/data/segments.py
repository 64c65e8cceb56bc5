"""Audio files to fixed-length segments on disk, with bounded memory (the real-audio datasets).

* :func:`stream_segments` reads an audio file block by block, mixes it to mono, resamples each block
  (polyphase, exact rational ratio, with enough context on both sides that the result equals resampling
  the whole file) and yields whole segments. A 20-minute 48 kHz recording never sits in memory whole.
* :class:`SegmentWriter` fills a preallocated memory-mapped ``.npy`` (``np.lib.format.open_memmap`` on
  a temporary path) through small windows, shrinks it to the rows actually written, and renames it into
  place: peak memory is one window, whatever the size of the dataset.
* :func:`clipped_counts` counts, per split, the segments that contain a clipped sample at a given
  threshold: the number of training measurements the ``measure`` step will keep.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from . import io
from .audio import truncation

log = logging.getLogger("declipbench.segments")


def _whole(value: float, what: str) -> int:
    n = int(round(value))
    if abs(n - value) > 1e-9 or n <= 0:
        raise ValueError(f"{what} = {value} is not a positive whole number of samples")
    return n


def segment_lengths(sr_in: int, sr_out: int, segment_seconds: float) -> tuple[int, int]:
    """Samples per segment at the input and output rates (both must be whole numbers)."""
    return (_whole(segment_seconds * sr_in, f"segment_seconds x input rate {sr_in}"),
            _whole(segment_seconds * sr_out, f"segment_seconds x output rate {sr_out}"))


def count_segments(frames: int, sr_in: int, sr_out: int, segment_seconds: float,
                   max_segments: int | None = None) -> int:
    seg_in, _ = segment_lengths(sr_in, sr_out, segment_seconds)
    n = int(frames) // seg_in
    return min(n, int(max_segments)) if max_segments is not None else n


def stream_segments(path, sr_out: int, segment_seconds: float = 1.0, max_segments: int | None = None,
                    block_segments: int = 30) -> Iterator[np.ndarray]:
    """Yield float32 arrays ``(k, segment_samples)`` of consecutive whole segments of an audio file.

    Mono (mean of the channels), resampled to ``sr_out``. A trailing partial segment is dropped.
    Raises ``ValueError`` naming the file when it cannot be decoded (also mid-file) or holds NaN/Inf.
    """
    import soundfile as sf
    from scipy.signal import resample_poly

    try:
        f = sf.SoundFile(str(path))
    except Exception as exc:
        raise ValueError(f"cannot decode audio file {path}: {exc}") from exc
    short = truncation(path)
    if short:
        f.close()
        raise ValueError(short)
    with f:
        sr_in, frames = int(f.samplerate), int(f.frames)
        seg_in, seg_out = segment_lengths(sr_in, sr_out, segment_seconds)
        n_seg = count_segments(frames, sr_in, sr_out, segment_seconds, max_segments)
        if n_seg == 0:
            return
        g = math.gcd(sr_in, int(sr_out))
        up, down = int(sr_out) // g, sr_in // g
        resampling = up != 1 or down != 1
        aligned = seg_in % down == 0
        if resampling and not aligned:
            raise ValueError(f"{path}: segment of {seg_in} samples at {sr_in} Hz does not fall on the "
                             f"resampling grid {sr_in}->{sr_out}; choose another segment_seconds")
        # context on each side: more than the half-length of resample_poly's default filter, on the grid
        half = math.ceil(10 * max(up, down) / up) + 1 if resampling else 0
        pad_in = down * math.ceil(half / down) if resampling else 0
        pad_out = pad_in * up // down
        for s0 in range(0, n_seg, block_segments):
            k = min(block_segments, n_seg - s0)
            a, b = s0 * seg_in - pad_in, (s0 + k) * seg_in + pad_in
            buf = np.zeros(b - a, np.float32)
            lo, hi = max(a, 0), min(b, frames)
            try:
                f.seek(lo)
                data = f.read(hi - lo, dtype="float32", always_2d=True)
            except Exception as exc:
                raise ValueError(f"cannot decode audio file {path} near sample {lo}: {exc}") from exc
            if len(data) < min(hi, (s0 + k) * seg_in) - lo:
                raise ValueError(f"audio file {path} is truncated: {frames} frames announced, "
                                 f"only {lo + len(data)} readable")
            mono = data.mean(axis=1)
            if not np.all(np.isfinite(mono)):
                raise ValueError(f"audio file {path} contains NaN or Inf samples")
            buf[lo - a: lo - a + len(mono)] = mono
            y = resample_poly(buf, up, down) if resampling else buf
            seg = np.asarray(y[pad_out: pad_out + k * seg_out], dtype=np.float32)
            yield seg.reshape(k, seg_out)


class SegmentWriter:
    """Write rows of ``width`` float32 samples into ``path`` (a ``.npy``) without holding them in memory.

    The file is preallocated for ``capacity`` rows with ``np.lib.format.open_memmap`` under a temporary
    name beside ``path`` (a sparse file: unwritten rows take no disk); :meth:`append` maps only the rows
    it writes (the file grows past ``capacity`` if needed); :meth:`close` rewrites the header with the
    rows written, truncates, and renames onto ``path``. Used as a context manager, an exception removes
    the temporary file and leaves ``path`` untouched.
    """

    def __init__(self, path, capacity: int, width: int, dtype=np.float32):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.dtype = int(width), np.dtype(dtype)
        self.rows = 0
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".npy", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        try:
            mm = io.open_memmap_reserved(self.tmp, (max(int(capacity), 1), self.width), self.dtype, final=self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        self.offset = int(mm.offset)
        del mm

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=self.dtype).reshape(-1, self.width)
        n = len(rows)
        if n == 0:
            return
        window = np.memmap(self.tmp, dtype=self.dtype, mode="r+", shape=(n, self.width),
                           offset=self.offset + self.rows * self.width * self.dtype.itemsize)
        window[:] = rows
        window.flush()
        del window
        self.rows += n

    def rollback(self, rows: int) -> None:
        """Forget everything written after the first ``rows`` rows (a file that failed half-way)."""
        self.rows = min(self.rows, int(rows))

    def finish(self) -> int:
        """Write the header with the final row count and cut the file there (still under its temporary name)."""
        header = _npy_header(self.dtype, (self.rows, self.width), self.offset)
        with open(self.tmp, "r+b") as fh:
            fh.write(header)
            fh.truncate(self.offset + self.rows * self.width * self.dtype.itemsize)
        return self.rows

    def commit(self) -> None:
        io.publish(self.tmp, self.path)

    def close(self) -> int:
        """Finish the file and rename it onto ``path``."""
        n = self.finish()
        self.commit()
        return n

    def abort(self) -> None:
        if self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False


def _npy_header(dtype: np.dtype, shape: tuple, length: int) -> bytes:
    """A version-1.0 ``.npy`` header of exactly ``length`` bytes (the one open_memmap wrote had that size)."""
    d = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    body_len = length - 10  # magic (6) + version (2) + header length (2)
    if len(d) + 1 > body_len or body_len > 65535:
        raise ValueError(f"cannot fit the .npy header for shape {shape} in {length} bytes")
    body = (d + " " * (body_len - len(d) - 1) + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + body


def _read_header(fh):
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


def iter_npy_rows(path, chunk: int = 256) -> Iterator[np.ndarray]:
    """Blocks of at most ``chunk`` rows of a 2-D ``.npy``, read with plain file reads.

    Unlike slicing a memory map, nothing stays mapped: resident memory is one block, also for a
    30 GB file.
    """
    with open(path, "rb") as fh:
        shape, fortran, dtype = _read_header(fh)
        if len(shape) != 2 or fortran:
            raise ValueError(f"{path}: expected a C-ordered items x samples array, got shape {shape}")
        rows, width = shape
        for i in range(0, rows, chunk):
            n = min(chunk, rows - i)
            block = np.fromfile(fh, dtype=dtype, count=n * width)
            if block.size != n * width:
                raise ValueError(f"{path}: truncated at row {i} of {rows}")
            yield block.reshape(n, width)


def npy_shape(path) -> tuple[tuple, np.dtype]:
    with open(path, "rb") as fh:
        shape, _, dtype = _read_header(fh)
    return shape, dtype


def clipped_counts(out_dir: Path, taus, splits=("train", "val", "test"), chunk: int = 256) -> dict:
    """``{tau: {split: segments with at least one |x| >= tau}}``, read in blocks from ``{split}.npy``."""
    result = {}
    for tau in taus or []:
        counts = {}
        for s in splits:
            counts[s] = sum(int(np.count_nonzero(np.any(np.abs(b) >= float(tau), axis=1)))
                            for b in iter_npy_rows(Path(out_dir) / f"{s}.npy", chunk))
        result[str(float(tau))] = counts
    return result


class Source:
    """One recording to segment: ``name`` for the manifest, ``open()`` a context manager yielding a path."""

    def __init__(self, name: str, open_path, estimate_seconds: float | None = None, note: dict | None = None):
        self.name, self.open, self.estimate_seconds, self.note = name, open_path, estimate_seconds, note or {}


def file_source(path: Path, name: str | None = None) -> Source:
    import contextlib

    return Source(name or str(path), lambda: contextlib.nullcontext(Path(path)))


def write_audio_splits(sources: dict[str, list[Source]], out_dir: Path, *, sample_rate: int,
                       segment_seconds: float = 1.0, max_segments_per_file: int | None = None,
                       on_error: str = "skip", transforms: dict | None = None, progress: bool = True) -> dict:
    """Segment every source of every split into ``out_dir/{split}.npy``; return the manifest part.

    A source that cannot be read (also half-way) is skipped and listed with the reason when
    ``on_error == "skip"``; with ``"fail"`` the error (naming the file) stops the run. ``transforms``
    maps a split to ``f(rows) -> (rows_kept, {reason: count})`` applied to each block of segments (e.g.
    MAESTRO's test scaling to a fixed input SDR); what it drops is counted in the manifest.
    """
    from tqdm import tqdm

    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error = {on_error!r}: must be 'fail' or 'skip'")
    sr = int(sample_rate)
    width = _whole(segment_seconds * sr, f"segment_seconds x sample_rate {sr}")
    manifest: dict = {"splits": {}, "skipped": []}
    writers: list[SegmentWriter] = []
    try:
        for split, items in sources.items():
            est = sum(int(s.estimate_seconds // segment_seconds) + 1 if s.estimate_seconds else 30 for s in items)
            if max_segments_per_file is not None:
                est = min(est, len(items) * int(max_segments_per_file))
            used, dropped = [], {}
            writer = SegmentWriter(Path(out_dir) / f"{split}.npy", est, width)
            writers.append(writer)
            for src in tqdm(items, desc=f"{split} segments", unit="file", disable=not progress, leave=False):
                mark = writer.rows
                kept = 0
                try:
                    with src.open() as path:
                        for rows in stream_segments(path, sr, segment_seconds, max_segments_per_file):
                            if transforms and split in transforms:
                                rows, why = transforms[split](rows)
                                for k, v in why.items():
                                    dropped[k] = dropped.get(k, 0) + int(v)
                            writer.append(rows)
                            kept += len(rows)
                except Exception as exc:  # decoding, truncated or corrupt archive member
                    writer.rollback(mark)
                    reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                    if on_error == "fail":
                        raise ValueError(f"{src.name}: {reason}") from exc
                    log.warning("skipping %s: %s", src.name, reason)
                    manifest["skipped"].append({"file": src.name, "split": split, "reason": reason})
                    continue
                used.append({"file": src.name, "segments": kept, **src.note})
            n = writer.finish()
            manifest["splits"][split] = {"items": n, "files": used, "seconds": n * segment_seconds,
                                         "samples": width, **({"dropped_segments": dropped} if dropped else {})}
            log.info("%s: %d segments from %d files", split, n, len(used))
        for writer in writers:  # all splits or none
            writer.commit()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    if manifest["skipped"]:
        log.warning("%d file(s) skipped; listed in manifest.json", len(manifest["skipped"]))
    return manifest
