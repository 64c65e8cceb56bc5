"""The tables of a run that ended with failed jobs (``snakemake --keep-going``): each table some of whose jobs
gave no metrics is written from the methods whose every seed finished, each other method listed as failed
with the reason read from its logs; the title says the table is incomplete. The run still ends with an
error, and the next run redoes the failed jobs and then the table."""

from __future__ import annotations

import os

from ..foundation.paths import Paths
from .tables import write_tables


def job_failure(paths: Paths, measured: str, job) -> str:
    """Why a job of a table gave no metrics: the last ``error (<step>): ...`` line of its train,
    reconstruct or evaluate log, or that it did not run."""
    experiment = Paths.split_measured(measured)[0]
    logs = [paths.log("train", experiment, job.method, job.variant, f"seed{job.seed}")] if job.trains else []
    logs += [paths.log(rule, measured, job.method, job.variant, f"seed{job.seed}") for rule in ("reconstruct", "evaluate")]
    for log in logs:
        if os.path.exists(log):
            with open(log, errors="replace") as fh:
                errors = [line.strip() for line in fh if line.startswith("error (")]
            if errors:
                return f"seed {job.seed}: {errors[-1]} (log: {log})"
    return f"seed {job.seed}: did not run (a job it needs failed or was not reached)"


def write_incomplete_tables(run, tables: list[str]) -> list[tuple[str, list[dict]]]:
    """Write every table of ``tables`` that misses metrics (or that an incomplete test-set table blocked);
    ``run`` is the run's :class:`declipbench.pipeline.figures.RunView`. Returns ``(table, failed methods)``
    for each table written without some methods."""
    out = []
    paths, config = run.paths, run.config
    for table in tables:
        measured = Paths.measured_of_table(table)
        experiment = Paths.split_measured(measured)[0]
        jobs = run.all_jobs(experiment)
        files = {j: paths.item_metrics(measured, j.method, j.variant, j.seed) for j in jobs}
        missing = {j for j, f in files.items() if not os.path.exists(f)}
        # a table whose jobs all gave metrics is written here only when an incomplete test-set table blocked it
        if not missing and os.path.exists(paths.table(table, "md")):
            continue
        incomplete = dict.fromkeys((j.method, j.variant) for j in jobs if j in missing)
        failed = []
        for method, variant in incomplete:
            mine = [j for j in jobs if (j.method, j.variant) == (method, variant)]
            failed.append({"method": method, "variant": variant, "label": run.label(method, variant),
                           "seeds": len(mine),
                           "reason": "; ".join(job_failure(paths, measured, j) for j in mine if j in missing)})
        present = [f for j, f in files.items() if (j.method, j.variant) not in incomplete]
        title = run.table_title(table)
        if failed:
            title += f" (incomplete: {len(missing)} of {len(files)} jobs gave no result)"
        reference = config["experiments"][experiment].get("reference")
        write_tables(present, config["experiments"][experiment]["metrics"], paths.table(table, "md")[: -len(".md")],
                     paths.table_metrics(table), title, failed=failed,
                     reference=tuple(reference.split("/", 1)) if reference else None)
        if failed:
            out.append((table, failed))
    return out
