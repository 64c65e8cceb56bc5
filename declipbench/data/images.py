"""HDR image items for the datasets: patches and crops of radiance maps, each exposed by the virtual
camera (:mod:`declipbench.physics.camera`), and the files an image dataset writes.

An image dataset writes ``{split}.npy`` (items x 3 x S x S float32, exposure-normalised linear radiance:
the clean signals ``x``, saturation level 1) and ``{split}_camera.npy`` (items x 3: q, n, sigma), from
which the measure step makes ``y = f^-1(Q(f(x)))``. Reading ``.hdr`` / ``.exr`` files is in
:mod:`declipbench.data.hdrio`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..physics.camera import CameraCurve, exposure_scale, sample_curve, saturated_fraction
from ..foundation.parameters import Param

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
CAMERA_PARAMETERS = {
    "size": Param(128, int, min=16, help="val/test images: downscaled and centre-cropped to size x size"),
    "patch": Param(64, int, min=16, help="training patches: patch x patch"),
    "patches_per_image": Param(8, int, min=1),
    "train_downscale": Param(1, int, min=1, help="integer box downscaling of training images before cutting patches"),
    "q_min": Param(0.85, float, above=0, below=1, help="exposure quantile q ~ U[q_min, q_max]"),
    "q_max": Param(0.95, float, above=0, below=1),
    "curve": Param("fixed", choices=("fixed", "sampled"),
                   help="fixed (n, sigma below) or sampled as Eilertsen et al. (n ~ N(0.9, 0.1), sigma ~ N(0.6, 0.1))"),
    "n": Param(0.9, float, above=0),
    "sigma": Param(0.6, float, above=0),
    "bits": Param(8, int, min=1),
}
CAMERA_FIELDS = ("q", "n", "sigma")  # columns of {split}_camera.npy


def check_camera_params(p: dict, where: str = "datasets.<name>.params") -> None:
    """What the declaration cannot say alone: ``q_min <= q_max``."""
    if not float(p["q_min"]) <= float(p["q_max"]):
        raise ValueError(f"{where}: need q_min <= q_max, got q_min={p['q_min']}, q_max={p['q_max']}")


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
