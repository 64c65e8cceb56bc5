"""PnP DPIR (Zhang et al. 2021) with the clipping prox as data step (declipbench.pnp.dpir).

Variants: ``official`` loads the released DRUNet (``drunet_color.pth``; strict, no renaming) from
``params.official.cache_dir`` (placed by hand, or downloaded when its sha256 is given: none is
published); ``standin`` trains a small DRUNet of the same architecture as a Gaussian denoiser on the
clean training images (the only use of clean data, hence ``supervision: pairs``) where the official
weights cannot be fetched. Images are ``items x 3 x H x W`` in the linear, exposure-normalised domain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from declipbench.drunet import DRUNet, fetch_weights, load_drunet, save_drunet, train_denoiser
from declipbench.plugins import Context, Method, TrainData
from declipbench.pnp import dpir
from declipbench.training import pick_device

DEFAULTS = {
    "weights": "standin",  # standin | official
    "official": {"kind": "color", "cache_dir": "data/weights", "sha256": None},
    "denoiser": {"widths": [16, 32, 64, 64], "blocks": 1, "steps": 300, "batch_size": 8, "crop": 48,
                 "lr": 0.001, "sigma_max": 50 / 255},
    # sigma: target noise level, one 8-bit step (1/255); sigma_start 49/255 (DPIR); init_noise: std of the
    # white noise added to y at the start (not published; a choice)
    "dpir": {"iterations": 8, "sigma": 1 / 255, "sigma_start": 49 / 255, "lam": 0.23, "init_noise": 0.05,
             "project": True},
    "batch_size": 4,
}

# parameters of the learned methods an experiment's method_defaults may give every method: not DPIR's
SHARED_KEYS = {"network", "training", "masking"}


def _params(ctx: Context) -> dict:
    p = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in (ctx.params or {}).items():
        if key in SHARED_KEYS:
            continue
        if key not in DEFAULTS:
            raise ValueError(f"dpir: unknown parameter {key!r}; known: {sorted(DEFAULTS)}")
        if isinstance(DEFAULTS[key], dict):
            unknown = set(value or {}) - set(DEFAULTS[key])
            if unknown:
                raise ValueError(f"dpir.{key}: unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS[key])}")
            p[key].update(value or {})
        else:
            p[key] = value
    if p["weights"] not in ("standin", "official"):
        raise ValueError(f"dpir.weights = {p['weights']!r}: must be 'standin' or 'official'")
    return p


class DPIR(Method):
    def fit(self, data: TrainData, ctx: Context) -> None:
        p = _params(ctx)
        out = Path(ctx.workdir) / "model.pt"
        if p["weights"] == "official":
            o = p["official"]
            path = fetch_weights(o["kind"], o["cache_dir"], o["sha256"], progress=ctx.progress)
            model = load_drunet(path, channels=3 if o["kind"] == "color" else 1)
            save_drunet(model, out)
            return
        if data.x_train is None:
            raise ValueError("dpir (standin): needs the clean training images to train its denoiser")
        if ctx.threads:
            torch.set_num_threads(int(ctx.threads))
        d = p["denoiser"]
        torch.manual_seed(ctx.seed)
        x = np.asarray(data.x_train)
        if x.ndim != 4:
            raise ValueError(f"dpir: expects images (items x C x H x W), got shape {x.shape}")
        model = DRUNet(channels=x.shape[1], widths=tuple(d["widths"]), blocks=int(d["blocks"]))
        train_denoiser(model, x, ctx.workdir, steps=int(d["steps"]), batch_size=int(d["batch_size"]),
                       crop=int(d["crop"]), lr=float(d["lr"]), sigma_max=float(d["sigma_max"]), seed=ctx.seed,
                       device=str(pick_device(ctx.device)), progress=ctx.progress)
        save_drunet(model.cpu(), out)

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        p = _params(ctx)
        if y.ndim != 4:
            raise ValueError(f"dpir: expects images (items x C x H x W), got shape {y.shape}")
        if ctx.threads:
            torch.set_num_threads(int(ctx.threads))
        device = pick_device(ctx.device)
        model = load_drunet(Path(ctx.workdir) / "model.pt", channels=y.shape[1]).to(device)
        gen = torch.Generator().manual_seed(int(ctx.seed))
        q = p["dpir"]
        out = []
        for i in range(0, len(y), int(p["batch_size"])):
            yb = torch.as_tensor(np.asarray(y[i : i + int(p["batch_size"])], dtype=np.float32), device=device)
            xb = dpir(yb, model, ctx.thresholds, sigma=float(q["sigma"]), iterations=int(q["iterations"]),
                      sigma_start=float(q["sigma_start"]), lam=float(q["lam"]), init_noise=float(q["init_noise"]),
                      generator=gen, project=bool(q["project"]))
            out.append(xb.cpu().numpy())
        return np.concatenate(out).astype(np.float32)
