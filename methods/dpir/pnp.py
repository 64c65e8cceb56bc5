"""PnP DPIR (Zhang et al. 2021) for clipped measurements.

``K = 8`` iterations of ``x <- prox_{1/rho_k}(z)``, ``z <- D(x, sigma_k)`` with ``sigma_k`` log-spaced from
49/255 to the target ``sigma`` and ``rho_k = lambda sigma^2 / sigma_k^2`` (``lambda = 0.23``), the data step
being DPIR's ``argmin_x ||data(x)||^2 + rho_k ||x - z||^2``, i.e. the clipping prox
(:func:`declipbench.physics.prox.clip_prox`) with ``gamma = 1 / rho_k``. It starts from ``y`` plus white
Gaussian noise (std ``init_noise``) and, by default, returns the projection of the last denoised image onto
the consistent set (``project``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from declipbench.physics.clipping import Thresholds
from declipbench.physics.prox import clip_prox


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
