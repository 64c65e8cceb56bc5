"""The work behind the rules: prepare -> measure -> train -> reconstruct -> evaluate.

Tables and figures are in :mod:`declipbench.report`, the survey protocol in :mod:`.survey`. Each step reads
declared inputs, writes declared outputs atomically, and logs. ``python -m declipbench <step> --help``
lists the arguments; the rules in ``workflow/rules/`` call exactly these. Work dispatches on the declared
modality (``audio``: items x samples; ``image``: items x C x H x W), never on the rank of an array.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..data import io
from ..data.io import load_split
from ..foundation.contracts import Context, MethodError, TrainData
from ..foundation.paths import THRESHOLDS, Paths
from ..metrics import METRICS
from ..metrics.records import record, write_records
from ..metrics.sdr import sdr_db_items
from ..physics.clipping import Thresholds, clip, has_clipping
from .plugins import dataset_params, display_path, load_dataset, load_method, method_params

log = logging.getLogger("declipbench")
SPLITS = ("train", "val", "test")
CHUNK = 256  # items per block: a split is never in memory whole


# ------------------------------------------------------------------------------------------ prepare
def prepare(dataset_module: str, params: dict, out_dir: Path, data_dir: Path | None = None) -> dict:
    """Write ``{split}.npy`` (float32 items) and ``manifest.json`` for one dataset; the parameters are
    resolved against the module's ``PARAMETERS`` first (a misspelt one is refused)."""
    mod = load_dataset(dataset_module)
    p = dataset_params(mod, params, f"datasets.<name>.params (module {dataset_module})")
    out_dir = Path(out_dir)
    _clean(out_dir)
    t0 = time.time()
    whole_signals = getattr(mod, "KIND", None) == "survey"  # measured one by one (:mod:`.survey`)
    if whole_signals or hasattr(mod, "prepare"):
        try:
            if whole_signals:
                from .survey import signals_manifest

                manifest = signals_manifest(mod, dataset_module, p, data_dir)
            else:
                manifest = mod.prepare(p, out_dir, data_dir)
        except OSError as exc:  # a missing, read-only or misplaced folder: name it and the config key
            raise ValueError(_os_error(exc, dataset_module, data_dir)) from exc
    else:  # a generator module: generate(params, split, count)
        manifest = {"dataset": dataset_module, "params": p, "splits": {}}
        for split, count in p["splits"].items():
            log.info("generating %d %s segments", count, split)
            x = mod.generate(p, split, int(count))
            io.save_npy(Path(Paths.split_data(str(out_dir), split)), x)
            manifest["splits"][split] = {"items": int(len(x)), "samples": int(x.shape[-1]),
                                         "seconds": float(x.size / p["sample_rate"])}
    manifest["modality"] = mod.MODALITY
    manifest["seconds_to_prepare"] = round(time.time() - t0, 2)
    io.write_json(Path(Paths.manifest(str(out_dir))), manifest)
    return manifest


# ------------------------------------------------------------------------------------------ measure
def _os_error(exc: OSError, module: str, data_dir: Path | None) -> str:
    path = Path(exc.filename) if exc.filename else None
    text = f"dataset module {module}: {exc.strerror or exc}" + (f": {path}" if path else "")
    if data_dir is not None:
        root = Path(data_dir).absolute()
        inside = path is not None and (path.absolute() == root or root in path.absolute().parents)
        text += (f" (inside data_dir = {data_dir}" if inside else f" (data_dir = {data_dir}") + \
            "; set the config key data_dir, or --config data_dir=PATH, to a writable folder)"
    return text


def _clean(folder: Path, names=None) -> None:
    """Remove what a killed run of this step left behind (:func:`declipbench.data.io.remove_stale_temporaries`)."""
    for f in io.remove_stale_temporaries(folder, names):
        log.info("removed %s, left by an interrupted run", f)


def _keep(finite: np.ndarray, clipped: np.ndarray, drop_unclipped: bool, cap: int | None,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The items kept (finite, clipped unless ``drop_unclipped`` is off, at most ``cap`` by a seeded choice
    in their original order) and those kept before the cap."""
    keep = finite & (clipped if drop_unclipped else True)
    keep_all = keep.copy()
    if cap is not None and keep.sum() > cap:
        chosen = np.random.default_rng([seed, 7]).choice(np.flatnonzero(keep), size=int(cap), replace=False)
        keep = np.zeros_like(keep)
        keep[chosen] = True
    return keep, keep_all


def _require_items(keep, split: str, required, data_dir: Path, tau: float, peak: float, drop_unclipped: bool) -> None:
    """Stop here, naming the dataset, tau and the data's level, when a split a later step needs is empty."""
    if split in required and not keep.any():
        why = "clips at" if drop_unclipped else "is finite for"
        raise ValueError(f"dataset {Path(data_dir).name} ({data_dir}): no {split} item {why} tau = {tau}: the peak "
                         f"level of its {split} split is {peak:.4g}. Lower the experiment's tau or raise the "
                         f"data's level")


def _split_manifest(n_items: int, finite, keep, keep_all, **extra) -> dict:
    return {"items_in": int(n_items), "items_kept": int(keep.sum()),
            "dropped_unclipped": int((finite & ~keep_all).sum()), "dropped_nonfinite": int((~finite).sum()),
            "dropped_over_cap": int((keep_all & ~keep).sum()), **extra}


def measure(data_dir: Path, out_dir: Path, tau: float, modality: str = "audio", drop_unclipped: bool = True,
            max_items: dict | None = None, seed: int = 0, required=SPLITS) -> dict:
    """Clip every split; keep ``x`` beside ``y`` (methods only get ``x`` if they declare pairs).

    Audio: clipping at ``(-tau, tau)``. Images: the virtual camera of each item (its ``{split}_camera.npy``),
    saturating at the exposure-normalised level 1. ``max_items`` caps a split (e.g. ``{"test": 100}``): the
    kept items are a seeded random choice among the clipped ones, in their original order. Written:
    ``{split}_x.npy``, ``{split}_y.npy``, ``{split}_ids.npy``, ``manifest.json``. A ``required`` split
    with no item kept (nothing clips at ``tau``) stops here with an error naming the dataset, ``tau`` and
    the data's peak level, rather than in a later step (an extra test set requires its test split only).
    """
    _clean(out_dir)
    if modality == "image":
        return _measure_images(Path(data_dir), Path(out_dir), tau, drop_unclipped, max_items, seed, required)
    if modality != "audio":
        raise ValueError(f"unknown modality {modality!r}; expected 'audio' or 'image'")
    from ..data.segments import SegmentWriter, iter_npy_rows, npy_shape

    th = Thresholds.symmetric(tau)
    manifest = {"tau": tau, "modality": modality, "drop_unclipped": drop_unclipped, "max_items": max_items or {},
                "splits": {}}
    for split in SPLITS:
        path = Path(Paths.split_data(str(data_dir), split))
        try:
            shape, _ = npy_shape(path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # corrupt or truncated file
            raise ValueError(f"cannot read array file {path}: {exc}") from exc
        if len(shape) != 2:
            raise ValueError(f"{path}: audio data must be items x samples, got shape {shape}")
        n_items, width = shape
        finite = np.zeros(n_items, bool)
        clipped = np.zeros(n_items, bool)
        peak = 0.0
        for i, xb in zip(range(0, n_items, CHUNK), iter_npy_rows(path, CHUNK)):
            xb = xb.astype(np.float32, copy=False)
            finite[i: i + len(xb)] = np.all(np.isfinite(xb), axis=1)
            clipped[i: i + len(xb)] = has_clipping(clip(xb, th), th)
            if finite[i: i + len(xb)].any():
                peak = max(peak, float(np.abs(xb[finite[i: i + len(xb)]]).max()))
        keep, keep_all = _keep(finite, clipped, drop_unclipped, (max_items or {}).get(split), seed)
        _require_items(keep, split, required, data_dir, tau, peak, drop_unclipped)
        ids = np.flatnonzero(keep)
        in_sdr, n_clipped_samples = [], 0
        with SegmentWriter(Path(Paths.split_array(str(out_dir), split, "x")), len(ids), width) as wx, \
                SegmentWriter(Path(Paths.split_array(str(out_dir), split, "y")), len(ids), width) as wy:
            for i, xb in zip(range(0, n_items, CHUNK), iter_npy_rows(path, CHUNK)):
                sel = keep[i: i + len(xb)]
                if not sel.any():
                    continue
                xk = xb.astype(np.float32, copy=False)[sel]
                yk = clip(xk, th)
                wx.append(xk)
                wy.append(yk)
                n_clipped_samples += int(np.count_nonzero(np.abs(yk) >= tau))
                in_sdr.append(sdr_db_items(xk, yk))
            wx.close()
            wy.close()
        io.save_npy(Path(Paths.split_array(str(out_dir), split, "ids")), ids)
        in_sdr = np.concatenate(in_sdr) if in_sdr else np.zeros(0)
        in_sdr = in_sdr[np.isfinite(in_sdr)]  # an unclipped item kept (drop_unclipped: false) has none
        manifest["splits"][split] = _split_manifest(
            n_items, finite, keep, keep_all,
            clipped_fraction_mean=float(n_clipped_samples / (len(ids) * width)) if len(ids) else 0.0,
            input_sdr_mean=float(np.mean(in_sdr)) if in_sdr.size else math.nan,
            input_sdr_median=float(np.median(in_sdr)) if in_sdr.size else math.nan)
        log.info("%s: kept %d of %d segments (dropped %d without clipping, %d non-finite); input SDR median %.2f dB",
                 split, keep.sum(), n_items, manifest["splits"][split]["dropped_unclipped"], (~finite).sum(),
                 manifest["splits"][split]["input_sdr_median"])
    io.write_json(Path(Paths.manifest(str(out_dir))), manifest)
    return manifest


def _measure_images(data_dir: Path, out_dir: Path, tau: float, drop_unclipped: bool, max_items: dict | None,
                    seed: int, required) -> dict:
    """The measure step for images: ``y = f^-1(Q(f(x)))`` with each item's camera
    (:func:`declipbench.physics.camera.measure_items`), saturating at 1, so ``tau`` must be 1. Without a
    camera file (a dataset called outside the workflow), plain clipping ``min(x, 1)``, with a warning."""
    import os
    import tempfile

    from ..physics.camera import measure_items, saturated_fraction

    if float(tau) != 1.0:
        raise ValueError(f"image experiments saturate at the exposure-normalised level 1: tau must be 1, got {tau}")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"tau": 1.0, "modality": "image", "drop_unclipped": drop_unclipped, "max_items": max_items or {},
                "measurement": "virtual camera f^-1(Q(f(x))) per item where {split}_camera.npy exists",
                "splits": {}}
    for split in SPLITS:
        path = Path(Paths.split_data(str(data_dir), split))
        x = io.load_npy(path)
        if x.ndim != 4:
            raise ValueError(f"{path}: image data must be items x C x H x W, got shape {x.shape}")
        cam_path = Path(Paths.split_data(str(data_dir), split, camera=True))
        cam = np.asarray(io.load_npy(cam_path)) if cam_path.is_file() else None
        if cam is not None and cam.shape != (len(x), 3):
            raise ValueError(f"{cam_path}: expected {len(x)} x 3 camera parameters (q, n, sigma), got {cam.shape}")
        if cam is None:
            log.warning("%s is absent: %s images are measured by plain clipping min(x, 1), without the "
                        "camera curve and quantisation", cam_path, split)
        finite = np.zeros(len(x), bool)
        saturated = np.zeros(len(x), bool)
        peak = 0.0
        for i in range(0, len(x), CHUNK):
            xb = np.asarray(x[i : i + CHUNK], dtype=np.float32).reshape(min(CHUNK, len(x) - i), -1)
            finite[i : i + CHUNK] = np.all(np.isfinite(xb), axis=1)
            saturated[i : i + CHUNK] = np.any(xb >= 1.0, axis=1)
            if finite[i : i + CHUNK].any():
                peak = max(peak, float(xb[finite[i : i + CHUNK]].max()))
        keep, keep_all = _keep(finite, saturated, drop_unclipped, (max_items or {}).get(split), seed)
        _require_items(keep, split, required, data_dir, tau, peak, drop_unclipped)
        ids = np.flatnonzero(keep)
        shape = (len(ids),) + tuple(x.shape[1:])
        tmps = {}
        sat_fracs = []
        try:
            for name in ("x", "y"):
                fd, tmp = tempfile.mkstemp(prefix=f".{split}_{name}.", suffix=".npy", dir=out_dir)
                os.close(fd)
                tmps[name] = Path(tmp)
            mx = io.open_memmap_reserved(tmps["x"], shape, final=Path(Paths.split_array(str(out_dir), split, "x")))
            my = io.open_memmap_reserved(tmps["y"], shape, final=Path(Paths.split_array(str(out_dir), split, "y")))
            for j in range(0, len(ids), CHUNK):
                sel = ids[j : j + CHUNK]
                xb = np.asarray(x[sel], dtype=np.float32)
                yb = measure_items(xb, cam[sel]) if cam is not None else np.minimum(xb, 1.0).astype(np.float32)
                mx[j : j + len(sel)] = xb
                my[j : j + len(sel)] = yb
                sat_fracs += [saturated_fraction(a, channel_axis=0) for a in yb]
            mx.flush(), my.flush()
            del mx, my
            for name in ("x", "y"):
                io.publish(tmps[name], Path(Paths.split_array(str(out_dir), split, name)))
        finally:
            for t in tmps.values():
                if t.exists():
                    t.unlink()
        io.save_npy(Path(Paths.split_array(str(out_dir), split, "ids")), ids)
        manifest["splits"][split] = _split_manifest(
            len(x), finite, keep, keep_all,
            saturated_pixel_fraction_mean=float(np.mean(sat_fracs)) if sat_fracs else 0.0,
            measurement="virtual camera" if cam is not None else "plain clipping (no camera file)")
        log.info("%s: kept %d of %d images; %.1f %% saturated pixels on average", split, len(ids), len(x),
                 100 * manifest["splits"][split]["saturated_pixel_fraction_mean"])
    io.write_json(Path(Paths.manifest(str(out_dir))), manifest)
    return manifest


# ------------------------------------------------------------------------------------------ methods
def method_of(spec: dict):
    """``(declaration, method object, context parameters)`` of a job spec; the spec's parameters are
    resolved against the method's declaration again (a hand-written spec is checked like a config)."""
    decl, method = load_method(spec["method"])
    return decl, method, method_params(type(method), spec["params"], f"spec of {spec['method']}/{spec['variant']}: params")


def _method_failed(method, spec: dict, what: str) -> str:
    where = display_path(getattr(type(method), "source", type(method).__module__))
    return f"method {spec['method']!r} (variant {spec['variant']!r}, {where}) {what}"


def call_method(method, spec: dict, step: str, fn, *args):
    """``fn(*args)``, a method's own code: an exception it raises becomes a :class:`MethodError` naming
    the method, the variant and its file (the method's traceback is kept as the cause)."""
    try:
        return fn(*args)
    except Exception as exc:
        raise MethodError(_method_failed(method, spec, f"failed in {step}: {type(exc).__name__}: {exc}")) from exc


def run_method(method, spec: dict, y: np.ndarray, ctx: Context,
               taus: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Reconstruct ``y`` with ``method`` (with one threshold per item when ``taus`` is given, the survey's
    cases); the output is checked to have the input's shape, and non-finite items are counted. Returns
    ``(x_hat float32, seconds)``."""
    t0 = time.time()
    if taus is None:
        x_hat = np.asarray(call_method(method, spec, "reconstruct", method.reconstruct, y, ctx))
    else:
        x_hat = np.asarray(call_method(method, spec, "reconstruct_per_threshold", method.reconstruct_per_threshold,
                                       y, taus, ctx))
    seconds = time.time() - t0
    if x_hat.shape != y.shape:
        raise MethodError(_method_failed(method, spec, f"returned shape {x_hat.shape} for input {y.shape}"))
    bad = int((~np.all(np.isfinite(x_hat.reshape(len(x_hat), -1)), axis=1)).sum())
    if bad:
        log.warning("%d of %d reconstructions contain NaN or Inf; they are flagged in the metrics", bad, len(x_hat))
    return x_hat.astype(np.float32), seconds


def train(spec: dict, meas_dir: Path, model_dir: Path) -> None:
    decl, method, params = method_of(spec)
    pairs = decl.supervision == "pairs"
    y_tr, x_tr = load_split(meas_dir, "train", with_x=pairs)
    extra = spec.get("extra_train_measurements") or []
    if extra:  # Table 2: a measurements-only method also learns from clipped test measurements
        if decl.supervision != "measurements":
            raise ValueError(f"method {spec['method']!r} declares supervision {decl.supervision!r}: it may not "
                             f"train on test measurements (extra_train_measurements)")
        parts = [np.asarray(y_tr)]
        for d in extra:
            yt = np.asarray(io.load_npy(Paths.split_array(str(d), "test", "y")))
            if yt.shape[1:] != parts[0].shape[1:]:
                raise ValueError(f"{Paths.split_array(str(d), 'test', 'y')}: items of shape {yt.shape[1:]}, training items "
                                 f"are {parts[0].shape[1:]}")
            parts.append(yt)
            log.info("adding %d test measurements of %s to the training measurements", len(yt), d)
        y_tr = np.concatenate(parts)
    y_val, x_val = load_split(meas_dir, "val", with_x=True)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    _clean(model_dir)
    io.write_json(Path(Paths.spec_file(str(model_dir))), spec)
    log.info("fit %s/%s seed %d on %d training measurements (%s)", spec["method"], spec["variant"],
             spec["seed"], len(y_tr), "with pairs" if pairs else "measurements only")
    call_method(method, spec, "fit", method.fit, TrainData(y_tr, x_tr, y_val, x_val),
                Context.from_spec(spec, model_dir, params=params))


def reconstruct(spec: dict, meas_dir: Path, model_dir: Path | None, out: Path) -> None:
    """The test measurements of a measured set, as float32; a survey signal's cases (a spec with
    ``survey``) each with its own threshold (``test_tau.npy``), the context's at the largest of them."""
    _, method, params = method_of(spec)
    _clean(Path(out).parent, [Path(out).name])
    y, _ = load_split(meas_dir, "test", with_x=False)
    taus, bounds = None, {}
    if spec.get("survey"):
        taus = np.asarray(io.load_npy(Paths.split_array(str(meas_dir), "test", THRESHOLDS)), dtype=np.float64)
        bounds = {"tau_low": -float(taus.max()), "tau_high": float(taus.max())}
    ctx = Context.from_spec(spec, Path(model_dir) if model_dir else None, params=params, **bounds)
    x_hat, seconds = run_method(method, spec, np.array(y, dtype=np.float32), ctx, taus=taus)
    log.info("reconstructed %d items in %.2f s (%.3f s/item)", len(y), seconds, seconds / max(len(y), 1))
    io.save_arrays(out, x_hat=x_hat, seconds=np.float64(seconds))


# ----------------------------------------------------------------------------------------- evaluate
def evaluate(spec: dict, dataset: str, meas_dir: Path, recon: Path, metrics: list[str], out: Path) -> None:
    """Per-item metrics of one reconstruction, as tidy records (:mod:`declipbench.metrics.records`)."""
    from tqdm import tqdm

    y, x = load_split(meas_dir, "test", with_x=True)
    ids = io.load_npy(Paths.split_array(str(meas_dir), "test", "ids"))
    x_hat = io.load_arrays(recon)["x_hat"]
    scorers = {m: METRICS[m].scorer() for m in metrics}
    rows = []
    for i in tqdm(range(len(x)), desc=f"evaluate {spec['method']}/{spec['variant']}",
                  mininterval=2.0 if sys.stderr.isatty() else 30.0,
                  disable=not spec.get("progress", True)):
        for m in metrics:
            value, note = scorers[m](x[i], x_hat[i], y[i], spec["sample_rate"])
            rows.append(record(spec, dataset, ids[i], m, value, note))
    flagged = sum(1 for r in rows if r["note"])
    if flagged:
        log.warning("%d of %d scores could not be computed; see the note column of %s", flagged, len(rows), out)
    write_records(out, rows)
