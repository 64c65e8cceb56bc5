"""Exploration driver behind the SSL sweep recorded in BENCHMARKS.md ("Finding what makes SSL work").

One run = one training of the masked bias-free U-Net on synthetic music clipped at tau = 0.1, evaluated
by mean SDR on 100 held-out segments (identity printed beside it). It bypasses the DAG to iterate fast;
the numbers it printed are in BENCHMARKS.md with the exact arguments. The DAG's own sweep mechanism
(``grid:`` in a config, see config/sweep.yaml) reruns the decisive points as table rows.

    python scripts/explore_ssl.py '{"loss": "mc_ei", "g_max": 2, "ei_core_weight": 0.0, "epochs": 6}' NAME [--out DIR]

Keys: the training settings (``epochs``, ``lr``, ...), the loss in the flat form the sweep was run with
(``loss``: ``mc_ei``, ``mc``, ``supervised`` or ``supervised_ei``; ``alpha``, ``g_min``, ``g_max``,
``g_distribution``, ``ei_stop_gradient``, ``ei_core_weight``, ``ei_max_saturated_fraction``,
``ei_target_on_clipped``: the EI loss's parameters of those names), ``seed``, and ``data`` (synthetic_music
params), ``net`` (UNet1d params), ``masking`` (bool), ``two`` (reliable channel), ``cons`` (consistent
output), ``ntrain``, ``init`` (a checkpoint to start from). Runs with one thread, so two can share the
2-core machine.
"""

import argparse
import hashlib
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from declipbench.losses import LOSSES  # noqa: E402
from declipbench.metrics.sdr import sdr_db_items  # noqa: E402
from declipbench.models import MaskedReconstructor, UNet1d  # noqa: E402
from declipbench.physics import Thresholds, clip, has_clipping  # noqa: E402
from declipbench.foundation.parameters import resolve  # noqa: E402
from declipbench.pipeline.plugins import dataset_params, load_dataset  # noqa: E402
from declipbench.training import TRAINING, TrainSettings, fit, predict  # noqa: E402
from declipbench.training.loop import TrainingDiverged  # noqa: E402
from declipbench.training.state import load_state  # noqa: E402

TERMS = {"mc_ei": ["mc", "ei"], "mc": ["mc"], "supervised": ["supervised"], "supervised_ei": ["supervised", "ei"]}
EI_KEYS = {"alpha": "weight", "g_min": "g_min", "g_max": "g_max", "g_distribution": "distribution",
           "ei_stop_gradient": "stop_gradient", "ei_core_weight": "core_weight",
           "ei_max_saturated_fraction": "max_saturated_fraction", "ei_target_on_clipped": "target_on_clipped"}


def losses_and_settings(args: dict):
    """The loss objects and training settings of the flat keys (module docstring)."""
    names = TERMS[args.pop("loss", "mc_ei")]
    ei = {EI_KEYS[k]: args.pop(k) for k in list(args) if k in EI_KEYS}
    losses = [LOSSES[n](**resolve(LOSSES[n].declaration(), ei if n == "ei" else {}, n)) for n in names]
    return losses, TrainSettings.from_params({k: v for k, v in args.items() if k in TRAINING})


def mean_sdr(x, x_hat) -> float:
    return float(np.mean(sdr_db_items(x, x_hat)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("args", help="JSON: TrainSettings fields plus the keys in the module docstring")
    ap.add_argument("name")
    ap.add_argument("--out", type=Path, default=Path("/tmp/explore_ssl"))
    a = ap.parse_args()
    args, name, out = json.loads(a.args), a.name, a.out
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", filename=out / f"{name}.log")
    data_p = args.pop("data", {})
    net_p = args.pop("net", {"channels": 8, "depth": 5, "max_channels": 64})
    masking, two, cons = args.pop("masking", True), args.pop("two", False), args.pop("cons", False)
    ntrain, init = args.pop("ntrain", 1000), args.pop("init", None)
    sm = load_dataset("synthetic_music")
    cache = out / f"data_{hashlib.md5(json.dumps(data_p, sort_keys=True).encode()).hexdigest()[:8]}_{ntrain}.npz"
    th = Thresholds.symmetric(0.1)
    try:
        d = dict(np.load(cache))
    except FileNotFoundError:
        p = dataset_params(sm, data_p, "data")
        d = {s: sm.generate(p, s, n) for s, n in [("train", ntrain), ("val", 32), ("test", 100)]}
        np.savez(cache, **d)

    def keep(x):
        y = clip(x, th)
        m = has_clipping(y, th)
        return x[m], y[m]

    (xtr, ytr), (xv, yv), (xte, yte) = keep(d["train"]), keep(d["val"]), keep(d["test"])
    seed = int(args.pop("seed", 0))
    torch.manual_seed(seed)
    model = MaskedReconstructor(UNet1d(in_channels=2 if two else 1, out_channels=1, **net_p), th,
                                masking=masking, reliable_channel=two, consistent=cons)
    if init:
        model.load_state_dict(torch.load(init, weights_only=True)["model"])
    losses, s = losses_and_settings(args)
    t = time.time()
    shutil.rmtree(out / f"w_{name}", ignore_errors=True)
    try:
        rows = fit(model, losses, th, s, out / f"w_{name}", ytr, xtr, yv, xv, modality="audio", seed=seed,
                   threads=1, progress=False)
    except TrainingDiverged as exc:  # recorded as diverged, with the epochs it completed
        ckpt = out / f"w_{name}" / "checkpoint.pt"
        rows, diverged = json.loads(load_state(ckpt)["log"]) if ckpt.exists() else [], str(exc)
    else:
        diverged = None
    xh = predict(model, yte, modality="audio") if diverged is None else None
    res = {"name": name, "test_sdr": round(mean_sdr(xte, xh), 2) if xh is not None else None,
           "identity": round(mean_sdr(xte, yte), 2), "val_curve": [round(r.get("val_sdr", 0), 2) for r in rows],
           "peak_ratio": [r.get("peak_ratio") for r in rows], "diverged": diverged,
           "min": round((time.time() - t) / 60, 1), "ntrain": len(xtr), "args": a.args}
    print(json.dumps(res))
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
