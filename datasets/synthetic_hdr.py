"""Synthetic HDR scenes through the virtual camera: the embedded, offline image dataset of the demo.

Each scene is drawn by :func:`synthetic_scene` from ``(seed, split, index)`` alone (a smooth sky-like
gradient, textured regions of log-normal 1/f noise so the luminance histogram is heavy tailed, objects
with sharp edges, and a few small light sources 1-3 decades brighter than the rest), so a scene does not
depend on how many others are made. The virtual camera's exposure (``q ~ U[q_min, q_max]``) and curve
parameters are drawn per scene from the same seed.

Written: ``{split}.npy`` (items x 3 x S x S, float32, exposure-normalised linear radiance, the clean
signals ``x``; saturation level 1) and ``{split}_camera.npy`` (items x 3: q, n, sigma) from which the
measurement step makes ``y = f^-1(Q(f(x)))``. ``splits`` counts *scenes*: a training scene gives
``patches_per_image`` patches of ``patch x patch``; a val/test scene one ``size x size`` image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from declipbench import Param
from declipbench.data.images import CAMERA_PARAMETERS, camera_items, check_camera_params, write_split
from declipbench.data.seeding import item_rng, split_counts

MODALITY = "image"
PARAMETERS = {
    **CAMERA_PARAMETERS,
    "splits": split_counts(32, 4, 8, help="scenes (a training scene gives patches_per_image patches)"),
    "scene_size": Param(128, int, min=16, help="scenes are scene_size x scene_size before cropping/patching"),
    "seed": Param(0, int, min=0),
}
log = logging.getLogger("declipbench.datasets.synthetic_hdr")


def check(p: dict, where: str) -> None:
    check_camera_params(p, where)
    if p["scene_size"] < max(p["size"], p["patch"]):
        raise ValueError(f"{where}.scene_size = {p['scene_size']}: must be >= size ({p['size']}) and patch ({p['patch']})")


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



def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    p = params
    s = int(p["scene_size"])
    manifest = {"dataset": "synthetic_hdr", "modality": MODALITY, "params": p, "splits": {},
                "domain": "linear exposure-normalised radiance (saturation level 1)"}
    for split in ("train", "val", "test"):
        items, cams = [], []
        for i in range(int(p["splits"].get(split, 0))):
            scene = synthetic_scene(item_rng(p["seed"], split, i, "scene").integers(0, 2**63 - 1), s, s)
            x, cam = camera_items(scene, split, p, item_rng(p["seed"], split, i, "camera"))
            items.append(x)
            cams.append(cam)
        size = int(p["patch"] if split == "train" else p["size"])
        manifest["splits"][split] = write_split(out_dir, split, items, cams, size)
        log.info("%s: %d items from %d scenes", split, manifest["splits"][split]["items"], len(items))
    return manifest
