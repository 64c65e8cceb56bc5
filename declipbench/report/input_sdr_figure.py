"""Drawing ΔSDR against input SDR from its curves (``figures/input_sdr.py`` computes them): one curve per
method with its 95 % bootstrap band."""

from __future__ import annotations

from pathlib import Path


def input_sdr_figure(rows: list[dict], out: Path, title: str) -> None:
    """One curve per method: mean ΔSDR against input SDR, its 95 % bootstrap band shaded."""
    from .plotting import pyplot

    plt = pyplot()

    from .figures import _finish

    fig, ax = plt.subplots(figsize=(9, 5.2))
    cmap = plt.get_cmap("tab20")
    for k, label in enumerate(dict.fromkeys(r["label"] for r in rows)):
        mine = sorted((r for r in rows if r["label"] == label and r["items"]), key=lambda r: r["input_sdr"])
        if not mine:
            continue
        s = [r["input_sdr"] for r in mine]
        missing = sum(r["missing"] for r in rows if r["label"] == label)
        ax.plot(s, [r["mean_delta_sdr"] for r in mine], "o-", ms=3, color=cmap(k % 20),
                label=label + (f" ({missing} items missing)" if missing else ""))
        ax.fill_between(s, [r["ci_low"] for r in mine], [r["ci_high"] for r in mine], color=cmap(k % 20), alpha=0.18, lw=0)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("input SDR (dB): test items rescaled so clipping at tau gives it", fontsize=8)
    ax.set_ylabel("mean ΔSDR (dB), 95 % bootstrap band over items", fontsize=8)
    ax.legend(fontsize=6.5, loc="best")
    ax.tick_params(labelsize=7)
    _finish(fig, out, title, title_size=10, dpi=110)
