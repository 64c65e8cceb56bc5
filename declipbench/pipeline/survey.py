"""Survey experiments: the protocol of the declipping survey (Zaviska et al., IEEE JSTSP 2021) on whole signals.

A survey is an experiment whose protocol is a set of input SDRs (config section ``surveys:``), run by the
same rules as every experiment (``workflow/rules/``):

    prepare_signals (verify / download the survey data set's signals, list them in its manifest)
    -> measure (one measured set per signal, ``<survey>/signals/<signal>``: :func:`measure`)
    -> reconstruct (one job per method variant and signal, one threshold per case)
    -> evaluate (SDR and Delta-SDR per case, the metrics of every table)
    -> table (:func:`table`, written by :mod:`declipbench.report.survey_tables`)

Each signal of a survey data set (``datasets/sqam.py``) is clipped to every target input SDR with the
threshold found by a bracketed root search to machine precision (:func:`declipbench.physics.tau_for_input_sdr`,
the survey's ``clip_sdr``); unsupervised methods (``trains: false``) reconstruct every case, receiving a
signal's cases as one batch through :meth:`declipbench.Method.reconstruct_per_threshold`; the table reports,
per method and input SDR, the mean and median Delta-SDR over the signals beside the survey's published
numbers.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..data import io
from ..foundation.paths import THRESHOLDS, Paths
from ..metrics.records import read_records
from ..metrics.sdr import sdr_db
from ..physics.thresholds import tau_for_input_sdr
from .config import SURVEY_METRICS
from .plugins import dataset_params, load_dataset

log = logging.getLogger("declipbench")
SDR, DELTA_SDR = SURVEY_METRICS  # the records a case's row reads


# ------------------------------------------------------------------------------------------ steps
def signals_manifest(mod, module: str, params: dict, data_dir: Path | None) -> dict:
    """The prepare step of a survey data set: verify (and download what is missing of) its signals and list
    them, each with its path and SHA-256."""
    from ..data.download import sha256sum

    paths = mod.fetch(params, data_dir)
    return {"dataset": module, "params": params,
            "signals": {n: {"path": str(p), "sha256": sha256sum(p)} for n, p in paths.items()}}


def measure(module: str, params: dict, signal: str, input_sdrs: list[float], data_dir: Path | None, out_dir: Path) -> dict:
    """Clip one signal to every target input SDR: a measured set whose test items are the cases
    (``test_{x,y,ids}.npy`` in the signal's own float64, ``test_tau.npy`` each case's threshold) and whose
    manifest lists each case's target and achieved input SDR and clipped fraction."""
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
    folder = str(out_dir)
    io.save_npy(Path(Paths.split_array(folder, "test", "x")), np.stack([x] * len(ys)))
    io.save_npy(Path(Paths.split_array(folder, "test", "y")), np.stack(ys))
    io.save_npy(Path(Paths.split_array(folder, "test", "ids")), np.arange(len(ys)))
    io.save_npy(Path(Paths.split_array(folder, "test", THRESHOLDS)), np.array(taus, dtype=np.float64))
    manifest = {"dataset": module, "signal": signal, "modality": "audio", "sample_rate": int(mod.SAMPLE_RATE),
                "protocol": "input_sdrs", "splits": {"test": {"items_kept": len(ys), "samples": int(len(x))}},
                "cases": {"input_sdr_target": [float(t) for t in input_sdrs], "input_sdr": [float(a) for a in achieved],
                          "clipped_fraction": fractions}}
    io.write_json(Path(Paths.manifest(folder)), manifest)
    return manifest


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


def case_rows(cases: list[dict], published: dict, reference: dict | None) -> list[dict]:
    """One row per case of every (method variant, signal): ``cases`` lists, in table order, each job's
    ``method``, ``variant``, ``signal`` and files: its per-item ``metrics`` (SDR and Delta-SDR, the evaluate
    step's records), its ``reconstruction`` (for the time it took) and its ``measurements`` folder."""
    rows = []
    for c in cases:
        meas = str(c["measurements"])
        m = io.read_json(Path(Paths.manifest(meas)))
        taus = np.asarray(io.load_npy(Paths.split_array(meas, "test", THRESHOLDS)))
        seconds = float(io.load_arrays(c["reconstruction"])["seconds"])
        records = read_records([Path(c["metrics"])])
        scores = {(int(r["item"]), r["metric"]): (float(r["value"]) if r["value"] else math.nan) for r in records}
        labels = {r["label"] for r in records}
        if len(labels) != 1:
            raise ValueError(f"{c['metrics']}: expected the records of one method variant, found labels {sorted(labels)}")
        label = next(iter(labels))
        key = published.get(f"{c['method']}/{c['variant']}")
        targets = m["cases"]["input_sdr_target"]
        for j, target in enumerate(targets):
            row = {"method": c["method"], "variant": c["variant"], "label": label,
                   "signal": c["signal"], "input_sdr_target": float(target), "input_sdr": float(m["cases"]["input_sdr"][j]),
                   "tau": float(taus[j]), "clipped_fraction": float(m["cases"]["clipped_fraction"][j]),
                   "sdr": scores[(j, SDR)], "dsdr": scores[(j, DELTA_SDR)],
                   "seconds_per_case": seconds / len(targets),
                   "published_dsdr": math.nan, "difference": math.nan}
            if reference is not None and key is not None:
                pub = reference.get((c["signal"], key, float(target)))
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


def table(config_survey: dict, module: str, cases: list[dict]) -> dict:
    """The survey's results: every case (``rows``), the summary per method and input SDR (``summary``) and
    what its table cites (``title``, ``citation``, ``n_all`` signals); :mod:`declipbench.report.survey_tables`
    writes them."""
    mod = load_dataset(module)
    published = config_survey.get("published", {})
    ref_path = config_survey.get("reference_csv")
    reference = read_reference(Path(ref_path)) if ref_path else None
    rows = case_rows(cases, published, reference)
    return {"rows": rows, "summary": summary(rows, getattr(mod, "PUBLISHED_MEAN_DSDR", {}), published),
            "title": config_survey.get("title", "survey"), "citation": getattr(mod, "CITATION", ""),
            "n_all": len(getattr(mod, "SIGNALS", ()))}
