"""ΔSDR against input SDR: the survey's way of showing declippers (Záviška et al. 2021), for every method of an
audio experiment (Table 1 in the configs).

The experiment's clean test items (the first ``items`` of its test split, in order) are each rescaled so
that clipping at the experiment's tau gives exactly the target input SDR (Table 3's protocol,
:func:`declipbench.data.levels.scale_to_input_sdr`: the threshold stays the one the networks were trained
at), for every target of ``input_sdrs``; an item that cannot reach a target (a target above what clipping
at 0.99 of its peak gives) is left out of that level and counted in the manifest and the CSV. All levels
form one measured set (``input_sdr/<experiment>/test_{x,y,ids}.npy`` and ``levels.npy``), reconstructed by
each method's ordinary ``reconstruct`` step (first seed, the experiment's trained models). Per method and
level: the mean ΔSDR over the items (SDR of the reconstruction minus the input SDR) with a 95 % percentile
bootstrap interval over items (the tables' :func:`declipbench.report.tables.confidence_interval`), one
curve per method with its band. An item whose SDR is not finite (a non-finite reconstruction, or an exact
one, SDR +inf) is missing as in the tables: counted in the CSV and the legend, never averaged.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from declipbench import Param
from declipbench.foundation.paths import Paths
from declipbench.data import io
from declipbench.metrics.sdr import delta_sdr_items, sdr_db_items
from declipbench.pipeline.figures import figure_experiment
from declipbench.data.io import load_split
from declipbench.report.formatting import write_values_csv
from declipbench.report.input_sdr_figure import input_sdr_figure
from declipbench.report.tables import confidence_interval

OUTPUTS = {"fig_input_sdr": "Delta SDR against input SDR"}
FIELDS = ["label", "input_sdr", "items", "missing", "mean_delta_sdr", "ci_low", "ci_high", "mean_sdr"]
PARAMETERS = {
    "experiment": Param(None, str, help="an audio experiment"),
    "input_sdrs": Param([1, 3, 5, 7, 10, 15, 20], list, items=float, help="the target input SDRs (dB), at least two, distinct"),
    "items": Param(20, int, min=2, help="test items per level (the first of the test split)"),
}


def check(params: dict, config: dict, where: str) -> None:
    figure_experiment(config, params, where, "audio", "the input-SDR figure")
    levels = params["input_sdrs"]
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise ValueError(f"{where}.input_sdrs = {levels}: at least two distinct levels")


def jobs(params: dict, run) -> list:
    """The figure's curves: its experiment's methods at the first seed."""
    return run.jobs(params["experiment"])


def inputs(params: dict, run) -> dict:
    e = params["experiment"]
    return {"measurements": run.paths.input_sdr_files(e),
            "reconstructions": [run.paths.input_sdr_reconstruction(e, j.method, j.variant) for j in jobs(params, run)]}


def values(params: dict, run) -> dict:
    e = params["experiment"]
    return {"measurements": run.paths.input_sdr(e), "labels": [run.label(j.method, j.variant) for j in jobs(params, run)],
            "title": "Delta SDR against input SDR: " + run.experiment(e).get("title", e)}


def curve_rows(meas_dir: Path, recons: list[tuple[str, Path]]) -> list[dict]:
    """One row per method and level: items scored, items missing, mean ΔSDR with its bootstrap interval, mean SDR."""
    y, x = load_split(meas_dir, "test", with_x=True)
    levels = np.asarray(io.load_npy(Paths.levels_file(str(meas_dir))))
    rows = []
    for label, npz in recons:
        x_hat = io.load_arrays(npz)["x_hat"]
        if x_hat.shape != x.shape:
            raise ValueError(f"{npz}: reconstruction of shape {x_hat.shape}, the input-SDR set {meas_dir} has {x.shape}")
        finite = np.all(np.isfinite(x_hat.reshape(len(x_hat), -1)), axis=1)
        sdr = np.full(len(x), np.nan)
        sdr[finite] = sdr_db_items(x[finite], x_hat[finite])
        delta_all = delta_sdr_items(x, x_hat, y)
        for level in sorted(set(levels.tolist())):
            at = levels == level
            ok = at & np.isfinite(sdr)
            delta = delta_all[ok]
            lo, hi = confidence_interval(delta)
            rows.append({"label": label, "input_sdr": float(level), "items": int(ok.sum()), "missing": int((at & ~ok).sum()),
                         "mean_delta_sdr": float(np.mean(delta)) if delta.size else math.nan, "ci_low": lo, "ci_high": hi,
                         "mean_sdr": float(np.mean(sdr[ok])) if ok.any() else math.nan})
    return rows


def make(job) -> None:
    v = job.values
    recons = job.inputs["reconstructions"]
    if len(v["labels"]) != len(recons):
        raise ValueError(f"{len(v['labels'])} labels for {len(recons)} reconstructions")
    rows = curve_rows(Path(v["measurements"]), list(zip(v["labels"], map(Path, recons))))
    write_values_csv(job.csv("fig_input_sdr"), rows, FIELDS, ".6g")
    input_sdr_figure(rows, job.png("fig_input_sdr"), v["title"] or "Delta SDR against input SDR")
    for r in rows:
        print(f"{r['label']}: input {r['input_sdr']:g} dB, delta SDR {r['mean_delta_sdr']:.2f} "
              f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] on {r['items']} items, {r['missing']} missing", file=sys.stderr)
