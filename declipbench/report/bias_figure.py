"""Drawing Figure 3 from its measurements (``figures/bias.py`` runs the networks): the input at the highest level
with each network's output, and each network's error against the input's level."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def bias_figure(rows: list[dict], shown: dict, tau: float, sample_rate: int, out: Path, item: int,
                seconds: float = 0.02) -> None:
    """Left: the input at the highest level and each network's output (a short window around the peak);
    right: the error of each network alone against the input's level, log-log."""
    from .plotting import pyplot

    plt = pyplot()

    from .figures import _finish

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    first = next(iter(shown.values()))[0]
    centre = int(np.argmax(np.abs(first)))
    half = max(8, int(seconds * sample_rate / 2))
    lo, hi = max(0, centre - half), min(len(first), centre + half)
    t = np.arange(lo, hi) / sample_rate
    ax.plot(t, first[lo:hi], color="0.55", lw=2.4, label="input (unsaturated)")
    level = max(r["level"] for r in rows)
    for c, (label, (_, f, _)) in zip(colors, shown.items()):
        err = next(r["error"] for r in rows if r["label"] == label and r["level"] == level)
        ax.plot(t, f[lo:hi], color=c, lw=1.0, ls="--", label=f"{label}: error {err:.2g}")
    ax.set_title(f"test item {item} at peak {level:g} x tau: each network alone (no masking)", fontsize=9, loc="left")
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("amplitude", fontsize=8)
    ax.axhline(tau, color="k", lw=0.5, ls=":")
    ax.axhline(-tau, color="k", lw=0.5, ls=":")
    ax.legend(fontsize=7, loc="lower left")
    for c, label in zip(colors, dict.fromkeys(r["label"] for r in rows)):
        mine = [r for r in rows if r["label"] == label]
        ax2.loglog([r["level"] for r in mine], [max(r["error"], 1e-12) for r in mine], "o-", color=c, label=label)
    ax2.set_xlabel("input peak / tau (nothing clips)", fontsize=8)
    ax2.set_ylabel("||f(y) - y|| / ||y||", fontsize=8)
    ax2.set_title("relative error of the network alone\n(with the masking blend: 0 for both)", fontsize=9)
    ax2.legend(fontsize=7)
    for a in (ax, ax2):
        a.tick_params(labelsize=7)
    _finish(fig, out, "Figure 3: a bias-free and a biased network on an unsaturated input", title_size=10, dpi=110)
