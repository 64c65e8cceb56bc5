"""Level laws of the datasets: random peak levels (embedded generators) and a fixed input SDR at a given
threshold (Table 3's test segments: MAESTRO and its offline stand-in)."""

from __future__ import annotations

import numpy as np

from ..physics.thresholds import tau_for_input_sdr
from ..foundation.parameters import Param

#: The level law of the embedded generators (:func:`scale_to_random_peak`); a module's ``check`` orders them.
RANDOM_PEAK = {
    "peak_min": Param(0.15, float, above=0, help="peak amplitudes log-uniform in [peak_min, peak_max]"),
    "peak_max": Param(0.6, float, above=0),
}


def scale_to_random_peak(x: np.ndarray, rng: np.random.Generator, peak_min: float, peak_max: float) -> np.ndarray:
    """``x`` rescaled to a peak amplitude drawn log-uniformly in ``[peak_min, peak_max]`` (float32): the
    level law of the embedded generators, which makes a set invariant to amplitude over that range. A
    silent ``x`` is returned as is, without drawing."""
    peak = np.max(np.abs(x))
    if peak == 0:
        return np.asarray(x).astype(np.float32)
    amp = np.exp(rng.uniform(np.log(peak_min), np.log(peak_max)))
    return (x * (amp / peak)).astype(np.float32)


def scale_to_input_sdr(x: np.ndarray, target_db: float, tau: float) -> np.ndarray:
    """``x`` rescaled so that clipping it at ``tau`` gives an input SDR of ``target_db`` (float32).

    Table 3's test protocol (the paper): "clipped to a fixed input SDR, then normalised so tau = 0.1". The
    SDR is scale-invariant, so clipping ``x * tau / t`` at ``tau`` equals clipping ``x`` at ``t`` up to the
    same factor, with ``t`` from :func:`declipbench.physics.tau_for_input_sdr`. Raises ``ValueError`` when
    the target cannot be reached (silent signal, or a target above what clipping at 0.99 of the peak gives).
    """
    t = tau_for_input_sdr(x, target_db)
    return (np.asarray(x, dtype=np.float64) * (tau / t)).astype(np.float32)
