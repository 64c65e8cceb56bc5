"""SDR (eq. 15), the one place it is computed, and the per-item scores SDR and Delta-SDR."""

from __future__ import annotations

import math

import numpy as np


def _db(num: float, err: float) -> float:
    if num == 0:
        return math.nan  # a silent reference: no SDR
    return math.inf if err == 0 else 10.0 * math.log10(num / err)


def sdr_db(x, x_hat) -> float:
    """SDR (eq. 15) in dB of one signal: ``10 log10(||x||^2 / ||x - x_hat||^2)``, in float64.

    ``+inf`` when ``x_hat`` equals ``x`` exactly (Identity on an item without clipping); ``nan`` when ``x``
    is silent (the ratio is undefined). The table scores below record both as missing, with the reason.
    """
    x = np.asarray(x, dtype=np.float64)
    err = np.sum((x - np.asarray(x_hat, dtype=np.float64)) ** 2)
    return _db(np.sum(x**2), err)


def sdr_db_items(x, x_hat) -> np.ndarray:
    """:func:`sdr_db` of each item (items on the first axis, any shape after it), as a float64 array."""
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    err = np.sum((x - np.asarray(x_hat, dtype=np.float64).reshape(len(x), -1)) ** 2, axis=1)
    return np.array([_db(n, e) for n, e in zip(np.sum(x**2, axis=1), err)], dtype=np.float64)


def _nonfinite(x_hat) -> str:
    return "" if np.all(np.isfinite(x_hat)) else "nonfinite reconstruction"


#: why an SDR cannot enter a mean (both are recorded as missing, with the reason, never averaged)
SILENT = "silent clean signal: SDR undefined"
EXACT = "exact reconstruction: SDR is +inf (an item without clipping returned unchanged)"
UNCLIPPED = "the input is exact (no clipped sample): Delta-SDR undefined"


def sdr_score(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
    """SDR of one reconstruction (the table metric ``sdr``); an infinite or undefined one is missing, with
    the reason: tables then rank methods on the items they all scored."""
    bad = _nonfinite(x_hat)
    if bad:
        return math.nan, bad
    value = sdr_db(x, x_hat)
    if math.isnan(value):
        return math.nan, SILENT
    return (math.nan, EXACT) if math.isinf(value) else (value, "")


def delta_sdr_score(x, x_hat, y, sample_rate=None) -> tuple[float, str]:
    """``SDR(x_hat) - SDR(y)``: the improvement over the clipped input (the table metric ``delta_sdr``);
    missing, with the reason, where either SDR is not finite."""
    value, note = sdr_score(x, x_hat)
    if note:
        return math.nan, note
    before = sdr_db(x, y)
    return (value - before, "") if math.isfinite(before) else (math.nan, UNCLIPPED)
