"""A private helper module: anything only this method uses lives in its folder, imported relatively."""

import numpy as np


def scale_clipped(y: np.ndarray, low: float, high: float, gain: float) -> np.ndarray:
    """``y`` with its clipped samples multiplied by ``gain`` (float32)."""
    clipped = (y >= high) | (y <= low)
    return np.where(clipped, gain * y, y).astype(np.float32)
