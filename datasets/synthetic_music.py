"""Synthetic music: the embedded, offline default dataset.

Each 1-s segment is a small polyphonic excerpt: notes with harmonic partials (slightly inharmonic,
spectral tilt), attack/decay envelopes, random onsets, and a little noise. Each segment is peak-normalised
and then scaled by an amplitude drawn log-uniformly in ``[peak_min, peak_max]``, so the set is invariant to
amplitude scaling over that range (the assumption behind the equivariance loss).

Everything is derived from ``(seed, split, index)``, so a segment does not depend on how many others are
generated or in what order.
"""

from __future__ import annotations

import zlib

import numpy as np

from declipbench import Param
from declipbench.data.audio import SEGMENTS
from declipbench.data.levels import RANDOM_PEAK, scale_to_random_peak
from declipbench.data.seeding import split_counts
from declipbench.foundation.parameters import check_order

MODALITY = "audio"

PARAMETERS = {
    **SEGMENTS,
    "splits": split_counts(2000, 32, 100),
    # peak amplitudes 1.5-6 tau at tau = 0.1: moderate to heavy clipping, no barely-clipped segments whose
    # 40-dB input SDR would dominate a mean SDR (the sweep in BENCHMARKS.md also tried 0.1-1.0)
    **RANDOM_PEAK,
    "notes_min": Param(1, int, min=1, help="notes per segment"),
    "notes_max": Param(4, int, min=1),
    "partials": Param(6, int, min=1),
    "midi_min": Param(36, float, help="pitch range (MIDI note numbers)"),
    "midi_max": Param(72, float),
    "noise_db": Param(-45.0, float, help="noise floor relative to the peak"),
    "seed": Param(0, int, min=0),
}


def check(p: dict, where: str) -> None:
    check_order(p, where, ("peak_min", "peak_max"), ("notes_min", "notes_max"), ("midi_min", "midi_max"))

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3}


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    code = _SPLIT_CODES.get(split, zlib.crc32(split.encode()) & 0xFFFF)
    return np.random.default_rng([int(seed), code, int(index)])


def segment(params: dict, split: str, index: int) -> np.ndarray:
    """One segment (float32, peak amplitude drawn log-uniformly in [peak_min, peak_max])."""
    p = params
    sr, n = int(p["sample_rate"]), int(round(p["sample_rate"] * p["segment_seconds"]))
    rng = _rng(p["seed"], split, index)
    t = np.arange(n) / sr
    x = np.zeros(n)
    n_notes = rng.integers(p["notes_min"], p["notes_max"] + 1)
    for _ in range(n_notes):
        f0 = 440.0 * 2 ** ((rng.uniform(p["midi_min"], p["midi_max"]) - 69) / 12)
        onset = rng.uniform(-0.5, 0.8)  # a note may have started before the segment
        attack = rng.uniform(0.002, 0.04)
        decay = rng.uniform(0.15, 1.5)
        tt = t - onset
        env = np.where(tt < 0, 0.0, np.minimum(tt / attack, 1.0) * np.exp(-np.maximum(tt - attack, 0) / decay))
        tilt = rng.uniform(0.8, 2.0)
        inharm = rng.uniform(0, 4e-4)
        k = np.arange(1, p["partials"] + 1)
        fk = f0 * k * np.sqrt(1 + inharm * k**2)
        keep = fk < 0.45 * sr
        k, fk = k[keep], fk[keep]
        amp = k ** (-tilt) * rng.uniform(0.5, 1.0, size=k.size)
        # higher partials decay faster
        phase = rng.uniform(0, 2 * np.pi, size=k.size)
        pdecay = np.exp(-np.outer(np.maximum(tt, 0), (k - 1) * rng.uniform(0.5, 3.0)))
        partials = np.sin(2 * np.pi * np.outer(tt, fk) + phase) * pdecay
        vib = 1.0 + 0.1 * rng.uniform() * np.sin(2 * np.pi * rng.uniform(3, 6) * t)
        x += rng.uniform(0.4, 1.0) * env * vib * (partials @ amp)
    x += 10 ** (p["noise_db"] / 20) * rng.standard_normal(n) * (np.max(np.abs(x)) + 1e-12)
    return scale_to_random_peak(x, rng, p["peak_min"], p["peak_max"])


def generate(params: dict, split: str, count: int, start: int = 0) -> np.ndarray:
    return np.stack([segment(params, split, start + i) for i in range(count)])
