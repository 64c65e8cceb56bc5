"""Amplitude equivariance (eq. 11 of the paper): ``E_g ||g x_hat - f(eta(g x_hat))||^2`` with ``g ~ p_g``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # torch is imported where a loss is computed: the workflow reads the declarations without it
    import torch

from ..physics.clipping import Thresholds, clip, clipped_mask, masks
from ..foundation.parameters import Param
from .base import Loss, register
from .mc import _reduce


def sample_gains(n: int, g_min: float, g_max: float, distribution: str, generator: torch.Generator,
                 device=None, dtype=None) -> torch.Tensor:
    """Draw ``n`` amplitude gains ``g ~ p_g``: ``uniform`` on [g_min, g_max] or ``log_uniform`` (float32 unless
    ``dtype`` says otherwise)."""
    import torch

    u = torch.rand(n, generator=generator, dtype=torch.float64)
    if distribution == "uniform":
        g = g_min + (g_max - g_min) * u
    elif distribution == "log_uniform":
        lo, hi = torch.log(torch.tensor(g_min, dtype=torch.float64)), torch.log(torch.tensor(g_max, dtype=torch.float64))
        g = torch.exp(lo + (hi - lo) * u)
    else:
        raise ValueError(f"unknown gain distribution {distribution!r} (expected 'uniform' or 'log_uniform')")
    return g.to(device=device, dtype=torch.float32 if dtype is None else dtype)


def ei_loss(x_hat: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor], th: Thresholds,
            gains: torch.Tensor, stop_gradient: bool = False, reduction: str = "mean",
            sample_weight: torch.Tensor | None = None, max_saturated_fraction: float | None = None) -> torch.Tensor:
    """Amplitude equivariance loss (eq. 11) for one draw of gains per item.

    ``x_hat`` has the batch on its first axis; ``gains`` has one value per item. Gradients flow through
    both ``g x_hat`` and ``f(eta(g x_hat))`` unless ``stop_gradient`` (the target ``g x_hat`` detached).
    ``max_saturated_fraction``: items whose ``g x_hat`` lies above the upper threshold on that fraction of
    samples or more are left out of the term (their value is 0; with ``reduction="item"`` the kept items
    are scaled so the batch mean is the mean over kept items), as the first author's 2024 code does.
    """
    import torch

    shape = (-1,) + (1,) * (x_hat.ndim - 1)
    x_g = gains.view(shape) * x_hat
    if stop_gradient:
        x_g = x_g.detach()
    if max_saturated_fraction is not None:
        above = (x_g.detach() > th.high).flatten(1).float().mean(dim=1)
        keep = above < max_saturated_fraction
        if not bool(keep.any()):
            return x_hat.sum() * 0 if reduction == "mean" else x_hat.flatten(1).sum(dim=1) * 0
        if not bool(keep.all()):
            idx = keep.nonzero().squeeze(1)
            kept = ei_loss(x_hat[idx], f, th, gains[idx], stop_gradient, reduction,
                           None if sample_weight is None else sample_weight[idx])
            if reduction == "mean":
                return kept
            out = torch.zeros(len(x_hat), dtype=kept.dtype, device=kept.device)
            return out.index_put((idx,), kept * (len(x_hat) / len(idx)))
    x_g_hat = f(clip(x_g, th))
    err = (x_g - x_g_hat) ** 2
    if sample_weight is not None:
        err = err * sample_weight
    return _reduce(err, reduction)


def ei_target_weights(y: torch.Tensor, th: Thresholds, core_weight: float) -> torch.Tensor:
    """Per-sample weights of the EI residual: 1 where ``y`` is reliable (the target ``g x_hat = g y`` is
    measured data), ``core_weight`` where ``y`` is clipped (the target is the network's own estimate).
    ``core_weight = 1`` is eq. 11 as its text reads."""
    import torch

    reliable, _, _ = masks(y, th)
    return torch.where(reliable, torch.ones_like(y), torch.full_like(y, float(core_weight)))


@register
class EILoss(Loss):
    """Amplitude equivariance (eq. 11): one gain per item drawn from ``p_g`` with the run's generator, the
    reconstructor run again on ``eta(g x_hat)``."""

    name = "ei"
    parameters = {
        "g_min": Param(1.0, float, above=0, help="p_g: gains in [g_min, g_max]"),
        "g_max": Param(2.0, float, above=0),
        "distribution": Param("uniform", choices=("uniform", "log_uniform"), help="the law p_g of the gains"),
        "stop_gradient": Param(False, help="detach the target g x_hat (eq. 11 as its text reads does not; the first author's "
                                           "2024 code did by default)"),
        "max_saturated_fraction": Param(None, float, above=0, max=1, nullable=True,
                                        help="leave out of the term the items whose g x_hat is above the upper "
                                             "threshold on this fraction of samples or more (the first author's "
                                             "2024 code, option no_div, used 0.7; null: keep every item)"),
        "target_on_clipped": Param("estimate", choices=("estimate", "measurement"),
                                   help="the target g x_hat where y is clipped: the network's estimate (eq. 11) "
                                        "or the measurement y (the first author's 2024 code, option use_mask)"),
        "core_weight": Param(1.0, float, min=0, max=1,
                             help="weight of the residual where y is clipped, i.e. where the target is the "
                                  "network's own estimate (1: eq. 11 as its text reads; 0: the residual on reliable "
                                  "samples only)"),
    }

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        if not params["g_min"] <= params["g_max"]:
            raise ValueError(f"{where}.g_max = {params['g_max']!r}: need g_min <= g_max (g_min = {params['g_min']})")

    def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
        import torch

        p = self.params
        g = sample_gains(len(x_hat), p["g_min"], p["g_max"], p["distribution"], generator, device=x_hat.device)
        weights = None if p["core_weight"] == 1.0 else ei_target_weights(y, physics, p["core_weight"])
        if p["target_on_clipped"] == "measurement":
            x_hat = torch.where(clipped_mask(y, physics), y, x_hat)
        return ei_loss(x_hat, model, physics, g, stop_gradient=p["stop_gradient"], reduction="item",
                       sample_weight=weights, max_saturated_fraction=p["max_saturated_fraction"])
