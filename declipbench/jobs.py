"""The steps behind the Snakemake rules, one function each, called with the job's parameters.

A rule hands its step everything in one JSON object (``python -m declipbench <step> --job '{...}'``): the
rule's params build it from the validated configuration and the path registry, and the keys are this
module's keyword arguments (an unknown or missing key is refused naming the step). Paths arrive as strings.
Every step logs to stderr, which the rule redirects to its ``log:`` file.
"""

from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path


def _path(p) -> Path | None:
    return None if p is None else Path(p)


def prepare(module: str, params: dict, out: str, data_dir: str | None = None) -> None:
    """Make or prepare a data set: ``{split}.npy`` and ``manifest.json``."""
    from .pipeline import steps

    steps.prepare(module, params, Path(out), _path(data_dir))


def measure(data: str, out: str, tau: float, modality: str = "audio", keep_unclipped: bool = False,
            max_items: dict | None = None, required_splits: list[str] = ("train", "val", "test")) -> None:
    """Clip the prepared splits at tau (images: each item's virtual camera)."""
    from .pipeline import steps

    steps.measure(Path(data), Path(out), float(tau), modality=modality, drop_unclipped=not keep_unclipped,
                  max_items=max_items or {}, required=list(required_splits))


def measure_signal(module: str, params: dict, signal: str, input_sdrs: list[float], out: str,
                   data_dir: str | None = None) -> None:
    """Clip one whole signal of a survey at each of its input SDRs (one test item per case)."""
    from .pipeline import survey

    survey.measure(module, params, signal, [float(v) for v in input_sdrs], _path(data_dir), Path(out))


def train(spec: dict, measurements: str, out: str) -> None:
    """Fit a method on the training measurements into its model folder."""
    from .pipeline import steps

    steps.train(spec, Path(measurements), Path(out))


def reconstruct(spec: dict, measurements: str, out: str, model: str | None = None) -> None:
    """Reconstruct the test measurements (with the model folder of a method that trains)."""
    from .pipeline import steps

    steps.reconstruct(spec, Path(measurements), _path(model), Path(out))


def evaluate(spec: dict, dataset: str, measurements: str, reconstruction: str, metrics: list[str], out: str) -> None:
    """Per-item metrics of one reconstruction."""
    from .pipeline import steps

    steps.evaluate(spec, dataset, Path(measurements), Path(reconstruction), metrics, Path(out))


def tables(inputs: list[str], metrics: list[str], prefix: str, all_metrics: str, title: str = "",
           reference: str = "", survey: dict | None = None) -> None:
    """Gather per-item metrics into a table (CSV, Markdown, LaTeX); a survey's, per input SDR beside the
    published numbers."""
    if survey is not None:  # {config, module, cases}: declipbench.pipeline.survey.table
        from .metrics.records import read_records, write_records
        from .pipeline import survey as protocol
        from .report.survey_tables import write_survey_tables

        write_records(Path(all_metrics), read_records([Path(f) for f in inputs]))
        write_survey_tables(prefix=Path(prefix), **protocol.table(survey["config"], survey["module"], survey["cases"]))
    else:
        from .report.tables import write_tables

        ref = tuple(reference.split("/", 1)) if reference else None
        write_tables([Path(f) for f in inputs], metrics, Path(prefix), Path(all_metrics), title, reference=ref)
    print(Path(f"{prefix}.md").read_text())


def figure(measurements: str, tau: float, sample_rate: int, labels: list[str], inputs: list[str], out: str,
           modality: str = "audio", item: int | None = None, seconds: float = 0.05, title: str = "") -> None:
    """An experiment's example figure: waveforms and spectrograms of one test item (images: Figure 8)."""
    from .data import io
    from .report.figures import example_figure, pick_item

    if len(labels) != len(inputs):
        raise ValueError(f"{len(labels)} labels for {len(inputs)} reconstructions")
    y, x = io.load_split(measurements, "test", with_x=True)
    i = pick_item(x, y, item)
    recons = [(lab, io.load_arrays(f)["x_hat"][i]) for lab, f in zip(labels, inputs)]
    example_figure(modality, x[i], y[i], recons, float(tau), int(sample_rate), Path(out), float(seconds),
                   title or f"test item {i}")


def table_page(table_md: str, title: str, out: str, listen_pages: list[str] = (), measurements: str | None = None,
               sample_rate: int = 0, tau: float = 0.0, labels: list[str] = (), reconstructions: list[str] = (),
               item_metrics: list[str] = ()) -> None:
    """The report pages of a table: the table; for audio, one page per test item to listen to."""
    from .report.table_page import write_listen_pages, write_table_page

    if not (len(labels) == len(reconstructions) == len(item_metrics)):
        raise ValueError(f"{len(labels)} labels, {len(reconstructions)} reconstructions and {len(item_metrics)} "
                         f"metric files: one of each per method")
    if listen_pages:
        if measurements is None or sample_rate <= 0 or tau <= 0:
            raise ValueError("listening pages need measurements, sample_rate and tau")
        items = write_listen_pages([Path(p) for p in listen_pages], title, Path(measurements),
                                   [(lab, Path(r), Path(m)) for lab, r, m in zip(labels, reconstructions, item_metrics)],
                                   int(sample_rate), float(tau))
        how = (f"Listen: {len(listen_pages)} test items, one page each under Listen in the report "
               "(page 1 the most heavily clipped).")
        print(f"{title}: test items {items} to listen to", file=sys.stderr)
    else:
        how = "The example figure (Figure 8 for an image table) is under Figures in the report."
    write_table_page(Path(out), title, Path(table_md), how)


def paper_figure(spec: dict, threads: int = 1) -> None:
    """One of the paper's figures (a module ``figures/<key>.py``): its values and PNGs."""
    from .pipeline.figures import run_figure

    run_figure(spec, threads)


def measure_input_sdr(measurements: str, tau: float, input_sdrs: list[float], items: int, out: str) -> None:
    """An experiment's test items rescaled to each input SDR and clipped (the input-SDR figure's set)."""
    from .pipeline.input_sdr import measure_levels

    manifest = measure_levels(Path(measurements), Path(out), float(tau), [float(v) for v in input_sdrs], int(items))
    for level, r in manifest["levels"].items():
        left = f", left out (cannot reach it): {r['left_out']}" if r["left_out"] else ""
        print(f"input SDR {level} dB: {r['kept']} items{left}", file=sys.stderr)


#: step name on the command line -> its function
STEPS = {fn.__name__.replace("_", "-"): fn for fn in (
    prepare, measure, measure_signal, train, reconstruct, evaluate, tables, figure, table_page, paper_figure, measure_input_sdr)}


def watchdog(step: str, limit_min: float, every_s: float = 300.0) -> None:
    """A step's heartbeat and time limit, locally as on a cluster: a log line every ``every_s`` seconds (a hung
    job shows in its log), and past ``limit_min`` minutes an error line and SIGTERM to this process, which
    unwinds and removes its temporary files (:func:`declipbench.cli.die_with_parent`); a step that does not end within a
    minute more is ended at once (exit status 124)."""
    import os
    import signal
    import threading
    import time

    log = logging.getLogger("declipbench")
    start = time.monotonic()

    def run():
        while (elapsed := time.monotonic() - start) < limit_min * 60:
            time.sleep(min(every_s, max(limit_min * 60 - elapsed, 0.01)))
            if time.monotonic() - start < limit_min * 60:
                log.info("%s still running: %.1f min of its %g min limit", step, (time.monotonic() - start) / 60,
                         limit_min)
        log.error("%s: over its time limit of %g min (the method's runtime_min in its method.yaml): stopped", step,
                  limit_min)
        print(f"error ({step}): over its time limit of {limit_min:g} min (runtime_min): stopped", file=sys.stderr)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
        os._exit(124)

    threading.Thread(target=run, name="watchdog", daemon=True).start()


def run_step(name: str, job: dict, threads: int | None = None) -> None:
    """A rule's step with its job's parameters; a key the step does not take, or one it needs and lacks, is
    refused naming the step."""
    fn = STEPS[name]
    params = inspect.signature(fn).parameters
    if threads is not None and "threads" in params:
        job = {**job, "threads": threads}
    unknown = sorted(set(job) - set(params))
    missing = sorted(k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in job)
    if unknown or missing:
        raise ValueError(f"the job of step {name!r}: " + "; ".join(
            ([f"unknown keys {unknown}"] if unknown else []) + ([f"missing keys {missing}"] if missing else []))
            + f" (it takes {list(params)})")
    fn(**job)
