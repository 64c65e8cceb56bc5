"""CPU/GPU timings for the HDR part: PnP DPIR seconds per image and training throughput.

    .venv/bin/python scripts/bench_hdr.py [--size 192] [--steps 10] [--threads 2]

Prints one line per measurement. Weights are random (the timing does not depend on them): the demo's
stand-in DRUNet (widths 8/16/32/32, 1 block), the method's default stand-in (16/32/64/64, 1 block) and
the official architecture (64/128/256/512, 4 blocks); training at the demo's settings (batch 8, crops
48 x 48, U-Net 8 channels, depth 4) for the plain U-Net and the unfolded HQS network (2 iterations).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from declipbench.physics import Thresholds  # noqa: E402
from declipbench.physics.camera import CameraCurve, camera_measure, exposure_scale  # noqa: E402
from declipbench.foundation.parameters import resolve  # noqa: E402
from declipbench.foundation.contracts import Context
from declipbench.pipeline.plugins import import_method_module, load_dataset
from declipbench.training import TrainSettings, fit, pick_device  # noqa: E402
from declipbench.training.learned import NetworkMethod, build_model  # noqa: E402

DPIR_FOLDER = Path(__file__).resolve().parent.parent / "methods" / "dpir"
DRUNet = import_method_module(DPIR_FOLDER, "drunet").DRUNet
dpir = import_method_module(DPIR_FOLDER, "pnp").dpir
synthetic_scene = load_dataset("synthetic_hdr").synthetic_scene


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}")
    th = Thresholds(-1.0, 1.0)
    scenes = [synthetic_scene([7, i], args.size, args.size) for i in range(max(args.images, 4))]
    x = np.stack([np.moveaxis(s / exposure_scale(s, 0.9), -1, 0) for s in scenes]).astype(np.float32)
    y = np.stack([camera_measure(a, CameraCurve()) for a in x])
    torch.manual_seed(0)
    for name, widths, blocks in [("demo stand-in", (8, 16, 32, 32), 1), ("default stand-in", (16, 32, 64, 64), 1),
                                 ("official size", (64, 128, 256, 512), 4)]:
        den = DRUNet(3, widths, blocks).to(device).eval()
        yb = torch.as_tensor(y[: args.images], device=device)
        dpir(yb[:1], den, th, iterations=1)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.time()
        dpir(yb, den, th, generator=torch.Generator().manual_seed(0))
        if device.type == "cuda":
            torch.cuda.synchronize()
        per = (time.time() - t) / args.images
        print(f"DPIR 8 iterations, {name} DRUNet {widths} x{blocks}: {per:.2f} s per {args.size}x{args.size} image")
    for arch, losses in [("unet", ["supervised"]), ("unet", ["mc", "ei"]), ("hqs", ["supervised"]),
                         ("hqs", ["mc", "ei"])]:
        params = resolve(NetworkMethod.declaration(), {
            "network": {"channels": 8, "depth": 4, "arch": arch, "hqs_iterations": 2}, "losses": losses,
            "training": {"epochs": 1, "steps_per_epoch": args.steps, "batch_size": 8, "crop": 48}}, "bench")
        ctx = Context(params=params, tau_low=-1.0, tau_high=1.0, modality="image")
        model = build_model(params, ctx, x.shape)
        rows = fit(model, NetworkMethod.losses(params), th, TrainSettings.from_params(params["training"]),
                   tempfile.mkdtemp(), y, x, modality="image", threads=args.threads, device=str(device),
                   progress=False)
        print(f"training {arch} ({' + '.join(losses)}), batch 8, 48x48 crops: {rows[-1]['items_per_s']:.1f} patches/s")


if __name__ == "__main__":
    main()
