"""Drawing Figure 7 from its grid (``figures/subspace.py`` trains the networks): heat maps of mean test SDR
over the (k, p) grid, Identity, MC + EI and supervised, with a line saying what the grid shows of MC + EI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def ei_description(ei: dict) -> str:
    """Which version of the EI term the parameters give (docs/self_supervised.md)."""
    parts = [f"g_max {ei.get('g_max', 2.0):g}"]
    if ei.get("core_weight", 1.0) == 0:
        parts.append("EI residual on reliable samples only (ours)")
    else:  # each of the first author's switches named on its own
        switches = [name for name, on in (("target detached", ei.get("stop_gradient")),
                                          ("y as EI target where clipped", ei.get("target_on_clipped") == "measurement"))
                    if on]
        parts += switches or ["eq. 11 as written, gradients through both terms"]
    return ", ".join(parts)


def verdict(rows: list[dict]) -> str:
    """What the grid shows of MC + EI, from the values alone: in how many cells it is above Identity, and
    its mean gain over Identity and its mean gap to the supervised network (dB)."""
    above = sum(r["ssl_sdr"] > r["identity_sdr"] for r in rows)
    gain = float(np.mean([r["ssl_sdr"] - r["identity_sdr"] for r in rows]))
    gap = float(np.mean([r["supervised_sdr"] - r["ssl_sdr"] for r in rows]))
    return f"above Identity in {above} of {len(rows)} cells, mean {gain:+.1f} dB; {gap:.1f} dB below supervised"


def subspace_figure(rows: list[dict], out: Path, title: str = "", ei: dict | None = None) -> None:
    """Heat maps of mean SDR over the (k, p) grid: Identity, MC + EI, supervised (one colour scale); ``ei``
    (the EI loss's parameters) names the EI version in the middle panel."""
    from .plotting import pyplot

    plt = pyplot()

    ks = sorted({r["k"] for r in rows})
    ps = sorted({r["p"] for r in rows})
    at = {(r["k"], r["p"]): r for r in rows}
    ssl = "MC + EI" + (f" ({ei_description(ei)})" if ei else "")
    panels = [("identity_sdr", "Identity (y)"), ("ssl_sdr", ssl + "\n" + verdict(rows)),
              ("supervised_sdr", "Supervised (pairs)")]
    grids = {key: np.array([[at[(k, p)][key] for p in ps] for k in ks]) for key, _ in panels}
    lo = min(float(np.nanmin(g)) for g in grids.values())
    hi = max(float(np.nanmax(g)) for g in grids.values())
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), constrained_layout=True)
    for ax, (key, name) in zip(axes, panels):
        im = ax.imshow(grids[key], origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="viridis")
        for i in range(len(ks)):
            for j in range(len(ps)):
                v = grids[key][i, j]
                ax.text(j, i, "" if math.isnan(v) else f"{v:.1f}", ha="center", va="center", color="white", fontsize=8)
        ax.set_xticks(range(len(ps)), [f"{p:g}" for p in ps])
        ax.set_yticks(range(len(ks)), [str(k) for k in ks])
        ax.set_xlabel("proportion p of clipped entries")
        ax.set_ylabel("subspace dimension k")
        ax.set_title(name)
    fig.colorbar(im, ax=axes, label="mean SDR (dB)")
    if title:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
