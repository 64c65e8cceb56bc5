"""PnP DPIR (Zhang et al. 2021) with the clipping prox as data step.

Everything private to the method is in this folder: the DRUNet denoiser, its official weights and the
stand-in's training (:mod:`.drunet`), the DPIR iterations (:mod:`.pnp`).

Variants: ``official`` loads the released DRUNet (``drunet_color.pth``; strict, no renaming) from
``official.cache_dir`` (placed by hand, or downloaded when its sha256 is given: none is published);
``standin`` trains a small DRUNet of the same architecture as a Gaussian denoiser on the clean training
images (the only use of clean data, hence ``supervision: pairs``) where the official weights cannot be
fetched. Images are ``items x 3 x H x W`` in the linear, exposure-normalised domain.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from declipbench import Context, Method, Param, TrainData


class DPIR(Method):
    parameters = {
        "weights": Param("standin", choices=("standin", "official"),
                         help="official: the released DRUNet; standin: one trained here on the clean training images"),
        "official": {"kind": Param("color", choices=("color", "gray")),
                     "cache_dir": Param("data/weights", str, help="where drunet_<kind>.pth is placed or downloaded"),
                     "sha256": Param(None, str, help="the weights' checksum (none is published): needed to download")},
        "denoiser": {"widths": Param([16, 32, 64, 64], list, items=int, help="the stand-in's widths per scale"),
                     "blocks": Param(1, int, min=1, help="residual blocks per scale"),
                     "steps": Param(300, int, min=1), "batch_size": Param(8, int, min=1),
                     "crop": Param(48, int, min=8), "lr": Param(0.001, float, above=0),
                     "sigma_max": Param(50 / 255, float, above=0, help="noise levels of training: U[0, sigma_max]")},
        "dpir": {"iterations": Param(8, int, min=1), "sigma": Param(1 / 255, float, above=0, help="target noise level"),
                 "sigma_start": Param(49 / 255, float, above=0), "lam": Param(0.23, float, above=0),
                 "init_noise": Param(0.05, float, min=0, help="std of the white noise added to y at the start (a choice)"),
                 "project": Param(True, help="return the projection onto the consistent set")},
        "batch_size": Param(4, int, min=1, help="images reconstructed together"),
    }

    @classmethod
    def inputs(cls, params: dict, data_dir) -> list:
        """The official DRUNet weights when ``weights: official`` (``declipbench check-data``): no checksum is
        published, so without ``official.sha256`` a missing file is a manual step."""
        from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, Input

        from .release import WEIGHT_URLS

        if params["weights"] != "official":
            return []
        o = params["official"]
        dest = Path(o["cache_dir"]) / f"drunet_{o['kind']}.pth"
        if dest.is_file():
            return [Input("DRUNet weights", str(dest), PRESENT)]
        if o["sha256"] or os.environ.get("DECLIPBENCH_DRUNET_SHA256"):
            return [Input("DRUNet weights", str(dest), DOWNLOAD, WEIGHT_URLS[o["kind"]])]
        return [Input("DRUNet weights", str(dest), MANUAL,
                      f"download {WEIGHT_URLS[o['kind']]} and place it there, or set official.sha256 to let "
                      "the suite download and verify it")]

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        if len(params["denoiser"]["widths"]) != 4:
            raise ValueError(f"{where}.denoiser.widths: DRUNet has 4 scales, got {params['denoiser']['widths']}")

    def fit(self, data: TrainData, ctx: Context) -> None:
        # torch and the method's modules are imported here, not at the top: the workflow imports this file
        # at start-up, and a dry run should not pay for torch
        import torch

        from declipbench.training.device import pick_device, set_threads

        from .drunet import DRUNet, fetch_weights, load_drunet, save_drunet, train_denoiser

        p = ctx.params
        out = Path(ctx.workdir) / "model.pt"
        if p["weights"] == "official":
            o = p["official"]
            path = fetch_weights(o["kind"], o["cache_dir"], o["sha256"], progress=ctx.progress)
            model = load_drunet(path, channels=3 if o["kind"] == "color" else 1)
            save_drunet(model, out)
            return
        if data.x_train is None:
            raise ValueError("dpir (standin): needs the clean training images to train its denoiser")
        set_threads(ctx.threads)
        d = p["denoiser"]
        torch.manual_seed(ctx.seed)
        x = np.asarray(data.x_train)
        model = DRUNet(channels=x.shape[1], widths=tuple(d["widths"]), blocks=int(d["blocks"]))
        train_denoiser(model, x, ctx.workdir, steps=int(d["steps"]), batch_size=int(d["batch_size"]),
                       crop=int(d["crop"]), lr=float(d["lr"]), sigma_max=float(d["sigma_max"]), seed=ctx.seed,
                       device=str(pick_device(ctx.device)), progress=ctx.progress)
        save_drunet(model.cpu(), out)

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        import torch

        from declipbench.physics import Thresholds
        from declipbench.training.device import pick_device, set_threads

        from .drunet import load_drunet
        from .pnp import dpir

        p = ctx.params
        set_threads(ctx.threads)
        device = pick_device(ctx.device)
        model = load_drunet(Path(ctx.workdir) / "model.pt", channels=y.shape[1]).to(device)
        gen = torch.Generator().manual_seed(int(ctx.seed))
        q, batch = p["dpir"], int(p["batch_size"])
        out = []
        for i in range(0, len(y), batch):
            yb = torch.as_tensor(np.asarray(y[i : i + batch], dtype=np.float32), device=device)
            xb = dpir(yb, model, Thresholds(ctx.tau_low, ctx.tau_high), sigma=float(q["sigma"]), iterations=int(q["iterations"]),
                      sigma_start=float(q["sigma_start"]), lam=float(q["lam"]), init_noise=float(q["init_noise"]),
                      generator=gen, project=bool(q["project"]))
            out.append(xb.cpu().numpy())
        return np.concatenate(out).astype(np.float32)
