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
from pathlib import Path

import numpy as np

from ..data import io
from ..metrics.sdr import sdr_db_items
from .formatting import write_values_csv

FIELDS = ["label", "input_sdr", "items", "missing", "mean_delta_sdr", "ci_low", "ci_high", "mean_sdr"]


def measure_levels(meas_dir: Path, out: Path, tau: float, input_sdrs: list[float], items: int) -> dict:
    """The rescaled, clipped test items of every level into ``out`` (atomically, file by file); returns the
    manifest (items kept and left out per level)."""
    from ..data.levels import scale_to_input_sdr
    from ..pipeline.steps import load_split

    _, x = load_split(meas_dir, "test", with_x=True)
    ids = io.load_npy(Path(meas_dir) / "test_ids.npy")
    x = np.asarray(x[:items], dtype=np.float64)
    xs, levels, kept_ids, report = [], [], [], {}
    for target in input_sdrs:
        kept, skipped = 0, []
        for i in range(len(x)):
            try:
                xs.append(scale_to_input_sdr(x[i], float(target), tau))
            except ValueError:
                skipped.append(int(ids[i]))
                continue
            levels.append(float(target))
            kept_ids.append(int(ids[i]))
            kept += 1
        report[f"{float(target):g}"] = {"kept": kept, "left_out": skipped}
    if not xs:
        raise ValueError(f"{meas_dir}: no test item reaches any of the input SDRs {list(input_sdrs)} dB at tau = {tau}")
    x_all = np.stack(xs).astype(np.float32)
    y_all = np.clip(x_all, -tau, tau)
    out = Path(out)
    io.save_npy(out / "test_x.npy", x_all)
    io.save_npy(out / "test_y.npy", y_all)
    io.save_npy(out / "test_ids.npy", np.asarray(kept_ids, dtype=np.int64))
    io.save_npy(out / "levels.npy", np.asarray(levels, dtype=np.float64))
    manifest = {"source": str(meas_dir), "tau": tau, "items": len(x), "levels": report, "modality": "audio",
                "splits": {"test": {"items_kept": len(x_all)}}}
    io.write_json(out / "manifest.json", manifest)
    return manifest


def curve_rows(meas_dir: Path, recons: list[tuple[str, Path]]) -> list[dict]:
    """One row per method and level: items scored, items missing, mean ΔSDR with its bootstrap interval, mean SDR."""
    from .tables import confidence_interval

    x = np.asarray(io.load_npy(Path(meas_dir) / "test_x.npy"))
    y = np.asarray(io.load_npy(Path(meas_dir) / "test_y.npy"))
    levels = np.asarray(io.load_npy(Path(meas_dir) / "levels.npy"))
    input_sdr = sdr_db_items(x, y)
    rows = []
    for label, npz in recons:
        x_hat = io.load_arrays(npz)["x_hat"]
        if x_hat.shape != x.shape:
            raise ValueError(f"{npz}: reconstruction of shape {x_hat.shape}, the input-SDR set {meas_dir} has {x.shape}")
        finite = np.all(np.isfinite(x_hat.reshape(len(x_hat), -1)), axis=1)
        sdr = np.full(len(x), np.nan)
        sdr[finite] = sdr_db_items(x[finite], x_hat[finite])
        for level in sorted(set(levels.tolist())):
            at = levels == level
            ok = at & np.isfinite(sdr)
            delta = sdr[ok] - input_sdr[ok]
            lo, hi = confidence_interval(delta)
            rows.append({"label": label, "input_sdr": float(level), "items": int(ok.sum()), "missing": int((at & ~ok).sum()),
                         "mean_delta_sdr": float(np.mean(delta)) if delta.size else math.nan, "ci_low": lo, "ci_high": hi,
                         "mean_sdr": float(np.mean(sdr[ok])) if ok.any() else math.nan})
    return rows


def write_rows(rows: list[dict], path: Path) -> None:
    write_values_csv(path, rows, FIELDS, ".6g")


def input_sdr_figure(rows: list[dict], out: Path, title: str) -> None:
    """One curve per method: mean ΔSDR against input SDR, its 95 % bootstrap band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import _finish

    fig, ax = plt.subplots(figsize=(9, 5.2))
    cmap = plt.get_cmap("tab20")
    for k, label in enumerate(dict.fromkeys(r["label"] for r in rows)):
        mine = sorted((r for r in rows if r["label"] == label and r["items"]), key=lambda r: r["input_sdr"])
        if not mine:
            continue
        s = [r["input_sdr"] for r in mine]
        missing = sum(r["missing"] for r in rows if r["label"] == label)
        ax.plot(s, [r["mean_delta_sdr"] for r in mine], "o-", ms=3, color=cmap(k % 20),
                label=label + (f" ({missing} items missing)" if missing else ""))
        ax.fill_between(s, [r["ci_low"] for r in mine], [r["ci_high"] for r in mine], color=cmap(k % 20), alpha=0.18, lw=0)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("input SDR (dB): test items rescaled so clipping at tau gives it", fontsize=8)
    ax.set_ylabel("mean ΔSDR (dB), 95 % bootstrap band over items", fontsize=8)
    ax.legend(fontsize=6.5, loc="best")
    ax.tick_params(labelsize=7)
    _finish(fig, out, title, title_size=10, dpi=110)
