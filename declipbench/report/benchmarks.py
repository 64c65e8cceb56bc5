"""Summaries of Snakemake ``benchmark:`` files (wall time per rule) and of training logs (throughput)."""

from __future__ import annotations

import csv
import platform
from pathlib import Path

from ..foundation.paths import TRAIN_LOG


def _machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def summarise_run(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    rows = []
    for f in sorted((run_dir / "benchmarks").rglob("*.tsv")):
        with open(f) as fh:
            r = next(csv.DictReader(fh, delimiter="\t"), None)
        if r:
            rows.append((str(f.relative_to(run_dir / "benchmarks").with_suffix("")), float(r["s"]),
                         r.get("max_rss", "")))
    lines = [f"Machine: {_machine()}", "", "| job | wall (s) | max RSS (MB) |", "|---|---|---|"]
    total = 0.0
    for name, s, rss in rows:
        total += s
        lines.append(f"| {name} | {s:.1f} | {rss} |")
    lines.append(f"| **sum of jobs** | **{total:.1f}** | |")
    tl = sorted((run_dir / "models").rglob(TRAIN_LOG))
    if tl:
        lines += ["", "| training run | epochs | items/s (mean) | final val SDR (dB) |", "|---|---|---|---|"]
        for f in tl:
            with open(f) as fh:
                log = list(csv.DictReader(fh))
            if not log:
                continue
            ips = sum(float(r["items_per_s"]) for r in log) / len(log)
            val = log[-1].get("val_sdr", "")
            lines.append(f"| {f.parent.relative_to(run_dir / 'models')} | {len(log)} | {ips:.1f} | "
                         f"{float(val):.2f} |" if val else f"| {f.parent.relative_to(run_dir / 'models')} | {len(log)} | {ips:.1f} | |")
    return "\n".join(lines) + "\n"
