"""The work behind the data and method rules: prepare -> measure -> train -> reconstruct.

Evaluation is in :mod:`declipbench.evaluate`, tables and figures in :mod:`declipbench.tables` and
:mod:`declipbench.figures`.

Each step reads declared inputs, writes declared outputs atomically, and logs. ``python -m declipbench
<step> --help`` lists the arguments; the rules in ``workflow/rules/`` call exactly these.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np

from . import io
from .physics import Thresholds, clip, has_clipping

log = logging.getLogger("declipbench")
SPLITS = ("train", "val", "test")


# ------------------------------------------------------------------------------------------ prepare
def prepare(dataset_module: str, params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    """Write ``{split}.npy`` (float32, items x samples) and ``manifest.json`` for one dataset."""
    from .plugins import load_dataset

    mod = load_dataset(dataset_module)
    out_dir = Path(out_dir)
    t0 = time.time()
    if hasattr(mod, "prepare"):
        manifest = mod.prepare(params, out_dir, data_dir)
    else:  # a generator module: DEFAULTS + generate(params, split, count)
        p = {**mod.DEFAULTS, **params}
        manifest = {"dataset": dataset_module, "params": p, "splits": {}}
        for split, count in p["splits"].items():
            log.info("generating %d %s segments", count, split)
            x = mod.generate(p, split, int(count))
            io.save_npy(out_dir / f"{split}.npy", x)
            manifest["splits"][split] = {"items": int(len(x)), "samples": int(x.shape[-1]),
                                         "seconds": float(x.size / p["sample_rate"])}
    manifest["seconds_to_prepare"] = round(time.time() - t0, 2)
    io.write_json(out_dir / "manifest.json", manifest)
    return manifest


# ------------------------------------------------------------------------------------------ measure
def measure(data_dir: Path, out_dir: Path, tau: float, drop_unclipped: bool = True,
            max_items: dict | None = None, seed: int = 0) -> dict:
    """Clip every split at ``tau``; keep ``x`` beside ``y`` (methods only get ``x`` if they declare pairs).

    ``max_items`` caps a split (e.g. ``{"test": 100}``): the kept items are a seeded random choice among
    the clipped ones, in their original order.
    """
    th = Thresholds.symmetric(tau)
    manifest = {"tau": tau, "drop_unclipped": drop_unclipped, "max_items": max_items or {}, "splits": {}}
    for split in SPLITS:
        path = Path(data_dir) / f"{split}.npy"
        x = np.asarray(io.load_npy(path), dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"{path}: expected items x samples, got shape {x.shape}")
        finite = np.all(np.isfinite(x), axis=1)
        y = clip(x, th)
        keep = finite & (has_clipping(y, th) if drop_unclipped else True)
        cap = (max_items or {}).get(split)
        if cap is not None and keep.sum() > cap:
            chosen = np.random.default_rng([seed, 7]).choice(np.flatnonzero(keep), size=int(cap), replace=False)
            capped = np.zeros_like(keep)
            capped[chosen] = True
            keep_all, keep = keep, capped
        else:
            keep_all = keep
        ids = np.flatnonzero(keep)
        io.save_npy(Path(out_dir) / f"{split}_x.npy", x[keep])
        io.save_npy(Path(out_dir) / f"{split}_y.npy", y[keep])
        io.save_npy(Path(out_dir) / f"{split}_ids.npy", ids)
        yk, xk = y[keep], x[keep]
        in_sdr = [10 * math.log10(np.sum(a.astype(np.float64) ** 2) / max(np.sum((a - b).astype(np.float64) ** 2), 1e-30))
                  for a, b in zip(xk, yk)]
        manifest["splits"][split] = {
            "items_in": int(len(x)), "items_kept": int(keep.sum()),
            "dropped_unclipped": int((finite & ~keep_all).sum()), "dropped_nonfinite": int((~finite).sum()),
            "dropped_over_cap": int((keep_all & ~keep).sum()),
            "clipped_fraction_mean": float(np.mean(np.abs(yk) >= tau)) if len(yk) else 0.0,
            "input_sdr_mean": float(np.mean(in_sdr)) if in_sdr else math.nan,
            "input_sdr_median": float(np.median(in_sdr)) if in_sdr else math.nan,
        }
        log.info("%s: kept %d of %d segments (dropped %d without clipping, %d non-finite); input SDR median %.2f dB",
                 split, keep.sum(), len(x), manifest["splits"][split]["dropped_unclipped"], (~finite).sum(),
                 manifest["splits"][split]["input_sdr_median"])
    io.write_json(Path(out_dir) / "manifest.json", manifest)
    return manifest


def load_split(meas_dir: Path, split: str, with_x: bool) -> tuple[np.ndarray, np.ndarray | None]:
    y = np.asarray(io.load_npy(Path(meas_dir) / f"{split}_y.npy"))
    x = np.asarray(io.load_npy(Path(meas_dir) / f"{split}_x.npy")) if with_x else None
    return y, x


# ------------------------------------------------------------------------------------------ methods
def _context(spec: dict, workdir: Path | None):
    from .plugins import Context

    return Context(params=spec["params"], tau_low=-spec["tau"], tau_high=spec["tau"], seed=spec["seed"],
                   workdir=workdir, device=spec["device"], threads=spec.get("threads"),
                   progress=spec.get("progress", True))


def train(spec: dict, meas_dir: Path, model_dir: Path) -> None:
    from .plugins import TrainData, load_method

    decl, method = load_method(spec["method"])
    pairs = decl.supervision == "pairs"
    y_tr, x_tr = load_split(meas_dir, "train", with_x=pairs)
    y_val, x_val = load_split(meas_dir, "val", with_x=True)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(model_dir / "spec.json", spec)
    log.info("fit %s/%s seed %d on %d training measurements (%s)", spec["method"], spec["variant"],
             spec["seed"], len(y_tr), "with pairs" if pairs else "measurements only")
    method.fit(TrainData(y_tr, x_tr, y_val, x_val), _context(spec, model_dir))


def reconstruct(spec: dict, meas_dir: Path, model_dir: Path | None, out: Path) -> None:
    from .plugins import load_method

    _, method = load_method(spec["method"])
    y, _ = load_split(meas_dir, "test", with_x=False)
    t0 = time.time()
    x_hat = np.asarray(method.reconstruct(np.array(y), _context(spec, Path(model_dir) if model_dir else None)))
    seconds = time.time() - t0
    if x_hat.shape != y.shape:
        raise ValueError(f"method {spec['method']!r} returned shape {x_hat.shape} for input {y.shape}")
    bad = int((~np.all(np.isfinite(x_hat.reshape(len(x_hat), -1)), axis=1)).sum())
    if bad:
        log.warning("%d of %d reconstructions contain NaN or Inf; they are flagged in the metrics", bad, len(x_hat))
    log.info("reconstructed %d items in %.2f s (%.3f s/item)", len(y), seconds, seconds / max(len(y), 1))
    io.save_arrays(out, x_hat=x_hat.astype(np.float32), seconds=np.float64(seconds))
