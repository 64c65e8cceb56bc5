"""The virtual camera of the HDR experiments (the paper's HDR experiments), after Eilertsen et al. 2017.

1. exposure: ``x = H / Q_q(max_c H)`` with ``q ~ U[q_min, q_max]`` (default [0.85, 0.95]); the quantile is
   taken over the per-pixel maximum over the colour channels, so a fraction ``1 - q`` of the pixels has at
   least one channel above 1 (the saturation level);
2. camera curve ``f(x) = (1 + s) x^n / (x^n + s)`` (``n = 0.9``, ``s = 0.6`` by default, or sampled
   ``n ~ N(0.9, 0.1)``, ``s ~ N(0.6, 0.1)`` as Eilertsen et al.), ``f(1) = 1``;
3. 8-bit quantisation ``round(255 f) / 255`` and clipping to [0, 1], code 255 reserved for ``f >= 1``
   (:func:`quantise`).

Domain of the methods (a choice, the paper does not state it): **linear, exposure-normalised radiance**.
The measurement handed to methods is ``y = f^-1(Q(f(x)))``: the curve is known and invertible, so ``y`` is
``min(x, 1)`` up to quantisation noise, which is the clipping model ``y = eta(x)`` with ``tau_max = 1`` of
the paper's forward model, and amplitude scaling of ``x`` is a change of exposure. :func:`display` is the tone map
for viewing and NIQE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# ------------------------------------------------------------------------------------ virtual camera
@dataclass(frozen=True)
class CameraCurve:
    """``f(x) = (1 + sigma) x^n / (x^n + sigma)``: ``f(0) = 0``, ``f(1) = 1``, increasing, ``f < 1 + sigma``."""

    n: float = 0.9
    sigma: float = 0.6

    def __post_init__(self) -> None:
        if not (self.n > 0 and math.isfinite(self.n)):
            raise ValueError(f"camera curve: n must be > 0, got {self.n}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"camera curve: sigma must be > 0, got {self.sigma}")

    def __call__(self, x):
        xn = np.power(np.maximum(np.asarray(x, dtype=np.float64), 0.0), self.n)
        return (1 + self.sigma) * xn / (xn + self.sigma)

    def inverse(self, v):
        """``f^-1(v) = (sigma v / (1 + sigma - v))^(1/n)`` for ``0 <= v < 1 + sigma``."""
        v = np.asarray(v, dtype=np.float64)
        if np.any(v < 0) or np.any(v >= 1 + self.sigma):
            raise ValueError(f"camera curve inverse is defined on [0, {1 + self.sigma}), got values in "
                             f"[{float(v.min())}, {float(v.max())}]")
        return np.power(self.sigma * v / (1 + self.sigma - v), 1.0 / self.n)


def sample_curve(rng: np.random.Generator, n_mean: float = 0.9, n_std: float = 0.1,
                 sigma_mean: float = 0.6, sigma_std: float = 0.1) -> CameraCurve:
    """Eilertsen et al.'s sampling, ``n ~ N(0.9, 0.1)``, ``sigma ~ N(0.6, 0.1)``, truncated to
    ``n >= 0.3`` and ``sigma >= 0.1`` (a choice: the normal laws have negligible mass below)."""
    return CameraCurve(max(float(rng.normal(n_mean, n_std)), 0.3), max(float(rng.normal(sigma_mean, sigma_std)), 0.1))


def exposure_scale(radiance: np.ndarray, q: float) -> float:
    """The q-quantile of the per-pixel maximum over channels (``radiance`` is ``... x H x W x C`` or
    ``C x H x W`` is *not* accepted: channels last). Dividing by it saturates a fraction ``1 - q``."""
    if not 0 < q < 1:
        raise ValueError(f"exposure quantile q must be in (0, 1), got {q}")
    peak = np.asarray(radiance).max(axis=-1)
    s = float(np.quantile(peak, q))
    if not s > 0:
        raise ValueError(f"exposure: the {q:.3f}-quantile of the radiance is {s}; the image is mostly black")
    return s


def quantise(v: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise to ``bits`` bits and clip to [0, 1] (eq. 16): ``round(L v) / L`` with ``L = 2^bits - 1``,
    the top code ``L`` reserved for saturation (``v >= 1``; below 1 at most ``L - 1``).

    Reserving the top code (a choice; the paper does not give eq. 16's rounding) keeps the clip level
    exact: a pixel reads 1 if and only if ``f(x) >= 1``, i.e. ``x >= 1``, so the measurement in the
    linear domain is exactly ``eta(x)`` with ``tau_max = 1`` on saturated pixels, and the saturated
    fraction is exactly ``1 - q``. Plain rounding would also saturate ``f(x)`` in ``[1 - 0.5/L, 1)``.
    """
    levels = float(2**int(bits) - 1)
    v = np.asarray(v, dtype=np.float64)
    q = np.minimum(np.round(np.maximum(v, 0.0) * levels), levels - 1) / levels
    return np.where(v >= 1.0, 1.0, q)


def camera_measure(x: np.ndarray, curve: CameraCurve, bits: int = 8) -> np.ndarray:
    """Measurement of exposure-normalised radiance ``x`` in the linear domain: ``f^-1(Q(f(x)))``.

    Saturated pixels come out at exactly 1 (``f^-1(1) = 1``); reliable ones at ``x`` plus
    quantisation noise. Returns float32 with the shape of ``x``.
    """
    return curve.inverse(quantise(curve(x), bits)).astype(np.float32)


def saturated_fraction(y: np.ndarray, channel_axis: int = -1, level: float = 1.0) -> float:
    """Fraction of pixels with at least one channel at or above ``level`` (the clip level)."""
    return float(np.mean(np.any(np.asarray(y) >= level, axis=channel_axis)))


def virtual_camera(radiance: np.ndarray, rng: np.random.Generator, q_range=(0.85, 0.95),
                   curve: CameraCurve | None = None, bits: int = 8) -> dict:
    """Expose, curve, quantise and clip one HDR image (``H x W x 3``, linear radiance).

    ``curve=None`` samples it as Eilertsen et al. (:func:`sample_curve`). Returns ``x`` (exposure-
    normalised linear radiance, the ground truth), ``y`` (the linear-domain measurement
    :func:`camera_measure`), ``ldr`` (the 8-bit camera image in [0, 1]), ``q``, ``scale``, ``n``,
    ``sigma`` and ``saturated`` (fraction of saturated pixels).
    """
    q_lo, q_hi = float(q_range[0]), float(q_range[1])
    if not 0 < q_lo <= q_hi < 1:
        raise ValueError(f"q_range must satisfy 0 < q_min <= q_max < 1, got {q_range}")
    q = float(rng.uniform(q_lo, q_hi))
    curve = curve or sample_curve(rng)
    scale = exposure_scale(radiance, q)
    x = (np.asarray(radiance, dtype=np.float64) / scale).astype(np.float32)
    ldr = quantise(curve(x), bits)
    y = curve.inverse(ldr).astype(np.float32)
    return {"x": x, "y": y, "ldr": ldr.astype(np.float32), "q": q, "scale": scale, "n": curve.n,
            "sigma": curve.sigma, "saturated": saturated_fraction(y)}


def display(x: np.ndarray, curve: CameraCurve | None = None, bits: int = 8) -> np.ndarray:
    """Display-referred 8-bit image of linear radiance (for figures and NIQE): the camera curve
    rescaled by its asymptote, ``Q(f(x) / (1 + sigma))``, which never clips. Returns uint8."""
    curve = curve or CameraCurve()
    levels = 2**int(bits) - 1
    v = curve(np.maximum(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=1e30), 0)) / (1 + curve.sigma)
    return np.clip(np.round(v * levels), 0, levels).astype(np.uint8 if bits <= 8 else np.uint16)


def measure_items(x: np.ndarray, camera: np.ndarray, bits: int = 8) -> np.ndarray:
    """Virtual-camera measurements of items ``x`` (``N x 3 x H x W``, exposure-normalised) with their
    per-item camera parameters (``N x 3``: q, n, sigma): ``f^-1(Q(f(x)))`` in the linear domain."""
    if len(camera) != len(x):
        raise ValueError(f"{len(x)} items but {len(camera)} rows of camera parameters")
    out = np.empty_like(x, dtype=np.float32)
    for i in range(len(x)):
        out[i] = camera_measure(x[i], CameraCurve(float(camera[i, 1]), float(camera[i, 2])), bits)
    return out
