"""The tidy per-item metric records: one row per (job, item, metric), the evaluate step's output and every
table's input (``metrics/<measured>/<method>/<variant>/seed<seed>.csv``; ``metrics/<table>.csv`` gathers a
table's)."""

from __future__ import annotations

import math
from pathlib import Path

from ..data import io

FIELDS = ["experiment", "dataset", "method", "variant", "label", "seed", "item", "metric", "value", "note"]


def record(spec: dict, dataset: str, item: int, metric: str, value: float, note: str) -> dict:
    """One record: ``value`` as its ``repr`` (exact), empty when it is NaN, with ``note`` saying why."""
    return {"experiment": spec["experiment"], "dataset": dataset, "method": spec["method"],
            "variant": spec["variant"], "label": spec["label"], "seed": spec["seed"], "item": int(item),
            "metric": metric, "value": "" if math.isnan(value) else repr(float(value)), "note": note}


def write_records(path: Path, rows: list[dict]) -> None:
    io.write_csv(path, rows, FIELDS)


def read_records(files: list[Path]) -> list[dict]:
    return [r for f in files for r in io.read_csv(f)]
