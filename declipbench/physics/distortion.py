"""The signal-to-distortion ratio (eq. 15), the one place it is computed: the level of a clipped measurement
(its input SDR, :mod:`.thresholds`) and the base of the SDR and Delta-SDR metrics (:mod:`declipbench.metrics.sdr`)."""

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
    is silent (the ratio is undefined). The table scores (:mod:`declipbench.metrics.sdr`) record both as missing, with the reason.
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
