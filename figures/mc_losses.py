"""Figure 2 of the paper: why the naive measurement consistency (eq. 6) cannot train and the MC loss
(eq. 7) can.

Both losses, and their derivatives with respect to the estimate, are computed by the training code itself
(:func:`declipbench.losses.mc.naive_mc_loss`, :func:`declipbench.losses.mc.mc_loss`, derivatives by torch's
autograd) on a grid of estimates ``x_hat`` of one sample, for two measurements at the threshold
``tau``: a *reliable* sample (``y = reliable_y * tau``, ``|reliable_y| < 1``) and a sample *clipped
high* (``y = tau``). The curves are written as a CSV beside the figure, so what the figure claims can be
checked on numbers: the naive loss is flat (zero derivative) wherever the estimate is beyond the
threshold, even where it is wrong (a reliable sample overshooting ``tau``), so gradient descent stops
there; the MC loss pulls a reliable sample back to ``y`` from everywhere, and for a clipped sample
penalises only estimates below ``tau``.
"""

from __future__ import annotations

from pathlib import Path

from declipbench import Param
from declipbench.data import io
from declipbench.report.loss_figure import mc_loss_figure

OUTPUTS = {"fig2_mc_losses": "Figure 2: the MC losses"}
ENV = "torch"
PARAMETERS = {
    "tau": Param(1.0, float, above=0, help="the clipping threshold"),
    "reliable_y": Param(0.5, float, above=-1, below=1, help="the reliable sample's value as a fraction of tau"),
    "span": Param(2.0, float, above=1, help="estimates from -span * tau to span * tau"),
    "points": Param(801, int, min=3, help="estimates on the grid"),
}

#: the CSV's columns, in order
COLUMNS = ("x_hat", "reliable_naive_mc", "reliable_naive_mc_grad", "reliable_mc", "reliable_mc_grad",
           "clipped_naive_mc", "clipped_naive_mc_grad", "clipped_mc", "clipped_mc_grad")


def mc_loss_curves(tau: float = 1.0, reliable_y: float = 0.5, span: float = 2.0, points: int = 801) -> dict:
    """The two losses and their derivatives on ``points`` estimates from ``-span tau`` to ``span tau``.

    Returns ``{column: array}`` (:data:`COLUMNS`), one value per estimate; each value is the loss of that
    single sample (the mean over one sample), as training computes it."""
    import torch

    from declipbench.losses.mc import mc_loss, naive_mc_loss
    from declipbench.physics.clipping import Thresholds

    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if not abs(reliable_y) < 1:
        raise ValueError(f"reliable_y is the reliable sample's value over tau: need |reliable_y| < 1, got {reliable_y}")
    if not span > 1 or int(points) < 3:
        raise ValueError(f"need span > 1 (estimates beyond tau) and points >= 3, got span {span}, points {points}")
    th = Thresholds.symmetric(tau)
    grid = torch.linspace(-span * tau, span * tau, int(points), dtype=torch.float64)
    out = {"x_hat": grid.numpy().copy()}
    for case, y_value in (("reliable", reliable_y * tau), ("clipped", tau)):
        y = torch.full((len(grid), 1), float(y_value), dtype=torch.float64)
        for name, loss in (("naive_mc", naive_mc_loss), ("mc", mc_loss)):
            x_hat = grid.clone().reshape(-1, 1).requires_grad_(True)
            per_item = loss(x_hat, y, th, reduction="item")      # one item = one sample: its own loss
            (grad,) = torch.autograd.grad(per_item.sum(), x_hat)  # items are independent
            out[f"{case}_{name}"] = per_item.detach().numpy()
            out[f"{case}_{name}_grad"] = grad.reshape(-1).numpy()
    return out


def write_curves(curves: dict, path: Path) -> None:
    rows = [dict(zip(COLUMNS, (f"{curves[c][i]:.10g}" for c in COLUMNS))) for i in range(len(curves["x_hat"]))]
    io.write_csv(path, rows, list(COLUMNS))


def make(job) -> None:
    p = job.params
    curves = mc_loss_curves(p["tau"], p["reliable_y"], p["span"], p["points"])
    write_curves(curves, job.csv("fig2_mc_losses"))
    mc_loss_figure(curves, p["tau"], p["reliable_y"], job.png("fig2_mc_losses"))
