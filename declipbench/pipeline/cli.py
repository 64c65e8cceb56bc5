"""Command line behind the Snakemake rules: ``python -m declipbench <step> ...``.

Each step takes explicit paths (no shell is ever built from config strings) and a JSON job spec,
and logs to stderr (the rules redirect it to their ``log:`` file).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from pathlib import Path


def _spec(text: str) -> dict:
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--spec is not valid JSON: {exc}")
    if not isinstance(spec, dict):
        raise SystemExit("--spec must be a JSON object")
    return spec


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m declipbench", description=__doc__)
    sub = p.add_subparsers(dest="step", required=True)

    s = sub.add_parser("prepare", help="make or prepare a dataset: {split}.npy + manifest.json")
    s.add_argument("--module", required=True)
    s.add_argument("--params", default="{}", help="dataset params as JSON")
    s.add_argument("--data-dir", type=Path, default=None, help="download cache for real datasets")
    s.add_argument("--out", type=Path, required=True, help="output directory")

    s = sub.add_parser("measure", help="clip the prepared splits at tau")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--tau", type=float, required=True)
    s.add_argument("--modality", choices=("audio", "image"), default="audio",
                   help="audio: clipping at +-tau; image: each item's virtual camera (tau = 1)")
    s.add_argument("--required-splits", nargs="+", choices=("train", "val", "test"), default=["train", "val", "test"],
                   help="splits that must keep at least one item (an extra test set needs its test split only)")
    s.add_argument("--keep-unclipped", action="store_true")
    s.add_argument("--max-items", default="{}", help='JSON cap per split, e.g. {"test": 100}')
    s.add_argument("--out", type=Path, required=True)

    s = sub.add_parser("train", help="fit a method on the training measurements")
    s.add_argument("--spec", type=_spec, required=True)
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True, help="model directory")

    s = sub.add_parser("reconstruct", help="reconstruct the test measurements")
    s.add_argument("--spec", type=_spec, required=True)
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--model", type=Path, default=None, help="model directory (methods that train)")
    s.add_argument("--out", type=Path, required=True)

    s = sub.add_parser("evaluate", help="per-item metrics of one reconstruction")
    s.add_argument("--spec", type=_spec, required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--reconstruction", type=Path, required=True)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--out", type=Path, required=True)

    s = sub.add_parser("tables", help="gather per-item metrics into a table (CSV, Markdown, LaTeX)")
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--title", default="")
    s.add_argument("--all-metrics", type=Path, required=True, help="tidy CSV of every item")
    s.add_argument("--prefix", type=Path, required=True, help="writes PREFIX.csv, PREFIX.md, PREFIX.tex")
    s.add_argument("--reference", default="", help="METHOD/VARIANT: the row the paired tests compare with "
                                                   "(default: the best row)")
    s.add_argument("inputs", type=Path, nargs="+")

    s = sub.add_parser("run-dir", help="print the results folder of a config (<results_dir>/<run>)")
    s.add_argument("configfile", type=Path)

    s = sub.add_parser("table-page", help="the report pages of a table: the table; for audio, one page per item to listen to")
    s.add_argument("--table-md", type=Path, required=True, help="the table (tables/<table>.md)")
    s.add_argument("--title", default="")
    s.add_argument("--out", type=Path, required=True, help="the table's page (.html)")
    s.add_argument("--listen-pages", type=Path, nargs="*", default=[], help="audio: one page per item to listen to")
    s.add_argument("--measurements", type=Path, help="audio: the measured set (its test split is played)")
    s.add_argument("--sample-rate", type=int, default=0)
    s.add_argument("--tau", type=float, default=0.0)
    s.add_argument("--labels", nargs="*", default=[])
    s.add_argument("--reconstructions", type=Path, nargs="*", default=[], help="audio: each method's .npz")
    s.add_argument("--item-metrics", type=Path, nargs="*", default=[], help="audio: each method's per-item CSV")

    s = sub.add_parser("figure", help="waveform/spectrogram comparison on one test item (images: Figure 8)")
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--modality", choices=("audio", "image"), default="audio")
    s.add_argument("--tau", type=float, required=True)
    s.add_argument("--sample-rate", type=int, required=True)
    s.add_argument("--item", type=int, default=None)
    s.add_argument("--seconds", type=float, default=0.05)
    s.add_argument("--title", default="")
    s.add_argument("--labels", nargs="+", required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("inputs", type=Path, nargs="+", help="reconstruction .npz files, one per label")

    s = sub.add_parser("figure-mc-losses", help="Figure 2: the naive MC and the MC loss and their derivatives")
    s.add_argument("--tau", type=float, default=1.0)
    s.add_argument("--reliable-y", type=float, default=0.5, help="the reliable sample's value over tau")
    s.add_argument("--span", type=float, default=2.0, help="estimates from -span tau to span tau")
    s.add_argument("--points", type=int, default=801)
    s.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    s.add_argument("--csv", type=Path, required=True, help="the curves (.csv)")

    s = sub.add_parser("figure-subspace", help="Figure 7: the synthetic subspace experiment over a (k, p) grid")
    s.add_argument("--ks", type=int, nargs="+", required=True, help="subspace dimensions")
    s.add_argument("--ps", type=float, nargs="+", required=True, help="proportions of clipped entries")
    s.add_argument("--dim", type=int, default=100)
    s.add_argument("--train", type=int, default=2000, help="training vectors per cell")
    s.add_argument("--test", type=int, default=200, help="test vectors per cell")
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--steps-per-epoch", type=int, default=100)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--ei", default="{}", help="the EI loss's parameters, as JSON (default: eq. 11 as published)")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--title", default="")
    s.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    s.add_argument("--csv", type=Path, required=True, help="one row per cell (.csv)")

    s = sub.add_parser("figure-bias", help="Figure 3: a bias-free and a biased network on an unsaturated input")
    s.add_argument("--models", type=Path, nargs=2, required=True, help="model folders: bias-free, then biased")
    s.add_argument("--labels", nargs=2, required=True)
    s.add_argument("--measurements", type=Path, required=True, help="the experiment's measured set")
    s.add_argument("--tau", type=float, required=True)
    s.add_argument("--sample-rate", type=int, required=True)
    s.add_argument("--levels", type=float, nargs="+", required=True, help="input peaks as fractions of tau")
    s.add_argument("--item", type=int, default=None, help="test item (default: median input SDR)")
    s.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    s.add_argument("--csv", type=Path, required=True, help="the values (.csv)")

    s = sub.add_parser("figure-toy", help="Figures 5 and 6: the toy experiment, one digit, y = eta(A a x0)")
    s.add_argument("--digit", choices=("synthetic", "mnist"), default="synthetic")
    s.add_argument("--index", type=int, default=0, help="the MNIST test image (--digit mnist)")
    s.add_argument("--data-dir", type=Path, default=Path("data"), help="MNIST goes to DATA_DIR/mnist/")
    s.add_argument("--mu", type=float, default=1.0)
    s.add_argument("--train", type=int, default=2000)
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--steps-per-epoch", type=int, default=100)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--lr", type=float, default=3e-3)
    s.add_argument("--channels", type=int, default=8)
    s.add_argument("--depth", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--amplitudes", type=float, nargs=3, default=[0.05, 50.0, 16], metavar=("MIN", "MAX", "NUM"))
    s.add_argument("--shown", type=float, nargs="+", default=[0.5, 2.0, 8.0, 32.0])
    s.add_argument("--ei", default="{}", help="the EI loss's parameters as JSON")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--fig5", type=Path, required=True, help="Figure 5 (.png); its values beside it (.csv)")
    s.add_argument("--fig6", type=Path, required=True, help="Figure 6 (.png); its values beside it (.csv)")

    s = sub.add_parser("measure-input-sdr", help="an experiment's test items rescaled to each input SDR, clipped")
    s.add_argument("--measurements", type=Path, required=True, help="the experiment's measured set")
    s.add_argument("--tau", type=float, required=True)
    s.add_argument("--input-sdrs", type=float, nargs="+", required=True)
    s.add_argument("--items", type=int, required=True, help="the first test items")
    s.add_argument("--out", type=Path, required=True)

    s = sub.add_parser("figure-input-sdr", help="Delta SDR against input SDR, one curve per method")
    s.add_argument("--measurements", type=Path, required=True, help="the input-SDR set (measure-input-sdr)")
    s.add_argument("--labels", nargs="+", required=True)
    s.add_argument("--title", default="")
    s.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    s.add_argument("--csv", type=Path, required=True)
    s.add_argument("reconstructions", type=Path, nargs="+")

    s = sub.add_parser("figure-hdr-mask", help="Figure 4: an HDR test image, its measurement and the mask of eq. 13")
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--tau", type=float, required=True)
    s.add_argument("--item", type=int, default=None, help="test item (default: the one with the most clipped samples)")
    s.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    s.add_argument("--csv", type=Path, required=True, help="the mask's counts per channel (.csv)")

    s = sub.add_parser("survey-fetch", help="survey experiments: verify/download the signals, write a manifest")
    s.add_argument("--module", required=True)
    s.add_argument("--params", default="{}", help="dataset params as JSON")
    s.add_argument("--data-dir", type=Path, default=None)
    s.add_argument("--out", type=Path, required=True, help="manifest (JSON)")

    s = sub.add_parser("survey-measure", help="survey experiments: clip one signal to every input SDR")
    s.add_argument("--module", required=True)
    s.add_argument("--params", default="{}", help="dataset params as JSON")
    s.add_argument("--signal", required=True)
    s.add_argument("--input-sdrs", type=float, nargs="+", required=True)
    s.add_argument("--data-dir", type=Path, default=None)
    s.add_argument("--out", type=Path, required=True, help="measurements of the signal (.npz)")

    s = sub.add_parser("survey-reconstruct", help="survey experiments: one method variant on one signal's cases")
    s.add_argument("--spec", type=_spec, required=True)
    s.add_argument("--measurements", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)

    s = sub.add_parser("survey-table", help="survey experiments: Delta-SDR table beside the published numbers")
    s.add_argument("--survey", type=_spec, required=True, help="the survey's config section as JSON")
    s.add_argument("--specs", required=True, help="JSON list of the job specs, one per method variant")
    s.add_argument("--measurements", type=Path, required=True, help="directory of the per-signal measurements")
    s.add_argument("--prefix", type=Path, required=True)
    s.add_argument("inputs", type=Path, nargs="+", help="reconstructions .../<method>/<variant>/<signal>.npz")

    s = sub.add_parser("benchmarks", help="summarise Snakemake benchmark files of a run into Markdown")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--out", type=Path, default=None)

    s = sub.add_parser("check-data", help="every input of a run from outside the repository: present, to download "
                                          "(size) or a manual step missing (what to do); exit 1 if one is missing")
    s.add_argument("--configfile", type=Path, required=True)

    s = sub.add_parser("describe", help="the declared parameters of a method or a dataset module, with defaults")
    s.add_argument("kind", choices=("method", "dataset"))
    s.add_argument("name")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .plugins import require_checkout

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
        from .plugins import MethodError

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
    from . import steps

    if args.step == "prepare":
        steps.prepare(args.module, json.loads(args.params), args.out, args.data_dir)
    elif args.step == "measure":
        steps.measure(args.data, args.out, args.tau, modality=args.modality, drop_unclipped=not args.keep_unclipped,
                      max_items=json.loads(args.max_items), required=args.required_splits)
    elif args.step == "train":
        steps.train(args.spec, args.measurements, args.out)
    elif args.step == "reconstruct":
        steps.reconstruct(args.spec, args.measurements, args.model, args.out)
    elif args.step == "evaluate":
        steps.evaluate(args.spec, args.dataset, args.measurements, args.reconstruction, args.metrics, args.out)
    elif args.step == "tables":
        from ..report.tables import write_tables

        reference = tuple(args.reference.split("/", 1)) if args.reference else None
        write_tables(args.inputs, args.metrics, args.prefix, args.all_metrics, args.title, reference=reference)
        print(Path(f"{args.prefix}.md").read_text())
    elif args.step == "figure":
        from ..data import io
        from ..report.figures import example_figure, pick_item

        if len(args.labels) != len(args.inputs):
            raise ValueError(f"{len(args.labels)} labels for {len(args.inputs)} reconstructions")
        y, x = steps.load_split(args.measurements, "test", with_x=True)
        i = pick_item(x, y, args.item)
        recons = [(lab, io.load_arrays(f)["x_hat"][i]) for lab, f in zip(args.labels, args.inputs)]
        example_figure(args.modality, x[i], y[i], recons, args.tau, args.sample_rate, args.out, args.seconds,
                       args.title or f"test item {i}")
    elif args.step == "run-dir":
        import yaml

        from .config import validate_config
        from .paths import Paths

        print(Paths(validate_config(yaml.safe_load(args.configfile.read_text()), str(args.configfile))).root)
    elif args.step == "table-page":
        from ..report.table_page import write_listen_pages, write_table_page

        if not (len(args.labels) == len(args.reconstructions) == len(args.item_metrics)):
            raise ValueError(f"{len(args.labels)} labels, {len(args.reconstructions)} reconstructions and "
                             f"{len(args.item_metrics)} metric files: one of each per method")
        if args.listen_pages:
            if args.measurements is None or args.sample_rate <= 0 or args.tau <= 0:
                raise ValueError("listening pages need --measurements, --sample-rate and --tau")
            items = write_listen_pages(args.listen_pages, args.title, args.measurements,
                                       list(zip(args.labels, args.reconstructions, args.item_metrics)),
                                       args.sample_rate, args.tau)
            how = (f"Listen: {len(args.listen_pages)} test items, one page each under Listen in the report "
                   "(page 1 the most heavily clipped).")
            print(f"{args.title}: test items {items} to listen to", file=sys.stderr)
        else:
            how = "The example figure (Figure 8 for an image table) is under Figures in the report."
        write_table_page(args.out, args.title, args.table_md, how)
    elif args.step == "figure-mc-losses":
        from ..report.loss_figure import mc_loss_curves, mc_loss_figure, write_curves

        curves = mc_loss_curves(args.tau, args.reliable_y, args.span, args.points)
        write_curves(curves, args.csv)
        mc_loss_figure(curves, args.tau, args.reliable_y, args.out)
    elif args.step == "figure-subspace":
        from ..report.subspace_figure import subspace_figure, subspace_grid, write_rows

        ei = {"g_max": 2.0, **json.loads(args.ei)}
        rows = subspace_grid(args.ks, args.ps, n=args.dim, train=args.train, test=args.test, epochs=args.epochs,
                             steps=args.steps_per_epoch, batch=args.batch_size, lr=args.lr, ei=ei, seed=args.seed,
                             threads=args.threads)
        write_rows(rows, args.csv)
        subspace_figure(rows, args.out, args.title or f"Synthetic subspaces of R^{args.dim}: mean test SDR, "
                        f"{args.train} training vectors per cell, {args.epochs * args.steps_per_epoch} steps", ei)
    elif args.step == "figure-bias":
        from ..report.bias_figure import bias_figure, bias_rows, load_reconstructor, write_rows
        from ..report.figures import pick_item

        y, x = steps.load_split(args.measurements, "test", with_x=True)
        i = pick_item(x, y, args.item)
        models = []
        for label, folder, bias in zip(args.labels, args.models, (False, True)):
            model, spec = load_reconstructor(folder, x.shape[1])
            if bool(spec["params"]["network"]["bias"]) != bias:
                raise ValueError(f"{folder}: network.bias is {spec['params']['network']['bias']}, expected {bias} "
                                 "(--models takes the bias-free model first, then the biased one)")
            models.append((label, bias, model))
        rows, shown = bias_rows(models, x[i], args.tau, args.levels)
        write_rows([{"item": i, **r} for r in rows], args.csv)
        bias_figure(rows, shown, args.tau, args.sample_rate, args.out, i)
        for r in rows:
            print(f"{r['label']}: peak {r['level']:g} tau, error {r['error']:.3e}, homogeneity {r['homogeneity_error']:.3e}, "
                  f"masked {r['masked_error']:.1e}, f(0) {r['silence']:.3e}", file=sys.stderr)
    elif args.step == "figure-toy":
        import numpy as np

        from ..physics.operators import haar_orthogonal
        from ..report import toy_figure as toy

        x0 = toy.synthetic_digit() if args.digit == "synthetic" else toy.mnist_digit(args.data_dir, args.index)
        A = haar_orthogonal(toy.N, np.random.default_rng([args.seed, 7]))
        amps = list(np.geomspace(args.amplitudes[0], args.amplitudes[1], int(args.amplitudes[2])))
        unique = toy.uniqueness_rows(x0, A, amps)
        toy.write_rows(unique, args.fig5.with_suffix(".csv"), toy.UNIQUENESS_FIELDS)
        toy.figure5(x0, A, unique, args.shown, args.fig5)
        models = {}
        for key, ei in (("mc", None), ("mc_ei", {"g_max": 2.0, **json.loads(args.ei)})):
            models[key], seconds = toy.train_toy(x0, A, mu=args.mu, train=args.train, epochs=args.epochs,
                                                 steps=args.steps_per_epoch, batch=args.batch_size, lr=args.lr, ei=ei,
                                                 channels=args.channels, depth=args.depth, seed=args.seed,
                                                 threads=args.threads)
            print(f"{key}: trained in {seconds:.1f} s", file=sys.stderr)
        rows = toy.error_rows(x0, A, amps, models)
        toy.write_rows(rows, args.fig6.with_suffix(".csv"), toy.FIELDS)
        toy.figure6(x0, A, rows, models, args.shown, args.fig6, args.mu, {"g_max": 2.0, **json.loads(args.ei)})
        for r in rows:
            print(f"a {r['a']:.3g}: ||a x0|| {r['dynamic_range']:.3g}, {r['clipped_fraction']:.0%} clipped, relative error "
                  f"A^T y {r['backprojection_error']:.3f}, MC {r['mc_error']:.3f}, MC + EI {r['mc_ei_error']:.3f}",
                  file=sys.stderr)
    elif args.step == "measure-input-sdr":
        from ..report.input_sdr_figure import measure_levels

        manifest = measure_levels(args.measurements, args.out, args.tau, args.input_sdrs, args.items)
        for level, r in manifest["levels"].items():
            print(f"input SDR {level} dB: {r['kept']} items" + (f", left out (cannot reach it): {r['left_out']}"
                                                               if r["left_out"] else ""), file=sys.stderr)
    elif args.step == "figure-input-sdr":
        from ..report.input_sdr_figure import curve_rows, input_sdr_figure, write_rows

        if len(args.labels) != len(args.reconstructions):
            raise ValueError(f"{len(args.labels)} labels for {len(args.reconstructions)} reconstructions")
        rows = curve_rows(args.measurements, list(zip(args.labels, args.reconstructions)))
        write_rows(rows, args.csv)
        input_sdr_figure(rows, args.out, args.title or "Delta SDR against input SDR")
        for r in rows:
            print(f"{r['label']}: input {r['input_sdr']:g} dB, delta SDR {r['mean_delta_sdr']:.2f} "
                  f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] on {r['items']} items, {r['missing']} missing", file=sys.stderr)
    elif args.step == "figure-hdr-mask":
        from ..data.io import write_csv
        from ..report.figures import hdr_mask_figure, hdr_mask_rows, most_clipped_item

        y, x = steps.load_split(args.measurements, "test", with_x=True)
        i = most_clipped_item(y, args.tau) if args.item is None else args.item
        if not 0 <= i < len(y):
            raise ValueError(f"figures.hdr_mask.item = {i} is outside the {len(y)} test items of {args.measurements}")
        write_csv(args.csv, [{"item": i, **r} for r in hdr_mask_rows(y[i], args.tau)],
                  ["item", "channel", "pixels", "clipped", "fraction"])
        hdr_mask_figure(x[i], y[i], args.tau, args.out, i)
    elif args.step.startswith("survey-"):
        _run_survey(args)
    elif args.step == "benchmarks":
        from ..report.benchmarks import summarise_run

        text = summarise_run(args.run_dir)
        if args.out:
            from ..data.io import write_text

            write_text(args.out, text)
        print(text)
    elif args.step == "check-data":
        from .config import load_config
        from .data_check import run_inputs
        from .inputs import missing_manual, summary

        found = run_inputs(load_config(args.configfile))
        print(f"Inputs of {args.configfile}:")
        print(summary(found))
        return 1 if missing_manual(found) else 0
    elif args.step == "describe":
        print(describe(args.kind, args.name))
    return 0


def describe(kind: str, name: str) -> str:
    """The parameters a method or a dataset module declares, as a Markdown table."""
    from .parameters import describe as rows_of
    from .plugins import discover_methods, display_path, load_dataset, method_class, unknown_method

    if kind == "method":
        methods = discover_methods()
        if name not in methods:
            raise unknown_method(name, methods)
        decl = methods[name]
        declaration = method_class(decl).declaration()
        head = f"method {name}, {decl.label} ({display_path(decl.folder)}): {decl.summary}"
    else:
        mod = load_dataset(name)
        declaration, head = mod.PARAMETERS, f"dataset module {name}: {(mod.__doc__ or '').strip().splitlines()[0]}"
    lines = [head, "", "| parameter | default | type | what |", "|---|---|---|---|"]
    for dotted, default, kind_, text in rows_of(declaration):
        lines.append(f"| `{dotted}` | `{default!r}` | {kind_} | {text} |")
    return "\n".join(lines)


def _run_survey(args) -> None:
    from . import survey

    if args.step == "survey-fetch":
        survey.fetch(args.module, json.loads(args.params), args.data_dir, args.out)
    elif args.step == "survey-measure":
        survey.measure(args.module, json.loads(args.params), args.signal, args.input_sdrs, args.data_dir, args.out)
    elif args.step == "survey-reconstruct":
        survey.reconstruct(args.spec, args.measurements, args.out)
    elif args.step == "survey-table":
        by_job = {(s["method"], s["variant"]): s for s in json.loads(args.specs)}
        specs = []
        for f in args.inputs:
            key = (f.parent.parent.name, f.parent.name)
            if key not in by_job:
                raise ValueError(f"{f}: no job spec for method {key[0]!r} variant {key[1]!r}")
            specs.append(by_job[key])
        survey.table(args.survey, specs, args.inputs, args.measurements, args.prefix)
        print(args.prefix.with_suffix(".md").read_text())
