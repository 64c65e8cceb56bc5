"""The clipping forward model (the paper's forward model, y = eta(x)): thresholds, the operator eta and its masks.

``y = eta(x)`` with ``eta(x)_i = min(max(x_i, tau_min), tau_max)``. Audio uses symmetric thresholds
``(-tau, tau)``; images use ``(0, 1)``. Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Thresholds:
    """Clipping levels, and the clipping operator itself (``th(x)`` is ``eta(x)``): ``symmetric(tau)`` is
    the audio case, ``upper(1.0)`` the image case. The losses take it as their ``physics``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not self.low < self.high:
            raise ValueError(f"clipping thresholds need low < high, got low={self.low}, high={self.high}")

    @classmethod
    def symmetric(cls, tau: float) -> "Thresholds":
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        return cls(-float(tau), float(tau))

    @classmethod
    def upper(cls, high: float = 1.0, low: float = 0.0) -> "Thresholds":
        return cls(float(low), float(high))

    def __call__(self, x):
        """The forward operator: ``eta(x)``, see :func:`clip`."""
        return clip(x, self)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def clip(x, th: Thresholds):
    """The clipping operator eta (element-wise), for numpy arrays and torch tensors."""
    if _is_torch(x):
        return x.clamp(th.low, th.high)
    return np.clip(x, th.low, th.high)


def masks(y, th: Thresholds):
    """Reliable, clipped-high and clipped-low masks of a measurement ``y`` (booleans).

    ``R = {tau_min < y < tau_max}``, ``H = {y >= tau_max}``, ``L = {y <= tau_min}``.
    """
    high = y >= th.high
    low = y <= th.low
    reliable = ~(high | low)
    return reliable, high, low


def clipped_mask(y, th: Thresholds):
    """Boolean mask of clipped samples (``H | L``)."""
    _, high, low = masks(y, th)
    return high | low


def has_clipping(y, th: Thresholds, axis=-1):
    """Per-item flag: does the measurement contain at least one clipped sample?"""
    m = clipped_mask(y, th)
    if _is_torch(m):
        return m.flatten(start_dim=1).any(dim=1) if m.ndim > 1 else m.any()
    return m.reshape(m.shape[0], -1).any(axis=1) if m.ndim > 1 else m.any()
