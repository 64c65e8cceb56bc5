"""The U-Net of the paper, in 1-D (audio) and 2-D (images).

``depth`` is the number of poolings: an input block, ``depth`` down blocks (each after a max-pool by 2) and
``depth`` up blocks, so ``depth + 1`` resolution levels, and inputs padded to a multiple of ``2**depth``.
The first author's 1-D U-Net (``deepinv.models.UNet(dim=1, scales=5)``, ``vsechaud/deepinv`` 610c416,
``deepinv/models/unet.py``: blocks Conv1-Conv5, four max-pools, channels 64 to 1024, padding to a multiple
of 16) is ``depth=4, channels=64``; the paper's appendix counts its "5 down and 5 up blocks" as the five
levels. Two 3-tap convolutions + ReLU per block,
max-pool down, transposed convolution up, skip connections, channels doubling from ``channels``
(optionally capped), residual output. With ``bias=False`` (the default) there is no additive constant
anywhere, so the network is positively homogeneous: ``f(l y) = l f(y)``, ``l > 0``.

Two details of the first author's 1-D U-Net (``deepinv.models.UNet(dim=1)`` in the fork
``vsechaud/deepinv``, commit 610c416) are options: ``padding="replicate"`` (the input is extended on the
right by repeating its last sample up to a multiple of ``2**depth``, as its ``test_pad1d``; ours pads
with zeros) and ``upsampling="nearest"`` (nearest-neighbour upsampling by 2, a 3-tap convolution and a
ReLU, as its ``up_conv``; ours is a transposed convolution of kernel 2, stride 2). Both keep the network
positively homogeneous. The residual output (``x_hat = y + net(y)``) is the same in both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
                 out_channels: int | None = None, padding: str = "zeros", upsampling: str = "transposed"):
        super().__init__()
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim}")
        if padding not in ("zeros", "replicate"):
            raise ValueError(f"padding must be 'zeros' or 'replicate', got {padding!r}")
        if upsampling not in ("transposed", "nearest"):
            raise ValueError(f"upsampling must be 'transposed' or 'nearest', got {upsampling!r}")
        self.padding = padding
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
        if upsampling == "transposed":
            self.upconv = nn.ModuleList(up(width(l), width(l - 1), 2, stride=2, bias=bias) for l in range(depth, 0, -1))
        else:
            self.upconv = nn.ModuleList(
                nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(width(l), width(l - 1), 3, padding=1, bias=bias),
                              nn.ReLU())
                for l in range(depth, 0, -1))
        self.up = nn.ModuleList(_Block(2 * width(l - 1), width(l - 1), bias, conv) for l in range(depth, 0, -1))
        self.out_channels = out_channels or in_channels
        self.out = conv(width(0), self.out_channels, 1, bias=bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        spatial = y.shape[2:]
        m = 2**self.depth
        pad = []
        for s in reversed(spatial):  # F.pad wants the last dimension first
            pad += [0, (-s) % m]
        h = F.pad(y, pad, mode="constant" if self.padding == "zeros" else "replicate") if any(pad) else y
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
