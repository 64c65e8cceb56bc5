"""The command line: ``declipbench <command>`` (or ``python -m declipbench``).

What a person runs by hand: ``check-data``, ``describe``, ``run-dir``, ``report``, ``benchmarks``. And the steps
behind the Snakemake rules (:mod:`declipbench.jobs`), each taking its parameters as one JSON object,
``--job '{...}'``, built by its rule from the validated configuration; no shell is ever built from config
strings. Everything logs to stderr (a rule redirects it to its ``log:`` file).
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
import traceback
from pathlib import Path


def _job(text: str) -> dict:
    try:
        job = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--job is not valid JSON: {exc}")
    if not isinstance(job, dict):
        raise SystemExit("--job must be a JSON object")
    return job


def build_parser() -> argparse.ArgumentParser:
    from .jobs import STEPS

    p = argparse.ArgumentParser(prog="declipbench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("check-data", help="every input of a run from outside the repository: present, to download "
                                          "(size) or a manual step missing (what to do); exit 1 if one is missing")
    s.add_argument("--configfile", type=Path, required=True)
    s = sub.add_parser("describe", help="the declared parameters of a method, a dataset module or a figure")
    s.add_argument("kind", choices=("method", "dataset", "figure"))
    s.add_argument("name")
    s = sub.add_parser("run-dir", help="print the results folder of a config (<results_dir>/<run>)")
    s.add_argument("configfile", type=Path)
    s = sub.add_parser("report", help="the run's self-contained HTML report (Snakemake's, its embedded data escaped "
                                      "for HTML); run from the repository after the run")
    s.add_argument("--configfile", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True, help="the report (.html)")
    s = sub.add_parser("benchmarks", help="summarise the Snakemake benchmark files of a run into Markdown")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--out", type=Path, default=None)
    for name, fn in STEPS.items():
        s = sub.add_parser(name, help=f"rule step: {(fn.__doc__ or '').strip().splitlines()[0]}")
        s.add_argument("--job", type=_job, required=True, help=f"JSON object: {', '.join(inspect.signature(fn).parameters)}")
        s.add_argument("--threads", type=int, default=None, help="the job's threads (steps that take them)")
        s.add_argument("--time-limit-min", type=float, default=None,
                       help="end the step after this many minutes (a method's declared runtime_min)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .foundation.contracts import require_checkout

    try:
        require_checkout()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("declipbench")
    try:
        return _run(args)
    except Exception as exc:  # one line naming what failed; the traceback too where code (not input) failed
        from .foundation.contracts import MethodError

        if isinstance(exc, MethodError) or not isinstance(exc, (ValueError, FileNotFoundError, KeyError)):
            log.error("traceback:\n%s", "".join(traceback.format_exception(exc)))
        else:
            log.debug("%s", traceback.format_exc())
        log.error("%s: %s", args.step, exc)
        print(f"error ({args.step}): {exc}", file=sys.stderr)
        return 2


def die_with_parent() -> None:
    """For a job's process (``python -m declipbench``): end it when its parent ends. A job's Python must not
    outlive the shell Snakemake started it from (it would write its outputs after the job was marked
    failed): Linux sends it SIGTERM then (``PR_SET_PDEATHSIG``). SIGTERM unwinds normally, so temporary
    files are removed on the way out (:func:`declipbench.data.io.atomic_path`, the segment writers)."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _run(args) -> int:
    if args.step == "run-dir":
        import yaml

        from .foundation.paths import Paths
        from .pipeline.config import validate_config

        print(Paths(validate_config(yaml.safe_load(args.configfile.read_text()), str(args.configfile))).root)
    elif args.step == "benchmarks":
        from .report.benchmarks import summarise_run

        text = summarise_run(args.run_dir)
        if args.out:
            from .data.io import write_text

            write_text(args.out, text)
        print(text)
    elif args.step == "report":
        from .report.html_report import write_report

        return write_report(args.configfile, args.out)
    elif args.step == "check-data":
        from .foundation.inputs import missing_manual, summary
        from .pipeline.config import load_config
        from .pipeline.data_check import run_inputs

        found = run_inputs(load_config(args.configfile))
        print(f"Inputs of {args.configfile}:")
        print(summary(found))
        return 1 if missing_manual(found) else 0
    elif args.step == "describe":
        print(describe(args.kind, args.name))
    else:
        from .jobs import run_step, watchdog

        if args.time_limit_min:
            watchdog(args.step, args.time_limit_min)
        run_step(args.step, args.job, args.threads)
    return 0


def describe(kind: str, name: str) -> str:
    """The parameters a method, a dataset module or a figure declares, as a Markdown table."""
    from .foundation.parameters import describe as rows_of
    from .pipeline.plugins import discover_methods, display_path, load_dataset, method_class, unknown_method

    if kind == "method":
        methods = discover_methods()
        if name not in methods:
            raise unknown_method(name, methods)
        decl = methods[name]
        declaration = method_class(decl).declaration()
        head = f"method {name}, {decl.label} ({display_path(decl.folder)}): {decl.summary}"
    else:
        if kind == "figure":
            from .pipeline.figures import load_figure

            mod = load_figure(name)
        else:
            mod = load_dataset(name)
        declaration, head = mod.PARAMETERS, f"{'figure' if kind == 'figure' else 'dataset module'} {name}: " \
                                            f"{(mod.__doc__ or '').strip().splitlines()[0]}"
    lines = [head, "", "| parameter | default | type | what |", "|---|---|---|---|"]
    for dotted, default, kind_, text in rows_of(declaration):
        lines.append(f"| `{dotted}` | `{default!r}` | {kind_} | {text} |")
    return "\n".join(lines)
