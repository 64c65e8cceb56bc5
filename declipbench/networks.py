"""Networks (PAPER.md section 3).

:class:`UNet1d` is the audio U-Net: an input block, ``depth`` down blocks and ``depth`` up blocks, two
3-tap convolutions + ReLU per block, max-pool down, transposed convolution up, skip connections, channels
doubling from ``channels`` (optionally capped), residual output. With ``bias=False`` (the default) there
is no additive constant anywhere, so the network is positively homogeneous: ``f(l y) = l f(y)``, ``l > 0``.

:class:`MaskedReconstructor` is the masking blend of eq. 13: ``x_hat = m * f(y) + (1 - m) * y`` with
``m = 1`` on clipped samples, so reliable samples are returned exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .physics import Thresholds, clipped_mask, masks


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, bias: bool, conv: type, kernel: int = 3):
        super().__init__()
        self.conv1 = conv(c_in, c_out, kernel, padding=kernel // 2, bias=bias)
        self.conv2 = conv(c_out, c_out, kernel, padding=kernel // 2, bias=bias)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class UNet(nn.Module):
    """Bias-free (by default) U-Net in 1-D or 2-D with a residual output.

    Input/output shape ``(batch, in_channels, *spatial)``. Spatial sizes are zero-padded to a multiple
    of ``2**depth`` internally (zero padding keeps the network homogeneous) and cropped back.
    """

    def __init__(self, dim: int = 1, in_channels: int = 1, channels: int = 64, depth: int = 5,
                 max_channels: int | None = None, bias: bool = False, residual: bool = True,
                 out_channels: int | None = None):
        super().__init__()
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim}")
        if depth < 1 or channels < 1:
            raise ValueError(f"depth and channels must be >= 1, got depth={depth}, channels={channels}")
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        up = nn.ConvTranspose1d if dim == 1 else nn.ConvTranspose2d
        self.dim, self.depth, self.residual = dim, depth, residual
        self._pool = F.max_pool1d if dim == 1 else F.max_pool2d

        def width(level: int) -> int:
            c = channels * 2**level
            return min(c, max_channels) if max_channels else c

        self.inc = _Block(in_channels, width(0), bias, conv)
        self.down = nn.ModuleList(_Block(width(l - 1), width(l), bias, conv) for l in range(1, depth + 1))
        self.upconv = nn.ModuleList(up(width(l), width(l - 1), 2, stride=2, bias=bias) for l in range(depth, 0, -1))
        self.up = nn.ModuleList(_Block(2 * width(l - 1), width(l - 1), bias, conv) for l in range(depth, 0, -1))
        self.out_channels = out_channels or in_channels
        self.out = conv(width(0), self.out_channels, 1, bias=bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        spatial = y.shape[2:]
        m = 2**self.depth
        pad = []
        for s in reversed(spatial):  # F.pad wants the last dimension first
            pad += [0, (-s) % m]
        h = F.pad(y, pad) if any(pad) else y
        skips = [self.inc(h)]
        for block in self.down:
            skips.append(block(self._pool(skips[-1], 2)))
        h = skips.pop()
        for upconv, block in zip(self.upconv, self.up):
            h = block(torch.cat([upconv(h), skips.pop()], dim=1))
        h = self.out(h)
        if self.dim == 1:
            h = h[..., : spatial[0]]
        else:
            h = h[..., : spatial[0], : spatial[1]]
        return y[:, : self.out_channels] + h if self.residual else h


def UNet1d(**kw) -> UNet:
    return UNet(dim=1, **kw)


def UNet2d(**kw) -> UNet:
    return UNet(dim=2, **kw)


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


class SkipMLP(nn.Module):
    """MLP with a skip connection for the synthetic subspace experiment (input 100, hidden 100, depth 5)."""

    def __init__(self, n: int = 100, hidden: int = 100, depth: int = 5, bias: bool = False):
        super().__init__()
        layers, d = [], n
        for _ in range(depth - 1):
            layers += [nn.Linear(d, hidden, bias=bias), nn.ReLU()]
            d = hidden
        layers.append(nn.Linear(d, n, bias=bias))
        self.body = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.body(y)
