"""Synthetic speech: the embedded stand-in for Table 2's speech test set (the music -> speech shift).

Each 1-s segment is a short utterance of a source-filter voice: a speaker (base pitch and vocal-tract
length) says syllables separated by pauses. A syllable is an optional unvoiced consonant (a fricative
noise burst band-passed in 2-7 kHz, or a short plosive burst) followed by a voiced vowel: a glottal pulse
train (pitch contour with declination, a pitch accent and jitter, spectral tilt, a little aspiration)
through a cascade of four formant resonators, gliding between two vowels. Unlike the synthetic music
(sustained harmonic notes), energy comes in 100-300 ms bursts with silences, broadband noise and a fast
moving pitch.

Like ``synthetic_music``, each segment is peak-normalised then scaled by an amplitude drawn
log-uniformly in ``[peak_min, peak_max]``, and everything derives from ``(seed, split, index)``.
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
    **RANDOM_PEAK,
    "f0_min": Param(85.0, float, above=0, help="base pitch of the speaker, log-uniform (Hz)"),
    "f0_max": Param(255.0, float, above=0),
    "syllable_min": Param(0.08, float, above=0, help="vowel duration (s)"),
    "syllable_max": Param(0.30, float, above=0),
    "pause_probability": Param(0.25, float, min=0, max=1),
    "consonant_probability": Param(0.6, float, min=0, max=1),
    "noise_db": Param(-50.0, float, help="noise floor relative to the peak"),
    "seed": Param(0, int, min=0),
}


def check(p: dict, where: str) -> None:
    check_order(p, where, ("peak_min", "peak_max"), ("f0_min", "f0_max"), ("syllable_min", "syllable_max"))

# average formants F1-F3 of adult speakers (Hz) and a fixed F4; bandwidths grow with frequency
VOWELS = {
    "i": (270, 2290, 3010), "e": (530, 1840, 2480), "a": (730, 1090, 2440),
    "o": (570, 840, 2410), "u": (300, 870, 2240), "schwa": (500, 1500, 2500),
}
BANDWIDTHS = (70.0, 100.0, 140.0, 200.0)
F4 = 3500.0
_SPLIT_CODES = {"train": 11, "val": 12, "test": 13}


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    code = _SPLIT_CODES.get(split, zlib.crc32(split.encode()) & 0xFFFF)
    return np.random.default_rng([int(seed), 7919, code, int(index)])


def _resonator(freq: float, bw: float, sr: int):
    """Two-pole resonator with unit gain at DC-normalised peak (Klatt-style)."""
    r = np.exp(-np.pi * bw / sr)
    theta = 2 * np.pi * freq / sr
    a = [1.0, -2 * r * np.cos(theta), r * r]
    b = [1.0 - 2 * r * np.cos(theta) + r * r]
    return b, a


def _vocal_tract(excitation: np.ndarray, formants, scale: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter  # here, not at the top: scipy.signal costs seconds at the workflow's start-up

    y = excitation
    for f, bw in zip((*formants, F4), BANDWIDTHS):
        f = min(f * scale, 0.45 * sr)
        b, a = _resonator(f, bw, sr)
        y = lfilter(b, a, y)
    return y


def _envelope(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    na, nr = max(1, min(n // 2, int(attack * sr))), max(1, min(n // 2, int(release * sr)))
    env[:na] = 0.5 - 0.5 * np.cos(np.pi * np.arange(na) / na)
    env[n - nr:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(nr) / nr)
    return env


def _voiced(rng, n: int, sr: int, f0: np.ndarray, formants_a, formants_b, scale: float) -> np.ndarray:
    from scipy.signal import lfilter

    jitter = 1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
    phase = np.cumsum(f0 * jitter / sr)
    pulses = np.diff(np.floor(phase), prepend=np.floor(phase[0])) > 0
    exc = pulses.astype(float)
    exc = lfilter([1.0], [1.0, -0.97], exc)           # glottal spectral tilt (about -6 dB/oct)
    exc = np.diff(exc, prepend=0.0)                   # lip radiation
    exc += 0.02 * rng.standard_normal(n)              # aspiration
    ya = _vocal_tract(exc, formants_a, scale, sr)
    yb = _vocal_tract(exc, formants_b, scale, sr)
    glide = np.clip((np.arange(n) / n - rng.uniform(0.2, 0.6)) / 0.3, 0, 1)
    return (1 - glide) * ya + glide * yb


def _fricative(rng, n: int, sr: int) -> np.ndarray:
    from scipy.signal import butter, lfilter

    lo = rng.uniform(2000, 4500)
    hi = min(lo + rng.uniform(1500, 3000), 0.45 * sr)
    b, a = butter(2, [lo / (sr / 2), hi / (sr / 2)], btype="band")
    return lfilter(b, a, rng.standard_normal(n))


def segment(params: dict, split: str, index: int) -> np.ndarray:
    """One segment (float32, peak amplitude drawn log-uniformly in [peak_min, peak_max])."""
    p = params
    sr, n = int(p["sample_rate"]), int(round(p["sample_rate"] * p["segment_seconds"]))
    rng = _rng(p["seed"], split, index)
    base_f0 = np.exp(rng.uniform(np.log(p["f0_min"]), np.log(p["f0_max"])))
    scale = rng.uniform(0.85, 1.2) * (1.0 if base_f0 < 160 else 1.12)  # shorter vocal tracts for higher voices
    x = np.zeros(n)
    t = -int(rng.uniform(0, 0.15) * sr)  # the utterance may have started before the segment
    names = list(VOWELS)
    voiced_any = False
    while t < n:
        if rng.uniform() < p["pause_probability"] and voiced_any:
            t += int(rng.uniform(0.05, 0.25) * sr)
            continue
        if rng.uniform() < p["consonant_probability"]:
            if rng.uniform() < 0.6:
                m = int(rng.uniform(0.04, 0.12) * sr)
                burst = _fricative(rng, m, sr) * _envelope(m, sr, 0.015, 0.015) * rng.uniform(0.05, 0.25)
            else:  # plosive: closure, then a short broadband burst
                t += int(rng.uniform(0.02, 0.06) * sr)
                m = int(rng.uniform(0.008, 0.02) * sr)
                burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.004 * sr)) * rng.uniform(0.2, 0.5)
            lo, hi = max(t, 0), min(t + m, n)
            if hi > lo:
                x[lo:hi] += burst[lo - t: hi - t]
            t += m
        m = int(rng.uniform(p["syllable_min"], p["syllable_max"]) * sr)
        tt = np.arange(m) / sr
        decl = 1 - 0.15 * (t + np.arange(m)) / sr          # declination over the utterance
        accent = 1 + rng.uniform(-0.15, 0.25) * np.sin(np.pi * tt / tt[-1])
        f0 = base_f0 * decl * accent
        va, vb = VOWELS[names[rng.integers(len(names))]], VOWELS[names[rng.integers(len(names))]]
        v = _voiced(rng, m, sr, f0, va, vb, scale) * _envelope(m, sr, rng.uniform(0.01, 0.03), rng.uniform(0.02, 0.06))
        v *= rng.uniform(0.5, 1.0) / (np.max(np.abs(v)) + 1e-12)
        lo, hi = max(t, 0), min(t + m, n)
        if hi > lo:
            x[lo:hi] += v[lo - t: hi - t]
            voiced_any = True
        t += m
    peak = np.max(np.abs(x))
    x += 10 ** (p["noise_db"] / 20) * rng.standard_normal(n) * (peak + 1e-12)
    return scale_to_random_peak(x, rng, p["peak_min"], p["peak_max"])


def generate(params: dict, split: str, count: int, start: int = 0) -> np.ndarray:
    return np.stack([segment(params, split, start + i) for i in range(count)])
