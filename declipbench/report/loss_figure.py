"""Drawing Figure 2 from its curves (``figures/mc_losses.py`` computes them): the naive MC loss (eq. 6) and
the MC loss (eq. 7) and their derivatives, for a reliable and a clipped sample."""

from __future__ import annotations

from pathlib import Path


def mc_loss_figure(curves: dict, tau: float, reliable_y: float, out: Path) -> None:
    """Two columns (reliable sample, clipped sample), two rows (loss, derivative), the naive and the MC
    loss in each panel; the region beyond the threshold shaded."""
    from .plotting import pyplot

    plt = pyplot()

    from .figures import _finish

    x = curves["x_hat"]
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex=True)
    titles = {"reliable": f"reliable sample, y = {reliable_y:g} tau", "clipped": "clipped sample, y = tau"}
    for col, case in enumerate(("reliable", "clipped")):
        for row, suffix in enumerate(("", "_grad")):
            ax = axes[row, col]
            for span in ((x[0], -tau), (tau, x[-1])):
                ax.axvspan(*span, color="0.92", lw=0)
            ax.plot(x, curves[f"{case}_naive_mc{suffix}"], color="tab:red", lw=1.6, label="naive MC (eq. 6)")
            ax.plot(x, curves[f"{case}_mc{suffix}"], color="tab:blue", lw=1.6, ls="--", label="MC (eq. 7)")
            ax.axvline(reliable_y * tau if case == "reliable" else tau, color="k", lw=0.6, ls=":")
            ax.axhline(0, color="k", lw=0.4)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(titles[case], fontsize=9)
            ax.set_ylabel(("loss" if not suffix else "derivative w.r.t. the estimate"), fontsize=8)
        axes[1, col].set_xlabel("estimate x_hat (shaded: beyond the threshold)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper center")
    _finish(fig, out, "Figure 2: the naive MC loss is flat beyond the threshold, the MC loss is not", 10, 110)
