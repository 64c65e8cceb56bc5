"""HDR images: a synthetic scene generator and the virtual camera (PAPER.md section 5).

Reading ``.hdr`` / ``.exr`` files is in :mod:`declipbench.hdrio` (kept apart so that only the data
step needs the OpenEXR package).

Synthetic scenes
    :func:`synthetic_scene` draws a deterministic linear-radiance scene from a seed: a smooth sky-like
    gradient, textured regions (1/f noise, multiplicative, so the luminance histogram is heavy tailed),
    objects with sharp edges, and a few small light sources 1-3 decades brighter than the rest.

Virtual camera (after Eilertsen et al. 2017)
    1. exposure: ``x = H / Q_q(max_c H)`` with ``q ~ U[q_min, q_max]`` (default [0.85, 0.95]); the
       quantile is taken over the per-pixel maximum over the colour channels, so a fraction ``1 - q`` of
       the pixels has at least one channel above 1 (the saturation level);
    2. camera curve ``f(x) = (1 + s) x^n / (x^n + s)`` (``n = 0.9``, ``s = 0.6`` by default, or sampled
       ``n ~ N(0.9, 0.1)``, ``s ~ N(0.6, 0.1)`` as Eilertsen et al.), ``f(1) = 1``;
    3. 8-bit quantisation ``round(255 f) / 255`` and clipping to [0, 1], code 255 reserved for
       ``f >= 1`` (:func:`quantise`).

    Domain of the methods (a choice, the paper does not state it): **linear, exposure-normalised
    radiance**. The measurement handed to methods is ``y = f^-1(Q(f(x)))``: the curve is known and
    invertible, so ``y`` is ``min(x, 1)`` up to quantisation noise, which is the clipping model
    ``y = eta(x)`` with ``tau_max = 1`` of PAPER.md section 1, and amplitude scaling of ``x`` is a
    change of exposure. :func:`display` is the tone map for viewing and NIQE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .seeding import item_rng  # noqa: F401  (datasets call hdr.item_rng)

# ---------------------------------------------------------------------------------- synthetic scenes
def _pink_noise(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian field with a ``1/f^beta`` amplitude spectrum."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**beta
    spec[0, 0] = 0.0
    field = np.fft.irfft2(spec, s=(h, w))
    return field / max(float(field.std()), 1e-12)


def synthetic_scene(seed, height: int = 128, width: int = 128) -> np.ndarray:
    """A deterministic linear-radiance HDR scene (float32 ``H x W x 3``, positive).

    ``seed``: an int or a sequence of ints (e.g. ``[seed, split, index]``). Layers: a smooth two-colour
    gradient (sky/ground), log-normal 1/f textures (heavy-tailed luminance), 2-5 objects with sharp
    edges and their own texture and tint, and 1-4 small bright light sources (disc plus glare halo,
    10-1000x the median radiance).
    """
    rng = np.random.default_rng(seed)
    h, w = int(height), int(width)
    if h < 8 or w < 8:
        raise ValueError(f"synthetic_scene: size must be at least 8 x 8, got {h} x {w}")
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    # smooth gradient between two tints, with a horizon
    horizon = rng.uniform(0.3, 0.7)
    top, bottom = rng.uniform(0.4, 1.0, 3), rng.uniform(0.1, 0.6, 3)
    t = np.clip((yy - horizon) / 0.15 + 0.5, 0, 1)[..., None]
    tilt = np.exp(rng.uniform(-0.7, 0.7) * (xx - 0.5))[..., None]
    sky = np.exp(rng.uniform(0.5, 1.5) * (1 - yy))[..., None] * top
    ground = rng.uniform(0.1, 0.5) * bottom * np.ones((h, w, 1))
    img = ((1 - t) * sky + t * ground) * tilt
    # heavy-tailed texture: multiplicative log-normal 1/f field
    tex = np.exp(rng.uniform(0.3, 0.8) * _pink_noise(rng, h, w, rng.uniform(1.0, 1.6)))
    img = img * tex[..., None]
    # objects with sharp edges, their own reflectance and fine texture
    for _ in range(rng.integers(2, 6)):
        cy, cx = rng.uniform(0.1, 0.9, 2)
        ry, rx = rng.uniform(0.05, 0.25, 2)
        if rng.random() < 0.5:
            inside = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
        else:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        refl = rng.uniform(0.05, 1.5) * rng.uniform(0.3, 1.0, 3)
        fine = np.exp(rng.uniform(0.1, 0.5) * _pink_noise(rng, h, w, rng.uniform(0.6, 1.0)))
        img = np.where(inside[..., None], refl * fine[..., None] * (0.6 + 0.4 * tex[..., None]), img)
    # small bright light sources with a glare halo
    med = float(np.median(img))
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.uniform(0.05, 0.95, 2)
        r = rng.uniform(0.01, 0.05)
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / r**2
        peak = med * 10 ** rng.uniform(1.0, 3.0)
        colour = rng.uniform(0.7, 1.0, 3)
        core = np.clip(1.5 - d2, 0, 1)
        halo = 0.05 * np.exp(-np.sqrt(d2) / 3.0)
        img = img + peak * (core + halo)[..., None] * colour
    return np.maximum(img, 1e-6 * med).astype(np.float32)


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


# --------------------------------------------------------------------------------------- patches
def downscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter downscaling of ``H x W x C`` by an integer factor (keeps mean radiance)."""
    f = int(factor)
    if f <= 1:
        return img
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    return img[:h, :w].reshape(h // f, f, w // f, f, -1).mean(axis=(1, 3)).astype(img.dtype)


def fit_to(img: np.ndarray, size: int) -> np.ndarray:
    """Downscale by the largest integer factor keeping the short side >= ``size``, then centre-crop
    ``size x size`` (``H x W x C``). Raises if the image is smaller than ``size``."""
    h, w = img.shape[:2]
    if min(h, w) < size:
        raise ValueError(f"image of {h} x {w} pixels is smaller than the requested {size} x {size}")
    img = downscale(img, min(h, w) // size)
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return img[top : top + size, left : left + size]


def random_patches(img: np.ndarray, size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random ``size x size`` patches of ``H x W x C`` as ``count x C x size x size``."""
    h, w = img.shape[:2]
    if min(h, w) < size:
        raise ValueError(f"image of {h} x {w} pixels is smaller than the patch size {size}")
    tops = rng.integers(0, h - size + 1, int(count))
    lefts = rng.integers(0, w - size + 1, int(count))
    out = np.stack([img[t : t + size, l : l + size] for t, l in zip(tops, lefts)]) if count else \
        np.zeros((0, size, size, img.shape[2]), img.dtype)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


# ------------------------------------------------------------------------------- image datasets
CAMERA_DEFAULTS = {
    "size": 128,  # val/test images: downscaled and centre-cropped to size x size
    "patch": 64,  # training patches: patch x patch
    "patches_per_image": 8,
    "train_downscale": 1,  # integer box downscaling of training images before cutting patches
    "q_min": 0.85,
    "q_max": 0.95,
    "curve": "fixed",  # fixed (n, sigma below) | sampled (Eilertsen et al.: n ~ N(0.9, 0.1), sigma ~ N(0.6, 0.1))
    "n": 0.9,
    "sigma": 0.6,
    "bits": 8,
}
CAMERA_FIELDS = ("q", "n", "sigma")  # columns of {split}_camera.npy


def check_camera_params(p: dict, where: str = "datasets.<name>.params") -> None:
    for key in ("size", "patch", "patches_per_image", "train_downscale", "bits"):
        if int(p[key]) < 1:
            raise ValueError(f"{where}.{key} = {p[key]!r}: must be >= 1")
    if int(p["size"]) < 16 or int(p["patch"]) < 16:
        raise ValueError(f"{where}: size and patch must be >= 16, got size={p['size']}, patch={p['patch']}")
    if not 0 < float(p["q_min"]) <= float(p["q_max"]) < 1:
        raise ValueError(f"{where}: need 0 < q_min <= q_max < 1, got q_min={p['q_min']}, q_max={p['q_max']}")
    if p["curve"] not in ("fixed", "sampled"):
        raise ValueError(f"{where}.curve = {p['curve']!r}: must be 'fixed' or 'sampled'")
    CameraCurve(float(p["n"]), float(p["sigma"]))


def camera_items(radiance: np.ndarray, split: str, p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exposure-normalised items of one HDR image (``H x W x 3``) for one split, and their camera
    parameters (``q, n, sigma`` per item). val/test: one ``size x size`` image (downscaled, centre crop)
    exposed on itself; train: the image (``train_downscale``) exposed on itself, then
    ``patches_per_image`` random patches. Items are ``N x 3 x S x S`` float32."""
    curve = CameraCurve(float(p["n"]), float(p["sigma"])) if p["curve"] == "fixed" else sample_curve(rng)
    q = float(rng.uniform(float(p["q_min"]), float(p["q_max"])))
    if split == "train":
        img = downscale(radiance, int(p["train_downscale"]))
        x = img / exposure_scale(img, q)
        items = random_patches(x, int(p["patch"]), int(p["patches_per_image"]), rng)
    else:
        img = fit_to(radiance, int(p["size"]))
        x = img / exposure_scale(img, q)
        items = np.ascontiguousarray(x.transpose(2, 0, 1))[None]
    cam = np.tile(np.array([[q, curve.n, curve.sigma]], np.float64), (len(items), 1))
    return items.astype(np.float32), cam


def measure_items(x: np.ndarray, camera: np.ndarray, bits: int = 8) -> np.ndarray:
    """Virtual-camera measurements of items ``x`` (``N x 3 x H x W``, exposure-normalised) with their
    per-item camera parameters (``N x 3``: q, n, sigma): ``f^-1(Q(f(x)))`` in the linear domain."""
    if len(camera) != len(x):
        raise ValueError(f"{len(x)} items but {len(camera)} rows of camera parameters")
    out = np.empty_like(x, dtype=np.float32)
    for i in range(len(x)):
        out[i] = camera_measure(x[i], CameraCurve(float(camera[i, 1]), float(camera[i, 2])), bits)
    return out


def write_split(out_dir, split: str, items: list[np.ndarray], cams: list[np.ndarray], size: int) -> dict:
    """Save ``{split}.npy`` (items x 3 x S x S float32) and ``{split}_camera.npy`` (items x 3 float64)."""
    from .io import save_npy

    x = np.concatenate(items) if items else np.zeros((0, 3, size, size), np.float32)
    cam = np.concatenate(cams) if cams else np.zeros((0, 3), np.float64)
    save_npy(Path(out_dir) / f"{split}.npy", x.astype(np.float32))
    save_npy(Path(out_dir) / f"{split}_camera.npy", cam)
    sat = [saturated_fraction(a, channel_axis=0) for a in x] if len(x) else []
    return {"items": int(len(x)), "shape": list(x.shape[1:]), "camera_columns": list(CAMERA_FIELDS),
            "saturated_fraction_mean": float(np.mean(sat)) if sat else 0.0}


def measure_images(data_dir, out_dir, tau: float = 1.0, drop_unclipped: bool = True,
                   max_items: dict | None = None, seed: int = 0, chunk: int = 256) -> dict:
    """The measure step for image datasets (``{split}.npy`` items x C x H x W, ``{split}_camera.npy``).

    ``y = f^-1(Q(f(x)))`` with each item's camera (:func:`measure_items`): saturation at 1, so the
    experiment's ``tau`` must be 1 (the clip level of the exposure-normalised radiance). Without a
    camera file, plain clipping ``min(x, tau)``. Items without a saturated pixel are dropped when
    ``drop_unclipped``; ``max_items`` caps a split (seeded choice, original order). Written like the
    audio step: ``{split}_x.npy``, ``{split}_y.npy``, ``{split}_ids.npy``, ``manifest.json``.
    """
    import logging
    import os
    import tempfile

    from . import io

    log = logging.getLogger("declipbench")
    if float(tau) != 1.0:
        raise ValueError(f"image experiments saturate at the exposure-normalised level 1: tau must be 1, got {tau}")
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"tau": 1.0, "modality": "image", "drop_unclipped": drop_unclipped, "max_items": max_items or {},
                "measurement": "virtual camera f^-1(Q(f(x))) per item where {split}_camera.npy exists",
                "splits": {}}
    for split in ("train", "val", "test"):
        path = data_dir / f"{split}.npy"
        x = io.load_npy(path)
        if x.ndim != 4:
            raise ValueError(f"{path}: expected items x C x H x W images, got shape {x.shape}")
        cam_path = data_dir / f"{split}_camera.npy"
        cam = np.asarray(io.load_npy(cam_path)) if cam_path.is_file() else None
        if cam is not None and cam.shape != (len(x), 3):
            raise ValueError(f"{cam_path}: expected {len(x)} x 3 camera parameters (q, n, sigma), got {cam.shape}")
        if cam is None:
            log.warning("%s is absent: %s images are measured by plain clipping min(x, 1), without the "
                        "camera curve and quantisation", cam_path, split)
        finite = np.zeros(len(x), bool)
        saturated = np.zeros(len(x), bool)
        for i in range(0, len(x), chunk):
            xb = np.asarray(x[i : i + chunk], dtype=np.float32)
            finite[i : i + chunk] = np.all(np.isfinite(xb.reshape(len(xb), -1)), axis=1)
            saturated[i : i + chunk] = np.any(xb.reshape(len(xb), -1) >= 1.0, axis=1)
        keep = finite & (saturated if drop_unclipped else True)
        keep_all = keep.copy()
        cap = (max_items or {}).get(split)
        if cap is not None and keep.sum() > cap:
            chosen = np.random.default_rng([seed, 7]).choice(np.flatnonzero(keep), size=int(cap), replace=False)
            keep = np.zeros_like(keep)
            keep[chosen] = True
        ids = np.flatnonzero(keep)
        shape = (len(ids),) + tuple(x.shape[1:])
        tmps = {}
        sat_fracs = []
        try:
            for name in ("x", "y"):
                fd, tmp = tempfile.mkstemp(prefix=f".{split}_{name}.", suffix=".npy", dir=out_dir)
                os.close(fd)
                tmps[name] = Path(tmp)
            mx = np.lib.format.open_memmap(tmps["x"], mode="w+", dtype=np.float32, shape=shape)
            my = np.lib.format.open_memmap(tmps["y"], mode="w+", dtype=np.float32, shape=shape)
            for j in range(0, len(ids), chunk):
                sel = ids[j : j + chunk]
                xb = np.asarray(x[sel], dtype=np.float32)
                yb = measure_items(xb, cam[sel]) if cam is not None else np.minimum(xb, 1.0).astype(np.float32)
                mx[j : j + len(sel)] = xb
                my[j : j + len(sel)] = yb
                sat_fracs += [saturated_fraction(a, channel_axis=0) for a in yb]
            mx.flush(), my.flush()
            del mx, my
            for name in ("x", "y"):
                io.publish(tmps[name], out_dir / f"{split}_{name}.npy")
        finally:
            for t in tmps.values():
                if t.exists():
                    t.unlink()
        io.save_npy(out_dir / f"{split}_ids.npy", ids)
        manifest["splits"][split] = {
            "items_in": int(len(x)), "items_kept": int(len(ids)),
            "dropped_unclipped": int((finite & ~keep_all).sum()), "dropped_nonfinite": int((~finite).sum()),
            "dropped_over_cap": int((keep_all & ~keep).sum()),
            "saturated_pixel_fraction_mean": float(np.mean(sat_fracs)) if sat_fracs else 0.0,
            "measurement": "virtual camera" if cam is not None else "plain clipping (no camera file)",
        }
        log.info("%s: kept %d of %d images; %.1f %% saturated pixels on average", split, len(ids), len(x),
                 100 * manifest["splits"][split]["saturated_pixel_fraction_mean"])
    io.write_json(out_dir / "manifest.json", manifest)
    return manifest
