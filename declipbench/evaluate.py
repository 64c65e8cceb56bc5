"""Per-item metrics of one reconstruction, as one tidy CSV (the evaluate rule)."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from . import io
from .steps import load_split
from .tables import METRIC_FIELDS

log = logging.getLogger("declipbench")



def evaluate(spec: dict, dataset: str, meas_dir: Path, recon: Path, metrics: list[str], out: Path) -> None:
    from tqdm import tqdm

    from .metrics import METRICS

    y, x = load_split(meas_dir, "test", with_x=True)
    ids = io.load_npy(Path(meas_dir) / "test_ids.npy")
    x_hat = io.load_arrays(recon)["x_hat"]
    rows = []
    for i in tqdm(range(len(x)), desc=f"evaluate {spec['method']}/{spec['variant']}",
                  mininterval=2.0 if sys.stderr.isatty() else 30.0,
                  disable=not spec.get("progress", True)):
        for m in metrics:
            value, note = METRICS[m](x[i], x_hat[i], y[i], spec["sample_rate"])
            rows.append({"experiment": spec["experiment"], "dataset": dataset, "method": spec["method"],
                         "variant": spec["variant"], "label": spec["label"], "seed": spec["seed"],
                         "item": int(ids[i]), "metric": m, "value": "" if math.isnan(value) else repr(float(value)),
                         "note": note})
    flagged = sum(1 for r in rows if r["note"])
    if flagged:
        log.warning("%d of %d scores could not be computed; see the note column of %s", flagged, len(rows), out)
    io.write_csv(out, rows, METRIC_FIELDS)
