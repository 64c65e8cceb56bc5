"""Per-item metrics of one reconstruction, as one tidy CSV (the evaluate rule).

NIQE (images) needs the pristine model of the official release. It is looked up, in this order, at
``$DECLIPBENCH_NIQE_MODEL`` (a ``.npz`` or the official ``modelparameters.mat``), in the cache
``data/niqe/`` of the repository (:func:`declipbench.metrics.fetch_niqe_model`; it downloads only when
``DECLIPBENCH_NIQE_SHA256`` gives the release's checksum, since none is published). Without one, NIQE
scores are recorded as missing with the reason, never as a crash. (The product never reads the test
fixtures; the tests point ``DECLIPBENCH_NIQE_MODEL`` at the fixture model, see tests/conftest.py.)
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from . import io
from .steps import load_split
from .tables import METRIC_FIELDS

log = logging.getLogger("declipbench")


def niqe_model() -> tuple[dict | None, str]:
    """The NIQE pristine model and where it came from, or ``None`` and why not (module docstring)."""
    import os

    from .metrics import fetch_niqe_model
    from .niqe import load_pristine_model
    from .plugins import ROOT

    tried = []
    env = os.environ.get("DECLIPBENCH_NIQE_MODEL")
    if env:
        try:
            return load_pristine_model(env), env
        except (OSError, ValueError) as exc:
            tried.append(f"{env}: {exc}")
    try:
        return fetch_niqe_model(ROOT / "data" / "niqe", progress=False), str(ROOT / "data" / "niqe")
    except (OSError, ValueError) as exc:
        tried.append(str(exc))
    log.warning("no NIQE pristine model: %s", " | ".join(tried))
    return None, ("NIQE pristine model not available: place modelparameters.mat of the official release "
                  "in data/niqe/ or set DECLIPBENCH_NIQE_MODEL")



def evaluate(spec: dict, dataset: str, meas_dir: Path, recon: Path, metrics: list[str], out: Path) -> None:
    from tqdm import tqdm

    from .metrics import METRICS, niqe_of

    y, x = load_split(meas_dir, "test", with_x=True)
    ids = io.load_npy(Path(meas_dir) / "test_ids.npy")
    x_hat = io.load_arrays(recon)["x_hat"]
    pristine, source = niqe_model() if "niqe" in metrics else (None, "")
    if "niqe" in metrics:
        log.info("NIQE pristine model: %s", source if pristine is not None else f"none: {source}")
    rows = []
    for i in tqdm(range(len(x)), desc=f"evaluate {spec['method']}/{spec['variant']}",
                  mininterval=2.0 if sys.stderr.isatty() else 30.0,
                  disable=not spec.get("progress", True)):
        for m in metrics:
            if m == "niqe":
                value, note = niqe_of(x_hat[i], pristine) if pristine is not None else (math.nan, source)
            else:
                value, note = METRICS[m](x[i], x_hat[i], y[i], spec["sample_rate"])
            rows.append({"experiment": spec["experiment"], "dataset": dataset, "method": spec["method"],
                         "variant": spec["variant"], "label": spec["label"], "seed": spec["seed"],
                         "item": int(ids[i]), "metric": m, "value": "" if math.isnan(value) else repr(float(value)),
                         "note": note})
    flagged = sum(1 for r in rows if r["note"])
    if flagged:
        log.warning("%d of %d scores could not be computed; see the note column of %s", flagged, len(rows), out)
    io.write_csv(out, rows, METRIC_FIELDS)
