"""The measured set of the input-SDR figure (``figures/input_sdr.py``): an experiment's first test items, each
rescaled so that clipping at the experiment's tau gives exactly each target input SDR (Table 3's protocol,
:func:`declipbench.data.levels.scale_to_input_sdr`); an item that cannot reach a target is left out of that
level and counted in the manifest. Every method reconstructs the set through its ordinary reconstruct step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import io
from ..foundation.paths import Paths


def measure_levels(meas_dir: Path, out: Path, tau: float, input_sdrs: list[float], items: int) -> dict:
    """The rescaled, clipped test items of every level into ``out`` (atomically, file by file); returns the
    manifest (items kept and left out per level)."""
    from ..data.levels import scale_to_input_sdr
    from ..data.io import load_split

    _, x = load_split(meas_dir, "test", with_x=True)
    ids = io.load_npy(Paths.split_array(str(meas_dir), "test", "ids"))
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
    io.save_npy(Path(Paths.split_array(str(out), "test", "x")), x_all)
    io.save_npy(Path(Paths.split_array(str(out), "test", "y")), y_all)
    io.save_npy(Path(Paths.split_array(str(out), "test", "ids")), np.asarray(kept_ids, dtype=np.int64))
    io.save_npy(Path(Paths.levels_file(str(out))), np.asarray(levels, dtype=np.float64))
    manifest = {"source": str(meas_dir), "tau": tau, "items": len(x), "levels": report, "modality": "audio",
                "splits": {"test": {"items_kept": len(x_all)}}}
    io.write_json(Path(Paths.manifest(str(out))), manifest)
    return manifest
