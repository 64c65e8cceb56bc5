"""Training throughput of the learned methods, and Table 1's training time at paper scale extrapolated from it.

Runs the suite's own training loop (:func:`declipbench.training.fit`) on random clipped items of the
configured length, two epochs of ``--steps`` steps, and reports the second epoch's throughput (the first
pays for warm-up and, with ``--compile``, compilation), in training segments per second. The paper-scale
time is the number of segments Table 1's training of ``--config`` draws (epochs x steps per epoch x batch)
divided by that throughput.

    python scripts/bench_training.py --loss mc_ei --precision bf16 --compile     # on a GPU
    python scripts/bench_training.py --loss mc_ei --steps 3 --threads 2           # on this CPU

Options default to Table 1 of ``config/paper.yaml``: the paper's U-Net (64 channels doubling, depth 5),
whole 1-s segments of 22,050 samples, batch 16. One JSON line per run on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from declipbench.losses import LOSSES  # noqa: E402
from declipbench.models import MaskedReconstructor, UNet1d  # noqa: E402
from declipbench.physics import Thresholds  # noqa: E402
from declipbench.pipeline.config import job_spec, load_config  # noqa: E402
from declipbench.training import TrainSettings, fit  # noqa: E402
from declipbench.training.device import pick_device  # noqa: E402

TERMS = {"supervised": ["supervised"], "mc_ei": ["mc", "ei"]}
VARIANT = {"supervised": ("supervised", "full"), "mc_ei": ("self_supervised", "proposed")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/paper.yaml")
    ap.add_argument("--experiment", default="table1")
    ap.add_argument("--loss", choices=sorted(TERMS), default="mc_ei")
    ap.add_argument("--channels", type=int)
    ap.add_argument("--depth", type=int)
    ap.add_argument("--max-channels", type=int)
    ap.add_argument("--segment", type=int, default=22050, help="samples per training item (and crop)")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int, default=20, help="steps per measured epoch")
    ap.add_argument("--precision", choices=("float32", "bf16"), default="float32")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()

    cfg = load_config(a.config)
    method, variant = VARIANT[a.loss]
    job = job_spec(cfg, a.experiment, method, variant, cfg["seeds"][0])
    spec = job["params"]
    net = dict(spec["network"])
    for key, value in (("channels", a.channels), ("depth", a.depth), ("max_channels", a.max_channels)):
        if value is not None:
            net[key] = value
    train = spec["training"]
    batch = a.batch or train["batch_size"]
    device = pick_device(a.device)
    th = Thresholds.symmetric(float(job["tau"]))
    rng = np.random.default_rng(0)
    n_items = max(4 * batch, 64)
    x = (rng.standard_normal((n_items, a.segment)) * 0.3).astype(np.float32)
    y = np.clip(x, th.low, th.high)
    torch.manual_seed(0)
    unet = UNet1d(channels=net["channels"], depth=net["depth"], max_channels=net.get("max_channels"),
                  bias=net.get("bias", False), padding=net.get("padding", "zeros"),
                  upsampling=net.get("upsampling", "transposed"))
    model = MaskedReconstructor(unet, th)
    losses = [LOSSES[name](**spec[name]) for name in TERMS[a.loss]]
    s = TrainSettings.from_params({**train, "epochs": 2, "steps_per_epoch": a.steps,
                                   "batch_size": batch, "crop": a.segment, "precision": a.precision,
                                   "compile": a.compile, "lr_schedule": "constant"})
    t0 = time.time()
    with tempfile.TemporaryDirectory() as work:
        rows = fit(model, losses, th, s, work, y, x if a.loss == "supervised" else None, modality="audio", seed=0,
                   device=str(device), threads=a.threads, progress=False)
    segments_per_s = rows[-1]["items_per_s"]
    total = train["epochs"] * train["steps_per_epoch"] * train["batch_size"]
    params = sum(p.numel() for p in model.parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(json.dumps({
        "device": name, "loss": a.loss, "precision": a.precision, "compile": a.compile,
        "network": {k: net.get(k) for k in ("channels", "depth", "max_channels")}, "parameters": params,
        "segment": a.segment, "batch": batch, "steps_measured": a.steps,
        "segments_per_s": segments_per_s, "first_epoch_s": rows[0]["seconds"], "wall_s": round(time.time() - t0, 1),
        "paper_segments": total,
        "paper_training_hours": round(total / segments_per_s / 3600, 2) if segments_per_s else None,
    }))


if __name__ == "__main__":
    main()
