"""The MLP of the synthetic subspace experiment (Section 5.2.2 of the paper)."""

from __future__ import annotations

import torch
from torch import nn


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
