"""Audio files: reading, resampling, and finding the audio files of a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..foundation.parameters import Param

EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au")

#: The parameters of every audio dataset: what one item is.
SEGMENTS = {
    "sample_rate": Param(22050, int, min=1, help="sample rate of the items (Hz); recordings are resampled to it"),
    "segment_seconds": Param(1.0, float, above=0, help="length of an item"),
}


def file_split_parameters(test: float, val: float) -> dict:
    """The parameters of a split by file (:func:`declipbench.data.seeding.split_by_hash`), with these
    default fractions and at least one test and one validation file."""
    return {"file_fractions": {"test": Param(test, float, min=0, max=1), "val": Param(val, float, min=0, max=1)},
            "min_files": {"test": Param(1, int, min=0), "val": Param(1, int, min=0)}}


def list_files(root: Path) -> list[Path]:
    """The audio files under ``root`` (recursively, by extension), sorted."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def truncation(path: Path) -> str | None:
    """Why ``path`` is cut short, or None. A truncated file often still decodes in part (libsndfile trims a
    WAV's frame count to the bytes present), so the container itself is checked: a RIFF/WAVE ``data``
    chunk announcing more bytes than the file holds; an Ogg stream without its end-of-stream page."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                name, length = chunk[:4], int.from_bytes(chunk[4:], "little")
                if name == b"data":
                    held = size - fh.tell()
                    if length not in (0, 0xFFFFFFFF) and held < length:  # 0 / -1: length left open by a streamer
                        return (f"audio file {path} is truncated: its data chunk announces {length} bytes, the "
                                f"file holds {held}")
                    return None
                fh.seek(length + (length & 1), 1)
        if head[:4] == b"OggS":  # the last page: its header (27 bytes, segment table) and body, flagged EOS
            fh.seek(max(0, size - 65536 - 282))
            tail = fh.read()
            last = tail.rfind(b"OggS\x00")  # capture pattern and stream structure version 0
            body = last + 27 + tail[last + 26] if 0 <= last and last + 27 <= len(tail) else len(tail) + 1
            whole = body <= len(tail) and body + sum(tail[last + 27 : body]) == len(tail)
            if not (whole and tail[last + 5] & 0x04):
                return f"audio file {path} is truncated: its Ogg stream does not end with a whole end-of-stream page"
    return None


def probe(path: Path) -> str | None:
    """None if the file's header decodes and the file is whole, else the reason (naming the file)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:
        return f"cannot decode audio file {path}: {exc}"
    return truncation(path) or (None if info.frames > 0 else f"audio file {path} has no samples")


#: the most samples (frames x channels) one audio file may decode to: a declared budget, 2**30 samples (4 GiB as
#: float32; 3 h 23 min of 44.1 kHz stereo, far above any recording of the suite's data sets)
MAX_DECODED_SAMPLES = 2**30


class AudioBudgetError(ValueError):
    """An audio file declares more samples than :data:`MAX_DECODED_SAMPLES`."""


def read_audio(path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32; resample to ``sample_rate`` if given.

    Raises ``ValueError`` naming the file when it cannot be decoded or is cut short (:func:`truncation`;
    fewer frames decoded than announced).
    """
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            frames, sr = f.frames, f.samplerate
            # a small compressed file (FLAC of silence) may declare, and decode to, gigabytes: the output is
            # allocated from the header's frame count, so the header is checked against the budget first
            if frames * f.channels > MAX_DECODED_SAMPLES:
                raise AudioBudgetError(f"audio file {path} declares {frames:,} frames x {f.channels} channels, more "
                                       f"than the reader's budget of {MAX_DECODED_SAMPLES:,} samples; refused")
            data = f.read(dtype="float32", always_2d=True)
    except AudioBudgetError:
        raise
    except Exception as exc:
        raise ValueError(f"cannot decode audio file {path}: {exc}") from exc
    if data.size == 0:
        raise ValueError(f"audio file {path} has no samples")
    short = truncation(path) or (f"audio file {path} is truncated: {frames} frames announced, only {len(data)} "
                                 f"decoded" if len(data) < frames else None)
    if short:
        raise ValueError(short)
    x = data.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"audio file {path} contains NaN or Inf samples")
    if sample_rate is not None and sr != sample_rate:
        x = resample(x, sr, sample_rate)
        sr = sample_rate
    return x.astype(np.float32), sr


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling with the exact rational ratio (e.g. 22050 -> 16000 is 320/441)."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(x, int(sr_out) // g, int(sr_in) // g, axis=-1)
