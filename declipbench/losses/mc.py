"""Measurement consistency: the naive loss of eq. 6 and the loss of eq. 7 (the paper's eqs. 6 and 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a loss is computed: the workflow reads the declarations without it
    import torch

from ..physics.clipping import Thresholds, clip, masks
from .base import Loss, per_item, register


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    """``mean`` over everything, or ``item``: one mean per item (batch on the first axis)."""
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "item":
        return per_item(per_sample)
    raise ValueError(f"unknown reduction {reduction!r}")


def naive_mc_loss(x_hat: torch.Tensor, y: torch.Tensor, th: Thresholds, reduction: str = "mean") -> torch.Tensor:
    """Eq. 6, ``||y - eta(x_hat)||^2``: an illustration only, its gradient vanishes beyond tau."""
    return _reduce((y - clip(x_hat, th)) ** 2, reduction)


def _phi(t: torch.Tensor) -> torch.Tensor:
    """One-sided penalty ``phi(t) = max(t, 0)^2``."""
    import torch

    return torch.relu(t) ** 2


def mc_loss(x_hat: torch.Tensor, y: torch.Tensor, th: Thresholds, reduction: str = "mean") -> torch.Tensor:
    """Eq. 7: squared error on reliable samples, one-sided penalty on clipped ones, as a mean over all
    samples."""
    import torch

    reliable, high, low = masks(y, th)
    per_sample = torch.where(reliable, (x_hat - y) ** 2, torch.zeros_like(x_hat))
    per_sample = per_sample + torch.where(high, _phi(th.high - x_hat), torch.zeros_like(x_hat))
    per_sample = per_sample + torch.where(low, _phi(x_hat - th.low), torch.zeros_like(x_hat))
    return _reduce(per_sample, reduction)


@register
class MCLoss(Loss):
    """Measurement consistency (eq. 7)."""

    name = "mc"

    def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
        return mc_loss(x_hat, y, physics, reduction="item")


@register
class NaiveMCLoss(Loss):
    """The naive measurement consistency of eq. 6 (it cannot train: Figure 2)."""

    name = "naive_mc"

    def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
        return naive_mc_loss(x_hat, y, physics, reduction="item")
