"""The proximal operator of the measurement-consistency term (eq. 7), per pixel, in closed form: the data
step of half-quadratic splitting for clipped measurements (PnP DPIR, the unfolded HQS network).

With ``phi(t) = max(t, 0)^2``::

    prox(u) = argmin_x  1/2 (x - u)^2 + gamma/2 * { (x - y)^2           if y is reliable,
                                                     phi(tau_max - x)   if y is clipped high,
                                                     phi(x - tau_min)   if y is clipped low }

    reliable:      x = (u + gamma y) / (1 + gamma)
    clipped high:  x = u if u >= tau_max, else (u + gamma tau_max) / (1 + gamma)
    clipped low:   x = u if u <= tau_min, else (u + gamma tau_min) / (1 + gamma)

``gamma = inf`` is the projection onto the consistent set ``{x : x_R = y_R, x_H >= tau_max, x_L <= tau_min}``.
"""

from __future__ import annotations

import math

import torch

from .clipping import Thresholds, masks


def clip_prox(u: torch.Tensor, y: torch.Tensor, th: Thresholds, gamma) -> torch.Tensor:
    """The closed-form prox of ``gamma/2`` times the per-pixel MC term (module docstring).

    ``gamma``: a positive float, ``math.inf`` (projection), or a tensor broadcastable to ``u``.
    """
    reliable, high, low = masks(y, th)
    if isinstance(gamma, (int, float)) and math.isinf(gamma):
        x_rel, x_high, x_low = y, torch.clamp(u, min=th.high), torch.clamp(u, max=th.low)
    else:
        g = torch.as_tensor(gamma, dtype=u.dtype, device=u.device)
        if torch.any(g <= 0):
            raise ValueError(f"clip_prox: gamma must be > 0, got {gamma}")
        w = g / (1 + g)
        x_rel = (1 - w) * u + w * y
        x_high = torch.where(u >= th.high, u, (1 - w) * u + w * th.high)
        x_low = torch.where(u <= th.low, u, (1 - w) * u + w * th.low)
    return torch.where(reliable, x_rel, torch.where(high, x_high, torch.where(low, x_low, u)))
