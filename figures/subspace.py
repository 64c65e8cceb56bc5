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
import tempfile

import numpy as np

from declipbench import Param
from declipbench.data import io
from declipbench.report.subspace_figure import subspace_figure

log = logging.getLogger("declipbench.figures")

OUTPUTS = {"fig7_subspace": "Figure 7: synthetic subspaces"}
ENV = "torch"
THREADS = True
FIELDS = ["k", "p", "clipped_per_vector", "identity_sdr", "ssl_sdr", "supervised_sdr", "ssl_seconds",
          "supervised_seconds"]
PARAMETERS = {
    "ks": Param([2, 10, 30], list, items=int, help="subspace dimensions k (each >= 1 and below dim)"),
    "ps": Param([0.1, 0.3, 0.5], list, items=float, help="proportions p of clipped entries, each in (0, 1)"),
    "dim": Param(100, int, min=2, help="the dimension n of the vectors"),
    "train": Param(2000, int, min=1, help="training vectors per cell"),
    "test": Param(200, int, min=1, help="test vectors per cell"),
    "epochs": Param(10, int, min=1),
    "steps_per_epoch": Param(100, int, min=1),
    "batch_size": Param(64, int, min=1),
    "lr": Param(0.001, float, above=0),
    "seed": Param(0, int, min=0),
    "ei": Param({}, dict, help="the EI loss's parameters (as a learned method's ei section); default eq. 11 "
                               "with gradients through both terms, g_max 2"),
}


def check(params: dict, config: dict, where: str) -> None:
    from declipbench.losses import LOSSES

    if not params["ks"] or not params["ps"]:
        raise ValueError(f"{where}: ks and ps each need at least one value")
    for k in params["ks"]:
        if k < 1:
            raise ValueError(f"{where}.ks: k = {k} must be >= 1")
        if k >= params["dim"]:
            raise ValueError(f"{where}.ks: k = {k} is not below dim = {params['dim']}")
    for p in params["ps"]:
        if not 0 < p < 1 or not 1 <= round(p * params["dim"]) < params["dim"]:
            raise ValueError(f"{where}.ps: p = {p} clips {round(p * params['dim'])} of {params['dim']} entries; "
                             f"need at least 1 and fewer than {params['dim']}")
    params["ei"] = LOSSES["ei"].resolve(params["ei"], f"{where}.ei")


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

    from declipbench.models import MaskedReconstructor, SkipMLP
    from declipbench.physics import Thresholds
    from declipbench.training import fit

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
    from declipbench.losses import LOSSES
    from declipbench.metrics.sdr import sdr_db_items
    from declipbench.training import TrainSettings, predict

    x_all, y_all = subspace_data(k, p, n, train + test, seed)
    x_tr, y_tr, x_te, y_te = x_all[:train], y_all[:train], x_all[train:], y_all[train:]
    settings = TrainSettings.from_params({"epochs": epochs, "steps_per_epoch": steps, "batch_size": batch,
                                          "crop": None, "lr": lr})
    ei_loss = LOSSES["ei"](**LOSSES["ei"].resolve(ei, "figures.subspace.ei"))
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


def make(job) -> None:
    p = job.params
    rows = subspace_grid(p["ks"], p["ps"], n=p["dim"], train=p["train"], test=p["test"], epochs=p["epochs"],
                         steps=p["steps_per_epoch"], batch=p["batch_size"], lr=p["lr"], ei=p["ei"], seed=p["seed"],
                         threads=job.threads)
    io.write_csv(job.csv("fig7_subspace"), rows, FIELDS)
    subspace_figure(rows, job.png("fig7_subspace"), f"Synthetic subspaces of R^{p['dim']}: mean test SDR, "
                    f"{p['train']} training vectors per cell, {p['epochs'] * p['steps_per_epoch']} steps", p["ei"])
