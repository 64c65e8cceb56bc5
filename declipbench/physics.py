"""Clipping forward model (PAPER.md section 1).

``y = eta(x)`` with ``eta(x)_i = min(max(x_i, tau_min), tau_max)``. Audio uses symmetric thresholds
``(-tau, tau)``; images use ``(0, 1)``. Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Thresholds:
    """Clipping levels. ``symmetric(tau)`` is the audio case, ``upper(1.0)`` the image case."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not self.low < self.high:
            raise ValueError(f"clipping thresholds need low < high, got low={self.low}, high={self.high}")

    @classmethod
    def symmetric(cls, tau: float) -> "Thresholds":
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        return cls(-float(tau), float(tau))

    @classmethod
    def upper(cls, high: float = 1.0, low: float = 0.0) -> "Thresholds":
        return cls(float(low), float(high))


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def clip(x, th: Thresholds):
    """The clipping operator eta (element-wise), for numpy arrays and torch tensors."""
    if _is_torch(x):
        return x.clamp(th.low, th.high)
    return np.clip(x, th.low, th.high)


def masks(y, th: Thresholds):
    """Reliable, clipped-high and clipped-low masks of a measurement ``y`` (booleans).

    ``R = {tau_min < y < tau_max}``, ``H = {y >= tau_max}``, ``L = {y <= tau_min}``.
    """
    high = y >= th.high
    low = y <= th.low
    reliable = ~(high | low)
    return reliable, high, low


def clipped_mask(y, th: Thresholds):
    """Boolean mask of clipped samples (``H | L``)."""
    _, high, low = masks(y, th)
    return high | low


def has_clipping(y, th: Thresholds, axis=-1):
    """Per-item flag: does the measurement contain at least one clipped sample?"""
    m = clipped_mask(y, th)
    if _is_torch(m):
        return m.flatten(start_dim=1).any(dim=1) if m.ndim > 1 else m.any()
    return m.reshape(m.shape[0], -1).any(axis=1) if m.ndim > 1 else m.any()


def sdr_db(x: np.ndarray, x_hat: np.ndarray) -> float:
    """SDR (eq. 15) in dB of one signal: ``10 log10(||x||^2 / ||x - x_hat||^2)``."""
    x = np.asarray(x, dtype=np.float64)
    err = np.sum((x - np.asarray(x_hat, dtype=np.float64)) ** 2)
    num = np.sum(x**2)
    if err == 0:
        return math.inf
    return 10.0 * math.log10(num / err)


def tau_for_input_sdr(x: np.ndarray, target_db: float, *, tol: float = 1e-6, max_iter: int = 200) -> float:
    """Symmetric threshold ``tau`` such that ``SDR(x, eta_tau(x)) = target_db`` (survey protocol).

    Bracketed root search (bisection on a monotone function) over ``(eps, 0.99 max|x|)``: the input
    SDR increases with tau. Raises ``ValueError`` when the target lies outside the bracket.
    """
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x)))
    if peak == 0:
        raise ValueError("cannot clip a silent signal to a target SDR")

    def f(tau: float) -> float:
        return sdr_db(x, np.clip(x, -tau, tau)) - target_db

    lo, hi = 1e-12 * peak + np.finfo(np.float64).tiny, 0.99 * peak
    f_lo, f_hi = f(lo), f(hi)
    if f_lo > 0 or f_hi < 0:
        raise ValueError(
            f"target input SDR {target_db} dB is outside the reachable range "
            f"[{f_lo + target_db:.2f}, {f_hi + target_db:.2f}] dB for this signal"
        )
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * peak:
            break
    return 0.5 * (lo + hi)


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

    Table 3's test protocol (PAPER.md): "clipped to a fixed input SDR, then normalised so tau = 0.1". The
    SDR is scale-invariant, so clipping ``x * tau / t`` at ``tau`` equals clipping ``x`` at ``t`` up to the
    same factor, with ``t`` from :func:`tau_for_input_sdr`. Raises ``ValueError`` when the target cannot be
    reached (silent signal, or a target above what clipping at 0.99 of the peak gives).
    """
    t = tau_for_input_sdr(x, target_db)
    return (np.asarray(x, dtype=np.float64) * (tau / t)).astype(np.float32)


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random orthogonal matrix from the Haar measure (QR of a Gaussian matrix, Mezzadri 2007 sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))[None, :]
