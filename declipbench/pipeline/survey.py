"""Survey experiments: the protocol of the declipping survey (Zaviska et al., IEEE JSTSP 2021) on whole signals.

Each signal of a survey data set (``datasets/sqam.py``) is clipped to every target input SDR with the
threshold found by a bracketed root search to machine precision (:func:`declipbench.physics.tau_for_input_sdr`,
the survey's ``clip_sdr``); unsupervised methods (``trains: false``) reconstruct every case; the table reports, per
method and input SDR, the mean and median Delta-SDR over the signals beside the survey's published
numbers. Config section ``surveys:`` (``workflow/schemas/config.schema.yaml``, checked with the rest of the
configuration in :mod:`.config`); rules in ``workflow/rules/survey.smk``:

    survey_fetch (verify / download) -> survey_measure (one file per signal: x, the clipped cases, taus)
    -> survey_reconstruct (one job per method variant and signal) -> survey_table (written by
    :mod:`declipbench.report.survey_tables`)

A method receives the cases of one signal as a batch through
:meth:`declipbench.Method.reconstruct_per_threshold` (one threshold per case), run by the same
:func:`declipbench.pipeline.steps.run_method` as every reconstruction of the pipeline.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..data import io
from ..foundation.paths import Paths
from ..metrics.sdr import delta_sdr_items, sdr_db
from ..physics.thresholds import tau_for_input_sdr
from ..foundation.contracts import Context
from .plugins import dataset_params, load_dataset
from .steps import method_of, run_method

log = logging.getLogger("declipbench")


# ------------------------------------------------------------------------------------------ steps
def fetch(module: str, params: dict, data_dir: Path | None, out: Path) -> dict:
    """Verify (and download what is missing of) the survey's signals; write a manifest of them."""
    from ..data.download import sha256sum

    mod = load_dataset(module)
    paths = mod.fetch(dataset_params(mod, params, f"survey data set {module}: params"), data_dir)
    manifest = {"dataset": module, "signals": {n: {"path": str(p), "sha256": sha256sum(p)} for n, p in paths.items()}}
    io.write_json(out, manifest)
    return manifest


def measure(module: str, params: dict, signal: str, input_sdrs: list[float], data_dir: Path | None, out: Path) -> dict:
    """Clip one signal to every target input SDR; write ``x``, ``y`` (cases x samples), ``tau`` and
    the achieved input SDRs."""
    mod = load_dataset(module)
    p = dataset_params(mod, {**params, "signals": [signal]}, f"survey data set {module}: params")
    x = mod.load(p, data_dir, progress=False)[signal]
    taus, ys, achieved, fractions = [], [], [], []
    for target in input_sdrs:
        tau = tau_for_input_sdr(x, float(target), tol=0.0, max_iter=2000)   # to machine precision, as clip_sdr.m
        y = np.clip(x, -tau, tau)
        taus.append(tau)
        ys.append(y)
        achieved.append(sdr_db(x, y))
        fractions.append(float(np.mean(np.abs(x) > tau)))
        log.info("%s: input SDR %g dB -> tau %.6f (achieved %.4f dB, %.2f %% clipped)", signal, target, tau,
                 achieved[-1], 100 * fractions[-1])
    io.save_arrays(out, x=x, y=np.stack(ys), tau=np.array(taus), input_sdr_target=np.array(input_sdrs, dtype=np.float64),
                   input_sdr=np.array(achieved), clipped_fraction=np.array(fractions),
                   sample_rate=np.int64(mod.SAMPLE_RATE))
    return {"signal": signal, "taus": taus, "input_sdr": achieved}


def reconstruct(spec: dict, measurements: Path, out: Path) -> None:
    """One method variant on every case of one signal (one batch, one threshold per case)."""
    _, method, params = method_of(spec)
    m = io.load_arrays(measurements)
    y, taus, rate = np.asarray(m["y"], dtype=np.float32), np.asarray(m["tau"]), int(m["sample_rate"])
    ctx = Context.from_spec(spec, params=params, tau_low=-float(taus.max()), tau_high=float(taus.max()),
                            sample_rate=rate)
    x_hat, seconds = run_method(method, spec, y, ctx, taus=taus)
    log.info("%s/%s: %d cases of %s in %.1f s (%.1f s per case)", spec["method"], spec["variant"], len(y),
             Path(measurements).stem, seconds, seconds / len(y))
    io.save_arrays(out, x_hat=x_hat, seconds=np.float64(seconds))


# ------------------------------------------------------------------------------------------ table
def read_reference(path: Path) -> dict[tuple[str, str, float], float]:
    """Published per-signal Delta-SDR, CSV ``signal,method,input_sdr_db,dsdr_db`` (the survey's format)."""
    ref = {}
    for i, row in enumerate(io.read_csv(path), start=2):
        try:
            ref[(row["signal"], row["method"], float(row["input_sdr_db"]))] = float(row["dsdr_db"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}, line {i}: expected signal,method,input_sdr_db,dsdr_db ({exc})") from exc
    return ref


def case_rows(specs: list[dict], recon_files: list[Path], meas_dir: Path, published: dict,
              reference: dict | None) -> list[dict]:
    rows = []
    for spec, path in zip(specs, recon_files):
        path = Path(path)
        m = io.load_arrays(Paths.signal_measurement(str(meas_dir), path.stem))
        r = io.load_arrays(path)
        key = published.get(f"{spec['method']}/{spec['variant']}")
        for j, target in enumerate(m["input_sdr_target"]):
            x, y, xh = m["x"], m["y"][j], r["x_hat"][j]
            finite = bool(np.all(np.isfinite(xh)))
            out_sdr = sdr_db(x, xh) if finite else math.nan
            row = {"method": spec["method"], "variant": spec["variant"], "label": spec["label"],
                   "signal": path.stem, "input_sdr_target": float(target), "input_sdr": float(m["input_sdr"][j]),
                   "tau": float(m["tau"][j]), "clipped_fraction": float(m["clipped_fraction"][j]),
                   "sdr": out_sdr, "dsdr": float(delta_sdr_items(x[None], xh[None], y[None])[0]),
                   "seconds_per_case": float(r["seconds"]) / len(m["input_sdr_target"]),
                   "published_dsdr": math.nan, "difference": math.nan}
            if reference is not None and key is not None:
                pub = reference.get((path.stem, key, float(target)))
                if pub is not None:
                    row["published_dsdr"] = pub
                    row["difference"] = row["dsdr"] - pub
            rows.append(row)
    return rows


def summary(rows: list[dict], published_means: dict, published: dict) -> list[dict]:
    out = []
    groups = {}
    for r in rows:
        groups.setdefault((r["label"], f"{r['method']}/{r['variant']}"), {}).setdefault(r["input_sdr_target"], []).append(r)
    for (label, mv), by_sdr in groups.items():
        key = published.get(mv)
        for target in sorted(by_sdr):
            rs = by_sdr[target]
            d = np.array([r["dsdr"] for r in rs], dtype=np.float64)
            diffs = np.array([r["difference"] for r in rs], dtype=np.float64)
            have = np.isfinite(diffs)
            out.append({
                "label": label, "input_sdr": target, "signals": len(rs),
                "dsdr_mean": float(np.mean(d)), "dsdr_median": float(np.median(d)),
                "published_mean_all": float(published_means.get(key, {}).get(int(target), math.nan)) if key else math.nan,
                "published_mean_same": float(np.mean([r["published_dsdr"] for r in rs])) if have.all() and len(rs) else math.nan,
                "mean_abs_difference": float(np.mean(np.abs(diffs))) if have.all() and len(rs) else math.nan,
                "max_abs_difference": float(np.max(np.abs(diffs))) if have.all() and len(rs) else math.nan,
                "seconds_per_case": float(np.mean([r["seconds_per_case"] for r in rs])),
            })
    return out


def table(config_survey: dict, specs: list[dict], recon_files: list[Path], meas_dir: Path) -> dict:
    """The survey's results: every case (``rows``), the summary per method and input SDR (``summary``) and
    what its table cites (``title``, ``citation``, ``n_all`` signals); :mod:`declipbench.report.survey_tables`
    writes them."""
    mod = load_dataset(config_survey["dataset"]["module"])
    published = config_survey.get("published", {})
    ref_path = config_survey.get("reference_csv")
    reference = read_reference(Path(ref_path)) if ref_path else None
    rows = case_rows(specs, recon_files, meas_dir, published, reference)
    return {"rows": rows, "summary": summary(rows, getattr(mod, "PUBLISHED_MEAN_DSDR", {}), published),
            "title": config_survey.get("title", "survey"), "citation": getattr(mod, "CITATION", ""),
            "n_all": len(getattr(mod, "SIGNALS", ()))}
