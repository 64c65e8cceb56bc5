"""PSNR (eq. 14) of HDR reconstructions."""

from __future__ import annotations

import math

import numpy as np

from .base import Metric
from .sdr import _nonfinite

METRICS = [Metric("psnr", "image", True, "PSNR (dB)", "PSNR (dB)", "psnr", "psnr_score")]


def psnr_db(x, x_hat, peak: float | None = None) -> float:
    """PSNR (eq. 14) in dB, ``10 log10(peak^2 / MSE)``, over all pixels and channels of one image.

    Peak (HDR radiance has no natural one): ``peak=None`` takes the **maximum of the clean image**
    ``max(x)`` (in the suite's linear, exposure-normalised domain, where the saturation level is 1 and
    the clean maximum is the brightest light source). ``inf`` for a perfect reconstruction.
    """
    x = np.asarray(x, dtype=np.float64)
    mse = float(np.mean((x - np.asarray(x_hat, dtype=np.float64)) ** 2))
    peak = float(np.max(x)) if peak is None else float(peak)
    if not peak > 0:
        raise ValueError(f"PSNR peak must be > 0, got {peak}")
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


def psnr_score(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
    """PSNR of one image with peak ``max(x)`` (the clean image's maximum, linear domain): see :func:`psnr_db`."""
    bad = _nonfinite(x_hat)
    if bad:
        return math.nan, bad
    return psnr_db(x, x_hat), ""
