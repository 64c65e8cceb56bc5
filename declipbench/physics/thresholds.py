"""Clipping thresholds for a target input SDR (the survey's ``clip_sdr``; Table 3's test scaling)."""

from __future__ import annotations

import numpy as np

from .distortion import sdr_db


def tau_for_input_sdr(x: np.ndarray, target_db: float, *, tol: float = 1e-6, max_iter: int = 200) -> float:
    """Symmetric threshold ``tau`` such that ``SDR(x, eta_tau(x)) = target_db`` (survey protocol).

    Bracketed root search (bisection on a monotone function) over ``(eps, 0.99 max|x|)``: the input
    SDR increases with tau. It stops when the bracket is at most ``tol * max|x|`` wide; ``tol=0``
    bisects to machine precision (the bracket's ends adjacent floats), as the survey's ``clip_sdr.m``
    does with MATLAB's ``fzero``: the survey experiments use it, because the sparse declippers' results
    move with the threshold (BENCHMARKS.md, "SPADE"). Raises ``ValueError`` when the target lies outside
    the bracket.
    """
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
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
        if not lo < mid < hi:          # adjacent floats: machine precision
            break
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= tol * peak:
            break
    return 0.5 * (lo + hi)
