"""Synthetic HDR scenes through the virtual camera: the embedded, offline image dataset of the demo.

Each scene is drawn by :func:`declipbench.hdr.synthetic_scene` from ``(seed, split, index)`` alone
(smooth gradients, log-normal 1/f textures, objects with sharp edges, small light sources 1-3 decades
above the median), so a scene does not depend on how many others are made. The virtual camera's
exposure (``q ~ U[q_min, q_max]``) and curve parameters are drawn per scene from the same seed.

Written: ``{split}.npy`` (items x 3 x S x S, float32, exposure-normalised linear radiance, the clean
signals ``x``; saturation level 1) and ``{split}_camera.npy`` (items x 3: q, n, sigma) from which the
measurement step makes ``y = f^-1(Q(f(x)))``. ``splits`` counts *scenes*: a training scene gives
``patches_per_image`` patches of ``patch x patch``; a val/test scene one ``size x size`` image.
"""

from __future__ import annotations

import logging
from pathlib import Path

from declipbench import hdr
from declipbench.plugins import dataset_params

MODALITY = "image"
NEEDS_DOWNLOAD = False
DEFAULTS = {
    **hdr.CAMERA_DEFAULTS,
    "splits": {"train": 32, "val": 4, "test": 8},
    "scene_size": 128,  # scenes are scene_size x scene_size before cropping/patching
    "seed": 0,
}
log = logging.getLogger("declipbench.datasets.synthetic_hdr")


def prepare(params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    p = dataset_params(DEFAULTS, params)
    hdr.check_camera_params(p)
    s = int(p["scene_size"])
    if s < max(int(p["size"]), int(p["patch"])):
        raise ValueError(f"datasets.<name>.params.scene_size = {s}: must be >= size ({p['size']}) and patch ({p['patch']})")
    manifest = {"dataset": "synthetic_hdr", "modality": MODALITY, "params": p, "splits": {},
                "domain": "linear exposure-normalised radiance (saturation level 1)"}
    for split in ("train", "val", "test"):
        items, cams = [], []
        for i in range(int(p["splits"].get(split, 0))):
            scene = hdr.synthetic_scene(hdr.item_rng(p["seed"], split, i, "scene").integers(0, 2**63 - 1), s, s)
            x, cam = hdr.camera_items(scene, split, p, hdr.item_rng(p["seed"], split, i, "camera"))
            items.append(x)
            cams.append(cam)
        size = int(p["patch"] if split == "train" else p["size"])
        manifest["splits"][split] = hdr.write_split(out_dir, split, items, cams, size)
        log.info("%s: %d items from %d scenes", split, manifest["splits"][split]["items"], len(items))
    return manifest
