"""Losses of the paper (PAPER.md section 2), all as means over samples.

- :func:`naive_mc_loss`   eq. 6, ``||y - eta(f(y))||^2`` (illustration only: its gradient vanishes beyond tau)
- :func:`mc_loss`         eq. 7, squared error on reliable samples, one-sided penalty on clipped ones
- :func:`ei_loss`         eq. 11, amplitude equivariance ``E_g ||g x_hat - f(eta(g x_hat))||^2``
- :func:`supervised_loss` ``||f(y) - x||^2``
"""

from __future__ import annotations

from typing import Callable

import torch

from .physics import Thresholds, clip, masks


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    """``mean`` over everything, or ``item``: one mean per item (batch on the first axis)."""
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "item":
        return per_sample.reshape(per_sample.shape[0], -1).mean(dim=1)
    raise ValueError(f"unknown reduction {reduction!r}")


def naive_mc_loss(x_hat: torch.Tensor, y: torch.Tensor, th: Thresholds, reduction: str = "mean") -> torch.Tensor:
    return _reduce((y - clip(x_hat, th)) ** 2, reduction)


def _phi(t: torch.Tensor) -> torch.Tensor:
    """One-sided penalty ``phi(t) = max(t, 0)^2``."""
    return torch.relu(t) ** 2


def mc_loss(x_hat: torch.Tensor, y: torch.Tensor, th: Thresholds, reduction: str = "mean") -> torch.Tensor:
    """Measurement consistency (eq. 7), normalised as a mean over all samples."""
    reliable, high, low = masks(y, th)
    per_sample = torch.where(reliable, (x_hat - y) ** 2, torch.zeros_like(x_hat))
    per_sample = per_sample + torch.where(high, _phi(th.high - x_hat), torch.zeros_like(x_hat))
    per_sample = per_sample + torch.where(low, _phi(x_hat - th.low), torch.zeros_like(x_hat))
    return _reduce(per_sample, reduction)


def sample_gains(n: int, g_min: float, g_max: float, distribution: str, generator: torch.Generator,
                 device=None, dtype=torch.float32) -> torch.Tensor:
    """Draw ``n`` amplitude gains ``g ~ p_g``: ``uniform`` on [g_min, g_max] or ``log_uniform``."""
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    if distribution == "uniform":
        g = g_min + (g_max - g_min) * u
    elif distribution == "log_uniform":
        lo, hi = torch.log(torch.tensor(g_min, dtype=torch.float64)), torch.log(torch.tensor(g_max, dtype=torch.float64))
        g = torch.exp(lo + (hi - lo) * u)
    else:
        raise ValueError(f"unknown gain distribution {distribution!r} (expected 'uniform' or 'log_uniform')")
    return g.to(device=device, dtype=dtype)


def ei_loss(x_hat: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor], th: Thresholds,
            gains: torch.Tensor, stop_gradient: bool = False, reduction: str = "mean",
            sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Amplitude equivariance loss (eq. 11) for one draw of gains per item.

    ``x_hat`` has the batch on its first axis; ``gains`` has one value per item. Gradients flow through
    both ``g x_hat`` and ``f(eta(g x_hat))`` unless ``stop_gradient`` (an option the paper does not use).
    """
    shape = (-1,) + (1,) * (x_hat.ndim - 1)
    x_g = gains.view(shape) * x_hat
    if stop_gradient:
        x_g = x_g.detach()
    x_g_hat = f(clip(x_g, th))
    err = (x_g - x_g_hat) ** 2
    if sample_weight is not None:
        err = err * sample_weight
    return _reduce(err, reduction)


def ei_target_weights(y: torch.Tensor, th: Thresholds, core_weight: float) -> torch.Tensor:
    """Per-sample weights of the EI residual: 1 where ``y`` is reliable (the target ``g x_hat = g y`` is
    measured data), ``core_weight`` where ``y`` is clipped (the target is the network's own estimate).
    ``core_weight = 1`` is eq. 11 as published."""
    reliable, _, _ = masks(y, th)
    return torch.where(reliable, torch.ones_like(y), torch.full_like(y, float(core_weight)))


def supervised_loss(x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return _reduce((x_hat - x) ** 2, reduction)
