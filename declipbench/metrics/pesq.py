"""Wide-band PESQ (ITU-T P.862.2) of audio reconstructions."""

from __future__ import annotations

import math

import numpy as np

from ..data.audio import resample
from .base import Metric
from .sdr import _nonfinite

METRICS = [Metric("pesq", "audio", True, "PESQ", "PESQ", "pesq", "pesq_score")]

PESQ_RATE = 16000


def pesq_score(x, x_hat, y=None, sample_rate: int = 22050) -> tuple[float, str]:
    """Wide-band PESQ after polyphase resampling to 16 kHz; the reference is the clean signal. Input
    PESQ refuses (silence, too short) is recorded with the reason, never a crash."""
    bad = _nonfinite(x_hat)
    if bad:
        return math.nan, bad
    from pesq import pesq as _pesq

    ref = resample(np.asarray(x, dtype=np.float64), sample_rate, PESQ_RATE)
    deg = resample(np.asarray(x_hat, dtype=np.float64), sample_rate, PESQ_RATE)
    try:
        return float(_pesq(PESQ_RATE, ref, deg, "wb")), ""
    except Exception as exc:  # pesq raises on silent or too-short input: record why, never crash a table
        return math.nan, f"pesq failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:200]
