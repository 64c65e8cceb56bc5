"""The masking blend of eq. 13: ``x_hat = m * f(y) + (1 - m) * y`` with ``m = 1`` on clipped samples, so
reliable samples are returned exactly (the paper's eq. 13)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..physics.clipping import Thresholds, clipped_mask, masks


class MaskedReconstructor(nn.Module):
    """Eq. 13: keep reliable samples of ``y``, take the network's output on clipped ones.

    ``dilation`` widens the clipped mask by that many samples on each side (a config option; the paper's
    mask is the hard one, dilation 0).
    """

    def __init__(self, net: nn.Module, thresholds: Thresholds, masking: bool = True, dilation: int = 0,
                 reliable_channel: bool = False, consistent: bool = False):
        super().__init__()
        self.net, self.thresholds, self.masking, self.dilation = net, thresholds, masking, int(dilation)
        # consistent: on clipped samples return the threshold plus a non-negative excess,
        # x_hat = y + relu(f(y) - y) on H and y - relu(y - f(y)) on L, so eta(x_hat) = y holds by
        # construction (L_MC = 0). relu keeps the reconstructor positively homogeneous.
        self.consistent = bool(consistent)
        # feed [y, (1 - m) * y] (the measurement and its reliable part) instead of y alone: tells the
        # network where clipping happened while keeping the input homogeneous in y
        self.reliable_channel = bool(reliable_channel)

    def mask(self, y: torch.Tensor) -> torch.Tensor:
        m = clipped_mask(y, self.thresholds).to(y.dtype)
        if self.dilation > 0:
            k = 2 * self.dilation + 1
            pool = F.max_pool1d if y.ndim == 3 else F.max_pool2d
            m = pool(m, k, stride=1, padding=self.dilation)
        return m

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        m = self.mask(y)
        if self.reliable_channel:
            out = self.net(torch.cat([y, (1 - m) * y], dim=1))
        else:
            out = self.net(y)
        if self.consistent:
            _, high, low = masks(y, self.thresholds)
            d = out - y
            return y + high.to(y.dtype) * torch.relu(d) - low.to(y.dtype) * torch.relu(-d)
        if not self.masking:
            return out
        return m * out + (1 - m) * y
