"""The per-item table scores SDR and Delta-SDR; the SDR itself (eq. 15) is computed in one place,
:mod:`declipbench.physics.distortion`, which the thresholds for a target input SDR also use."""

from __future__ import annotations

import math

import numpy as np

from ..physics.distortion import sdr_db, sdr_db_items
from .base import Metric

METRICS = [
    Metric("sdr", "audio", True, "SDR (dB)", "SDR (dB)", "sdr", "sdr_score"),
    Metric("delta_sdr", "audio", True, "ΔSDR (dB)", r"$\Delta$SDR (dB)", "sdr", "delta_sdr_score"),
]


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


def delta_sdr_items(x, x_hat, y) -> np.ndarray:
    """ΔSDR (dB) of each item (items first): the SDR (eq. 15) of the reconstruction minus that of the
    measurement, the one place ΔSDR is computed (tables, the survey, the input-SDR figure). ``nan`` for an
    item whose reconstruction is not finite; ``+inf`` for an exact one."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat)
    finite = np.all(np.isfinite(x_hat.reshape(len(x_hat), -1)), axis=1)
    out = np.full(len(x), np.nan)
    if finite.any():
        out[finite] = sdr_db_items(x[finite], x_hat[finite]) - sdr_db_items(x[finite], np.asarray(y)[finite])
    return out


def delta_sdr_score(x, x_hat, y, sample_rate=None) -> tuple[float, str]:
    """``SDR(x_hat) - SDR(y)``: the improvement over the clipped input (the table metric ``delta_sdr``);
    missing, with the reason, where either SDR is not finite."""
    value, note = sdr_score(x, x_hat)
    if note:
        return math.nan, note
    before = sdr_db(x, y)
    if not math.isfinite(before):
        return math.nan, UNCLIPPED
    return float(delta_sdr_items(np.asarray(x)[None], np.asarray(x_hat)[None], np.asarray(y)[None])[0]), ""
