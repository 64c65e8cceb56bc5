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
    from .plugins import dataset_params, load_dataset

    mod = load_dataset(dataset_module)
    out_dir = Path(out_dir)
    t0 = time.time()
    if hasattr(mod, "prepare"):
        manifest = mod.prepare(params, out_dir, data_dir)
    else:  # a generator module: DEFAULTS + generate(params, split, count)
        p = dataset_params(mod.DEFAULTS, params, f"datasets.<name>.params (module {dataset_module})")
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
    from .segments import SegmentWriter, iter_npy_rows, npy_shape

    if io.load_npy(Path(data_dir) / "test.npy").ndim == 4:  # images (issue 5): the virtual camera
        from .hdr import measure_images

        return measure_images(data_dir, out_dir, tau, drop_unclipped, max_items, seed)
    th = Thresholds.symmetric(tau)
    manifest = {"tau": tau, "drop_unclipped": drop_unclipped, "max_items": max_items or {}, "splits": {}}
    chunk = 256  # items per block, read with plain file reads: a split is never in memory whole
    for split in SPLITS:
        path = Path(data_dir) / f"{split}.npy"
        try:
            shape, _ = npy_shape(path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # corrupt or truncated file
            raise ValueError(f"cannot read array file {path}: {exc}") from exc
        if len(shape) != 2:
            raise ValueError(f"{path}: expected items x samples, got shape {shape}")
        n_items, width = shape
        finite = np.zeros(n_items, bool)
        clipped = np.zeros(n_items, bool)
        for i, xb in zip(range(0, n_items, chunk), iter_npy_rows(path, chunk)):
            xb = xb.astype(np.float32, copy=False)
            finite[i: i + len(xb)] = np.all(np.isfinite(xb), axis=1)
            clipped[i: i + len(xb)] = has_clipping(clip(xb, th), th)
        keep = finite & (clipped if drop_unclipped else True)
        cap = (max_items or {}).get(split)
        if cap is not None and keep.sum() > cap:
            chosen = np.random.default_rng([seed, 7]).choice(np.flatnonzero(keep), size=int(cap), replace=False)
            capped = np.zeros_like(keep)
            capped[chosen] = True
            keep_all, keep = keep, capped
        else:
            keep_all = keep
        ids = np.flatnonzero(keep)
        in_sdr, n_clipped_samples = [], 0
        with SegmentWriter(Path(out_dir) / f"{split}_x.npy", len(ids), width) as wx, \
                SegmentWriter(Path(out_dir) / f"{split}_y.npy", len(ids), width) as wy:
            for i, xb in zip(range(0, n_items, chunk), iter_npy_rows(path, chunk)):
                sel = keep[i: i + len(xb)]
                if not sel.any():
                    continue
                xk = xb.astype(np.float32, copy=False)[sel]
                yk = clip(xk, th)
                wx.append(xk)
                wy.append(yk)
                n_clipped_samples += int(np.count_nonzero(np.abs(yk) >= tau))
                in_sdr += [10 * math.log10(np.sum(a.astype(np.float64) ** 2) / max(np.sum((a - b).astype(np.float64) ** 2), 1e-30))
                           for a, b in zip(xk, yk)]
            wx.close()
            wy.close()
        io.save_npy(Path(out_dir) / f"{split}_ids.npy", ids)
        manifest["splits"][split] = {
            "items_in": int(n_items), "items_kept": int(keep.sum()),
            "dropped_unclipped": int((finite & ~keep_all).sum()), "dropped_nonfinite": int((~finite).sum()),
            "dropped_over_cap": int((keep_all & ~keep).sum()),
            "clipped_fraction_mean": float(n_clipped_samples / (len(ids) * width)) if len(ids) else 0.0,
            "input_sdr_mean": float(np.mean(in_sdr)) if in_sdr else math.nan,
            "input_sdr_median": float(np.median(in_sdr)) if in_sdr else math.nan,
        }
        log.info("%s: kept %d of %d segments (dropped %d without clipping, %d non-finite); input SDR median %.2f dB",
                 split, keep.sum(), n_items, manifest["splits"][split]["dropped_unclipped"], (~finite).sum(),
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
                   progress=spec.get("progress", True), sample_rate=spec.get("sample_rate"))


def train(spec: dict, meas_dir: Path, model_dir: Path) -> None:
    from .plugins import TrainData, load_method

    decl, method = load_method(spec["method"])
    pairs = decl.supervision == "pairs"
    y_tr, x_tr = load_split(meas_dir, "train", with_x=pairs)
    extra = spec.get("extra_train_measurements") or []
    if extra:  # Table 2: a measurements-only method also learns from clipped test measurements
        if decl.supervision != "measurements":
            raise ValueError(f"method {spec['method']!r} declares supervision {decl.supervision!r}: it may not "
                             f"train on test measurements (extra_train_measurements)")
        parts = [np.asarray(y_tr)]
        for d in extra:
            yt = np.asarray(io.load_npy(Path(d) / "test_y.npy"))
            if yt.shape[1:] != parts[0].shape[1:]:
                raise ValueError(f"{Path(d) / 'test_y.npy'}: items of shape {yt.shape[1:]}, training items "
                                 f"are {parts[0].shape[1:]}")
            parts.append(yt)
            log.info("adding %d test measurements of %s to the training measurements", len(yt), d)
        y_tr = np.concatenate(parts)
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
