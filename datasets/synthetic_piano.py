"""Synthetic piano: the embedded, offline stand-in for MAESTRO in Table 3.

Each 1-s segment is a passage of a struck-string model: one to three onsets (the first may have sounded
before the segment starts), each a single note or a chord (octave, fifth, major or minor triad, added
seventh) over the piano's range. A note is the sum of its partials ``f_k = k f0 sqrt(1 + B k^2)`` with
the inharmonicity ``B`` of a real string (larger for short treble strings), amplitudes set by the hammer:
the strike position ``beta`` (about 1/8 of the string) leaves a comb ``|sin(pi k beta)|`` and a louder
strike a brighter tilt. Each partial sounds on two strings detuned by a few cents (beating) and decays in
two stages (fast prompt sound, slow aftersound), higher partials and higher notes faster; a released key
is damped in ~50 ms. A short low-passed hammer thump and a low noise floor complete it. Unlike the
``synthetic_music`` notes (sustained, vibrato, 6 partials), the energy arrives in sharp attacks that
clipping hits first, followed by long, rich decays.

Levels follow MAESTRO's protocol (the paper, Table 3; ``datasets/maestro.py``): training and validation
segments are peak-normalised and scaled log-uniformly in ``[peak_min, peak_max]``; with
``test_input_sdr_db`` set, every test segment is instead scaled so that clipping it at ``tau`` gives
exactly that input SDR (:func:`declipbench.data.levels.scale_to_input_sdr`). ``tau`` must then be the
experiment's ``tau`` (checked when the config is loaded).

Everything derives from ``(seed, split, index)`` (:func:`declipbench.data.seeding.item_rng`).
"""

from __future__ import annotations

import numpy as np

from declipbench import Param
from declipbench.data.audio import SEGMENTS
from declipbench.data.levels import RANDOM_PEAK, scale_to_input_sdr, scale_to_random_peak
from declipbench.data.seeding import item_rng, split_counts
from declipbench.foundation.parameters import check_order

MODALITY = "audio"

PARAMETERS = {
    **SEGMENTS,
    "splits": split_counts(2000, 32, 100),
    **RANDOM_PEAK,  # training / validation levels, as synthetic_music
    "midi_min": Param(28, float, help="E1 .. C7 (the sample rate caps the partials, not the notes)"),
    "midi_max": Param(96, float),
    "onsets_max": Param(3, int, min=1),
    "partials": Param(24, int, min=1),
    "noise_db": Param(-55.0, float),
    "tau": Param(0.1, float, above=0, help="the experiment's clipping level (test scaling)"),
    "test_input_sdr_db": Param(None, float, help="a number: every test segment clipped at tau has this input SDR"),
    "seed": Param(0, int, min=0),
}


def check(p: dict, where: str) -> None:
    check_order(p, where, ("peak_min", "peak_max"), ("midi_min", "midi_max"))

# chord shapes in semitones above the lowest note
CHORDS = ((0,), (0,), (0, 12), (0, 7), (0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 12))


def _note(t: np.ndarray, sr: int, midi: float, velocity: float, release: float, partials: int,
          rng) -> np.ndarray:
    """One struck note at time 0 of ``t`` (seconds, may be negative before the onset)."""
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    register = (midi - 21) / 87                            # 0 at A0, 1 at C8
    b = 10 ** (-4.2 + 1.7 * register + rng.uniform(-0.2, 0.2))   # inharmonicity coefficient
    k = np.arange(1, int(partials) + 1)
    fk = k * f0 * np.sqrt(1 + b * k**2)
    keep = fk < 0.45 * sr
    k, fk = k[keep], fk[keep]
    beta = rng.uniform(1 / 9, 1 / 7)
    tilt = rng.uniform(1.2, 1.8) - 0.6 * velocity          # louder: brighter
    amp = np.abs(np.sin(np.pi * k * beta)) * k ** (-tilt) * rng.uniform(0.7, 1.0, size=k.size)
    slow = 3.0 * 2 ** (-(midi - 40) / 18) / (1 + 0.25 * (k - 1))     # aftersound time constants (s)
    fast = slow / rng.uniform(6, 12)
    mix = rng.uniform(0.2, 0.4)
    detune = 2 ** (rng.uniform(0.5, 2.5) / 1200) - 1
    # only the sounding part is synthesised: from the onset (or the segment start) until the damper has
    # silenced the note; float32 for the per-sample work
    on = (t >= 0) & (t < release + 0.4)
    out = np.zeros(t.size)
    if not on.any():
        return out
    tt = np.asarray(t[on], np.float32)[:, None]
    decay = (1 - mix) * np.exp(-tt / fast.astype(np.float32)) + mix * np.exp(-tt / slow.astype(np.float32))
    phase = rng.uniform(0, 2 * np.pi, size=(2, k.size)).astype(np.float32)
    w = (2 * np.pi * fk).astype(np.float32)
    strings = np.sin(tt * w + phase[0]) + np.sin(tt * (w * np.float32(1 + detune)) + phase[1])
    x = (strings * decay) @ (amp / 2).astype(np.float32)
    ton = t[on]
    attack = np.clip(ton / 0.002, 0, 1)
    damper = np.where(ton > release, np.exp(-(ton - release) / 0.05), 1.0)
    out[on] = velocity * attack * damper * x / (np.sum(amp) + 1e-12)
    return out


def segment(params: dict, split: str, index: int) -> np.ndarray:
    """One segment (float32): training/validation level log-uniform, test level by input SDR."""
    p = params
    sr, n = int(p["sample_rate"]), int(round(p["sample_rate"] * p["segment_seconds"]))
    rng = item_rng(p["seed"], split, index, "piano")
    t = np.arange(n) / sr
    x = np.zeros(n)
    onset = rng.uniform(-0.6, 0.2)
    for _ in range(rng.integers(1, int(p["onsets_max"]) + 1)):
        shape = CHORDS[rng.integers(len(CHORDS))]
        root = rng.uniform(p["midi_min"], p["midi_max"] - shape[-1])
        velocity = rng.uniform(0.3, 1.0)
        for step in shape:
            release = rng.uniform(0.2, 2.0) if rng.uniform() < 0.5 else np.inf
            x += _note(t - onset, sr, round(root) + step, velocity * rng.uniform(0.8, 1.0), release,
                        p["partials"], rng)
        # the hammer thump: a few ms of low-passed noise
        m = int(0.015 * sr)
        i0 = int(round(onset * sr))
        lo, hi = max(i0, 0), min(i0 + m, n)
        if hi > lo:
            from scipy.signal import butter, lfilter  # not at the top: seconds at the workflow's start-up

            b, a = butter(2, 1500 / (sr / 2))
            thump = lfilter(b, a, rng.standard_normal(m)) * np.exp(-np.arange(m) / (0.003 * sr))
            x[lo:hi] += 0.05 * velocity * thump[lo - i0: hi - i0]
        onset += rng.uniform(0.15, 0.6)
    peak = np.max(np.abs(x))
    x += 10 ** (p["noise_db"] / 20) * rng.standard_normal(n) * (peak + 1e-12)
    if split == "test" and p["test_input_sdr_db"] is not None:
        try:
            return scale_to_input_sdr(x, float(p["test_input_sdr_db"]), float(p["tau"]))
        except ValueError as exc:
            raise ValueError(f"synthetic_piano test segment {index}: {exc}") from exc
    return scale_to_random_peak(x, rng, p["peak_min"], p["peak_max"])


def generate(params: dict, split: str, count: int, start: int = 0) -> np.ndarray:
    return np.stack([segment(params, split, start + i) for i in range(count)])
