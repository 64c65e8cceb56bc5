"""Figure 7: the synthetic subspace experiment of the paper (Section 5.2.2 of the paper).

For each cell ``(k, p)`` of a grid: a random ``k``-dimensional subspace of R^n (``n = 100``, a Gaussian basis
``B`` of ``n x k``), signals ``x = B c`` with ``c ~ N(0, I_k)``, each vector rescaled so that a proportion
``p`` of its entries clip at ``tau = 1`` (the scale puts the threshold half-way between the
``round(p n)``-th and the next largest magnitude, so exactly that many entries clip), measurements
``y = eta(x)``. Two networks per cell, the paper's MLP (:class:`declipbench.models.SkipMLP`: input n,
hidden 100, depth 5, skip connection, bias-free) inside the masking blend of eq. 13, trained by the
suite's training loop (:func:`declipbench.training.fit`): one self-supervised (MC + EI, the EI loss's
parameters from the configuration, eq. 11 with gradients through both terms by default) on the measurements alone, one
supervised on pairs as a reference. The figure shows the mean SDR over held-out vectors of the same
subspace as heat maps over the grid, with Identity's beside them; the CSV has one row per cell.

Choices the paper leaves open (configuration values, ``figures.subspace``): the grid, the numbers of
training and test vectors, the training length and rate, ``p_g``. Everything is seeded per cell, so a
cell's numbers do not depend on the rest of the grid.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from ..data import io

log = logging.getLogger("declipbench.figures")

FIELDS = ["k", "p", "clipped_per_vector", "identity_sdr", "ssl_sdr", "supervised_sdr", "ssl_seconds",
          "supervised_seconds"]


def rescale_to_clip(x: np.ndarray, p: float, tau: float = 1.0) -> np.ndarray:
    """Each row of ``x`` scaled so that ``round(p * n)`` of its entries exceed ``tau`` in magnitude: the
    threshold sits half-way between the ``m``-th and the ``(m + 1)``-th largest magnitude."""
    n = x.shape[1]
    m = int(round(p * n))
    if not 1 <= m < n:
        raise ValueError(f"p = {p}: clips {m} of {n} entries; need at least 1 and fewer than {n}")
    mags = -np.sort(-np.abs(x), axis=1)
    level = 0.5 * (mags[:, m - 1] + mags[:, m])
    return x * (tau / level)[:, None]


def subspace_data(k: int, p: float, n: int, count: int, seed: int, tau: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` clean vectors of one random ``k``-dimensional subspace of R^n (the same subspace for every
    split of a cell: the basis depends on ``(seed, k, p)`` only), rescaled as :func:`rescale_to_clip`, and
    their measurements."""
    basis = np.random.default_rng([seed, k, int(round(p * 1000)), 0]).standard_normal((n, k))
    coeffs = np.random.default_rng([seed, k, int(round(p * 1000)), 1]).standard_normal((count, k))
    x = rescale_to_clip(coeffs @ basis.T, p, tau).astype(np.float32)
    return x, np.clip(x, -tau, tau)


def _train(losses, x, y, settings, seed: int, threads: int | None):
    import torch

    from ..models import MaskedReconstructor, SkipMLP
    from ..physics import Thresholds
    from ..training import fit

    th = Thresholds.symmetric(1.0)
    torch.manual_seed(seed)
    model = MaskedReconstructor(SkipMLP(n=x.shape[1]), th)
    with tempfile.TemporaryDirectory() as work:
        rows = fit(model, losses, th, settings, work, y, x if any(l.needs_clean for l in losses) else None,
                   modality="audio", seed=seed, threads=threads, progress=False)
    return model, sum(r["seconds"] for r in rows)


def subspace_cell(k: int, p: float, *, n: int = 100, train: int, test: int, epochs: int, steps: int, batch: int,
                  lr: float, ei: dict, seed: int = 0, threads: int | None = None) -> dict:
    """Identity, self-supervised (MC + EI) and supervised mean SDR (dB) on the test vectors of cell
    ``(k, p)``, with the training seconds of each network."""
    from ..losses import LOSSES
    from ..metrics.sdr import sdr_db_items
    from ..pipeline.parameters import resolve
    from ..training import TrainSettings, predict

    x_all, y_all = subspace_data(k, p, n, train + test, seed)
    x_tr, y_tr, x_te, y_te = x_all[:train], y_all[:train], x_all[train:], y_all[train:]
    settings = TrainSettings.from_params({"epochs": epochs, "steps_per_epoch": steps, "batch_size": batch,
                                          "crop": None, "lr": lr})
    ei_loss = LOSSES["ei"](**resolve(LOSSES["ei"].declaration(), ei, "figures.subspace.ei"))
    ssl, ssl_s = _train([LOSSES["mc"](), ei_loss], x_tr, y_tr, settings, seed, threads)
    sup, sup_s = _train([LOSSES["supervised"]()], x_tr, y_tr, settings, seed, threads)

    def mean_sdr(x_hat):
        return float(np.mean(sdr_db_items(x_te, x_hat)))

    return {"k": k, "p": p, "clipped_per_vector": int(round(p * n)), "identity_sdr": mean_sdr(y_te),
            "ssl_sdr": mean_sdr(predict(ssl, y_te, 256, modality="audio")),
            "supervised_sdr": mean_sdr(predict(sup, y_te, 256, modality="audio")),
            "ssl_seconds": round(ssl_s, 2), "supervised_seconds": round(sup_s, 2)}


def subspace_grid(ks: list[int], ps: list[float], progress: bool = True, **kw) -> list[dict]:
    """:func:`subspace_cell` for every ``(k, p)``, one log line per cell."""
    from tqdm import tqdm

    rows = []
    cells = [(k, p) for k in ks for p in ps]
    for k, p in tqdm(cells, desc="subspace grid", disable=not progress):
        row = subspace_cell(k, p, **kw)
        log.info("k %d p %.2f: identity %.2f dB, MC + EI %.2f dB, supervised %.2f dB (%.1f + %.1f s)", k, p,
                 row["identity_sdr"], row["ssl_sdr"], row["supervised_sdr"], row["ssl_seconds"],
                 row["supervised_seconds"])
        rows.append(row)
    return rows


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


def write_rows(rows: list[dict], path: Path) -> None:
    io.write_csv(Path(path), rows, FIELDS)


def subspace_figure(rows: list[dict], out: Path, title: str = "", ei: dict | None = None) -> None:
    """Heat maps of mean SDR over the (k, p) grid: Identity, MC + EI, supervised (one colour scale); ``ei``
    (the EI loss's parameters) names the EI version in the middle panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
