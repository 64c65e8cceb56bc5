"""The supervised loss ``||f(y) - x||^2`` (the baselines' training loss)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a loss is computed: the workflow reads the declarations without it
    import torch

from .base import Loss, register
from .mc import _reduce


def supervised_loss(x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return _reduce((x_hat - x) ** 2, reduction)


@register
class SupervisedLoss(Loss):
    """Squared error against the clean signal: needs (y, x) pairs."""

    name = "supervised"
    needs_clean = True

    def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
        if x is None:
            raise ValueError("the supervised loss needs the clean signals x")
        return supervised_loss(x_hat, x, reduction="item")
