"""The unfolded HQS network of the paper (its HDR network): ``K`` iterations of the clipping prox and a
learned denoiser, trained end to end like the U-Net (Table 4's network at paper scale)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..physics.clipping import Thresholds
from ..physics.prox import clip_prox


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
