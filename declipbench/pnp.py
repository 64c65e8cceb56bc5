"""Half-quadratic splitting for clipped measurements: the closed-form prox of the measurement-consistency
term, PnP DPIR (Zhang et al. 2021) and the unfolded HQS network of the paper (PAPER.md sections 3, 6).

The prox (:func:`clip_prox`), per pixel, with ``phi(t) = max(t, 0)^2``::

    prox(u) = argmin_x  1/2 (x - u)^2 + gamma/2 * { (x - y)^2           if y is reliable,
                                                     phi(tau_max - x)   if y is clipped high,
                                                     phi(x - tau_min)   if y is clipped low }

    reliable:      x = (u + gamma y) / (1 + gamma)
    clipped high:  x = u if u >= tau_max, else (u + gamma tau_max) / (1 + gamma)
    clipped low:   x = u if u <= tau_min, else (u + gamma tau_min) / (1 + gamma)

``gamma = inf`` is the projection onto the consistent set ``{x : x_R = y_R, x_H >= tau_max, x_L <= tau_min}``.

PnP DPIR (:func:`dpir`): ``K = 8`` iterations of ``x <- prox_{1/rho_k}(z)``, ``z <- D(x, sigma_k)`` with
``sigma_k`` log-spaced from 49/255 to the target ``sigma`` and ``rho_k = lambda sigma^2 / sigma_k^2``
(``lambda = 0.23``), the data step being DPIR's ``argmin_x ||data(x)||^2 + rho_k ||x - z||^2``, i.e. the prox
above with ``gamma = 1 / rho_k``. It starts from ``y`` plus white Gaussian noise (std ``init_noise``) and,
by default, returns the projection of the last denoised image onto the consistent set (``project``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from .physics import Thresholds, masks


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


def dpir_schedule(sigma: float, iterations: int = 8, sigma_start: float = 49 / 255, lam: float = 0.23):
    """Denoiser noise levels (log-spaced from ``sigma_start`` to ``sigma``) and data weights ``rho_k``."""
    if not (sigma > 0 and sigma_start > 0):
        raise ValueError(f"DPIR noise levels must be > 0, got sigma={sigma}, sigma_start={sigma_start}")
    if iterations < 1:
        raise ValueError(f"DPIR iterations must be >= 1, got {iterations}")
    sigmas = np.geomspace(sigma_start, sigma, int(iterations))
    rhos = lam * sigma**2 / sigmas**2
    return sigmas, rhos


@torch.no_grad()
def dpir(y: torch.Tensor, denoiser: Callable[[torch.Tensor, float], torch.Tensor], th: Thresholds,
         sigma: float = 1 / 255, iterations: int = 8, sigma_start: float = 49 / 255, lam: float = 0.23,
         init_noise: float = 0.05, generator: torch.Generator | None = None, project: bool = True) -> torch.Tensor:
    """PnP DPIR for clipped measurements ``y`` (``B x C x H x W``); ``denoiser(x, sigma_k)``."""
    sigmas, rhos = dpir_schedule(sigma, iterations, sigma_start, lam)
    noise = torch.randn(y.shape, generator=generator, dtype=torch.float32).to(device=y.device, dtype=y.dtype)
    z = y + float(init_noise) * noise
    for s_k, rho_k in zip(sigmas, rhos):
        x = clip_prox(z, y, th, 1.0 / float(rho_k))
        z = denoiser(x, float(s_k))
    return clip_prox(z, y, th, math.inf) if project else z


class UnfoldedHQS(nn.Module):
    """The unfolded HQS network: ``K`` iterations of ``x <- prox_{gamma_k MC}(z)``, ``z <- D_theta(x)``
    from ``z_0 = y``; returns ``z_K`` (or its projection onto the consistent set with ``project``).

    ``denoisers``: one module (weights shared over iterations) or ``K`` modules. ``gamma_k`` are
    learned, positive (``exp`` of a free parameter), initialised at ``gamma_init``. With bias-free
    denoisers every step is positively homogeneous in ``(z, y, tau)`` jointly.
    """

    def __init__(self, denoisers: nn.Module | list[nn.Module], thresholds: Thresholds, iterations: int = 4,
                 gamma_init: float = 1.0, learn_gamma: bool = True, project: bool = False):
        super().__init__()
        if iterations < 1:
            raise ValueError(f"unfolded HQS: iterations must be >= 1, got {iterations}")
        if isinstance(denoisers, nn.Module):
            self.denoisers = nn.ModuleList([denoisers])
        else:
            if len(denoisers) != iterations:
                raise ValueError(f"unfolded HQS: {len(denoisers)} denoisers for {iterations} iterations")
            self.denoisers = nn.ModuleList(denoisers)
        if not gamma_init > 0:
            raise ValueError(f"unfolded HQS: gamma_init must be > 0, got {gamma_init}")
        log_g = torch.full((iterations,), math.log(gamma_init))
        self.log_gamma = nn.Parameter(log_g) if learn_gamma else nn.Parameter(log_g, requires_grad=False)
        self.thresholds, self.iterations, self.project = thresholds, int(iterations), bool(project)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        z = y
        for k in range(self.iterations):
            x = clip_prox(z, y, self.thresholds, torch.exp(self.log_gamma[k]))
            z = self.denoisers[k if len(self.denoisers) > 1 else 0](x)
        return clip_prox(z, y, self.thresholds, math.inf) if self.project else z
