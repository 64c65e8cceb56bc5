"""Per-item metrics (PAPER.md section 7).

Every function scores one item and returns ``(value, note)``: ``value`` is a float or ``nan`` with
``note`` saying why the item could not be scored (PESQ refuses silence or very short input; a
reconstruction with NaN/Inf is flagged, never averaged). Tables count and report such items.
"""

from __future__ import annotations

import math

import numpy as np

from .io import resample
from .physics import sdr_db

PESQ_RATE = 16000


def _finite(x_hat) -> str | None:
    return None if np.all(np.isfinite(x_hat)) else "nonfinite reconstruction"


def sdr(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    return sdr_db(x, x_hat), ""


def delta_sdr(x, x_hat, y, sample_rate=None) -> tuple[float, str]:
    """``SDR(x_hat) - SDR(y)``: the improvement over the clipped input."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    return sdr_db(x, x_hat) - sdr_db(x, y), ""


def pesq_score(x, x_hat, y=None, sample_rate: int = 22050) -> tuple[float, str]:
    """Wide-band PESQ (ITU-T P.862.2) after resampling to 16 kHz; reference is the clean signal."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    from pesq import pesq as _pesq

    ref = resample(np.asarray(x, dtype=np.float64), sample_rate, PESQ_RATE)
    deg = resample(np.asarray(x_hat, dtype=np.float64), sample_rate, PESQ_RATE)
    try:
        return float(_pesq(PESQ_RATE, ref, deg, "wb")), ""
    except Exception as exc:  # pesq raises on silent or too-short input: record why, never crash a table
        return math.nan, f"pesq failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:200]


METRICS = {"sdr": sdr, "delta_sdr": delta_sdr, "pesq": pesq_score}
# higher is better for every audio metric here
HIGHER_IS_BETTER = {"sdr": True, "delta_sdr": True, "pesq": True}
UNITS = {"sdr": "SDR (dB)", "delta_sdr": "ΔSDR (dB)", "pesq": "PESQ"}
