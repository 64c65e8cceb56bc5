"""Figures: for one test item, clean / clipped / reconstructed waveform and a spectrogram per method."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import io


def pick_item(x: np.ndarray, y: np.ndarray, item: int | None) -> int:
    """The configured item, or the one with the median input SDR (a typical case, not a cherry-pick)."""
    if item is not None:
        if not 0 <= item < len(x):
            raise ValueError(f"figure.item = {item} is outside the {len(x)} test items")
        return item
    err = np.sum((x.astype(np.float64) - y) ** 2, axis=1)
    s = 10 * np.log10(np.sum(x.astype(np.float64) ** 2, axis=1) / np.maximum(err, 1e-30))
    return int(np.argsort(s)[len(s) // 2])


def waveform_figure(x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray]], tau: float,
                    sample_rate: int, out: Path, seconds: float = 0.05, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(recons)
    # a window centred on the deepest clipping
    depth = np.abs(x) - tau
    centre = int(np.argmax(depth))
    half = int(seconds * sample_rate / 2)
    lo, hi = max(0, centre - half), min(len(x), centre + half)
    t = np.arange(lo, hi) / sample_rate
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.2 * n + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    for row, (label, xh) in enumerate(recons):
        ax = axes[row, 0]
        ax.plot(t, x[lo:hi], color="0.55", lw=2.2, label="clean")
        ax.plot(t, y[lo:hi], color="tab:red", lw=1.0, label="clipped")
        ax.plot(t, xh[lo:hi], color="tab:blue", lw=1.0, ls="--", label="reconstruction")
        ax.axhline(tau, color="k", lw=0.5, ls=":")
        ax.axhline(-tau, color="k", lw=0.5, ls=":")
        ok = np.all(np.isfinite(xh))
        s = 10 * math.log10(np.sum(x.astype(np.float64) ** 2) / max(np.sum((x - xh).astype(np.float64) ** 2), 1e-30)) if ok else math.nan
        ax.set_title(f"{label}: SDR {s:.2f} dB", fontsize=9, loc="left")
        ax.set_ylabel("amplitude", fontsize=8)
        if row == 0:
            ax.legend(fontsize=7, loc="upper right", ncol=3)
        ax2 = axes[row, 1]
        if ok:
            ax2.specgram(xh, NFFT=512, Fs=sample_rate, noverlap=384, cmap="magma", vmin=-120)
        ax2.set_ylabel("Hz", fontsize=8)
        ax2.tick_params(labelsize=7)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    axes[-1, 1].set_xlabel("time (s)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with io.atomic_path(out, suffix=Path(out).suffix) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
