"""Drawing Figures 5 and 6 of the toy experiment (Section 5.2.1 of the paper; ``figures/toy.py`` computes
what they show and trains the networks): the digit at a few amplitudes with and without A, the distance
between measurements, and the relative error of MC and MC + EI against the dynamic range."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np


log = logging.getLogger("declipbench.figures")

SIDE = 28
N = SIDE * SIDE


def normalised(x0: np.ndarray) -> np.ndarray:
    """The digit scaled to ``||x0|| = sqrt(n)`` (unit mean square entries of ``A x0``), flattened."""
    x = np.asarray(x0, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(x))
    if norm == 0:
        raise ValueError("the digit image is blank")
    return (x * math.sqrt(x.size) / norm).astype(np.float32)


def saturation_amplitude(x0: np.ndarray, tau: float = 1.0) -> float:
    """``a*``: from this amplitude on every non-zero pixel of ``a x0`` clips (without ``A``)."""
    x = np.abs(normalised(x0))
    return float(tau / x[x > 0].min())


# ------------------------------------------------------------------------------------------- drawing
def _img(ax, v, title, vmax=None):
    ax.imshow(np.asarray(v).reshape(SIDE, SIDE), cmap="gray", vmin=0 if vmax else None, vmax=vmax)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def figure5(x0: np.ndarray, A: np.ndarray, rows: list[dict], shown: list[float], out: Path, tau: float = 1.0) -> None:
    """Top: ``a x0``, ``eta(a x0)`` and ``A^T eta(A a x0)`` for the ``shown`` amplitudes; bottom: the distance
    between the measurements of consecutive amplitudes, with and without ``A``."""
    from .plotting import pyplot

    plt = pyplot()

    from .figures import _finish

    x = normalised(x0).astype(np.float64)
    fig = plt.figure(figsize=(2.0 * len(shown) + 1, 7.6))
    grid = fig.add_gridspec(4, len(shown), height_ratios=[1, 1, 1, 1.6])
    for j, a in enumerate(shown):
        _img(fig.add_subplot(grid[0, j]), a * x, f"a x0, a = {a:g}")
        _img(fig.add_subplot(grid[1, j]), np.clip(a * x, -tau, tau), "eta(a x0), no A", vmax=tau)
        _img(fig.add_subplot(grid[2, j]), np.clip(A @ (a * x), -tau, tau) @ A, "A^T eta(A a x0)")
    ax = fig.add_subplot(grid[3, :])
    mid = [math.sqrt(r["a"] * r["a_next"]) for r in rows]
    ax.semilogx(mid, [r["distance_without_A"] for r in rows], "o-", color="tab:red", label="without A: ||eta(a x0) - eta(a' x0)||")
    ax.semilogx(mid, [r["distance_with_A"] for r in rows], "o-", color="tab:blue", label="with A: ||eta(A a x0) - eta(A a' x0)||")
    ax.axvline(saturation_amplitude(x0, tau), color="k", ls=":", lw=0.8, label="a*: every non-zero pixel clips")
    ax.set_xlabel("amplitude a (consecutive test amplitudes a < a')", fontsize=8)
    ax.set_ylabel("distance between measurements", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    _finish(fig, out, "Figure 5: without A, amplitudes above a* give the same measurement", title_size=10, dpi=110)


def figure6(x0: np.ndarray, A: np.ndarray, rows: list[dict], recon: dict, shown: list[float], out: Path,
            mu: float, ei: dict | None = None, tau: float = 1.0) -> None:
    """Top: the relative error against the dynamic range; bottom: reconstructions at the ``shown``
    amplitudes (clean, back-projection, and ``recon``: ``{"mc": images, "mc_ei": images}``, one row of n
    per shown amplitude)."""
    from .plotting import pyplot

    plt = pyplot()

    from .figures import _finish

    x = normalised(x0).astype(np.float64)
    fig = plt.figure(figsize=(2.0 * len(shown) + 1, 10))
    grid = fig.add_gridspec(5, len(shown), height_ratios=[2.2, 1, 1, 1, 1])
    ax = fig.add_subplot(grid[0, :])
    from .subspace_figure import ei_description

    dr = [r["dynamic_range"] for r in rows]
    mc_ei = "MC + EI" + (f" ({ei_description(ei)})" if ei else "")
    for key, label, color in (("backprojection_error", "A^T y (no learning)", "0.5"), ("mc_error", "MC only", "tab:red"),
                              ("mc_ei_error", mc_ei, "tab:blue")):
        ax.semilogx(dr, [r[key] for r in rows], "o-", color=color, label=label, ms=3)
    ax.axvline(mu * math.sqrt(N), color="k", ls=":", lw=0.8, label="training mean ||a x0|| (a ~ Exp(mu))")
    ax.set_xlabel("dynamic range ||a x0||", fontsize=8)
    ax.set_ylabel("||x_hat - a x0|| / ||a x0||", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    y = np.clip((np.asarray(shown)[:, None] * x[None, :]) @ A.T, -tau, tau).astype(np.float32)
    for j, a in enumerate(shown):
        clip = float(np.mean(np.abs(A @ (a * x)) >= tau))
        _img(fig.add_subplot(grid[1, j]), a * x, f"a = {a:g}, {clip:.0%} clipped")
        _img(fig.add_subplot(grid[2, j]), y[j] @ A, "A^T y")
        _img(fig.add_subplot(grid[3, j]), recon["mc"][j], "MC only")
        _img(fig.add_subplot(grid[4, j]), recon["mc_ei"][j], mc_ei if j == 0 else "MC + EI")
    _finish(fig, out, "Figure 6: networks trained on eta(A a x0) alone, MC against MC + EI", title_size=10, dpi=110)
