"""Survey experiments: the protocol of the declipping survey (Zaviska et al., IEEE JSTSP 2021) on whole signals.

Each signal of a survey data set (``datasets/sqam.py``) is clipped to every target input SDR with the
threshold found by a bracketed root search (:func:`declipbench.physics.tau_for_input_sdr`, the survey's
``clip_sdr``); unsupervised methods (``trains: false``) reconstruct every case; the table reports, per
method and input SDR, the mean and median Delta-SDR over the signals beside the survey's published
numbers. Config section ``surveys:`` (``workflow/schemas/config.schema.yaml``); rules in
``workflow/rules/survey.smk``:

    survey_fetch (verify / download) -> survey_measure (one file per signal: x, the clipped cases, taus)
    -> survey_reconstruct (one job per method variant and signal) -> survey_table

A method receives the cases of one signal as a batch through
:meth:`declipbench.plugins.Method.reconstruct_per_threshold` (one threshold per case).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from . import io
from .physics import sdr_db, tau_for_input_sdr
from .plugins import PluginError, deep_merge, discover_methods, expand_variants, load_dataset, method_entries

log = logging.getLogger("declipbench")


class SurveyError(ValueError):
    pass


# ------------------------------------------------------------------------------------------ config
def check_surveys(config: dict, source: str = "config") -> None:
    """References of the ``surveys:`` section: data set module, methods (audio, no training)."""
    methods = discover_methods()
    for name, sv in (config.get("surveys") or {}).items():
        where = f"surveys.{name}"
        if name in config.get("experiments", {}):
            raise SurveyError(f"{source}: {where}: the name {name!r} is also an experiment; tables/{name}.* "
                              f"would be ambiguous, rename one of them")
        module = sv["dataset"]["module"]
        try:
            mod = load_dataset(module)
        except Exception as exc:
            raise SurveyError(f"{source}: {where}.dataset.module: cannot load dataset module {module!r}: {exc}") from exc
        if getattr(mod, "KIND", None) != "survey":
            raise SurveyError(f"{source}: {where}.dataset.module: {module!r} is not a survey data set "
                              f"(it must set KIND = 'survey' and define load(); see datasets/sqam.py)")
        try:
            entries = method_entries({**sv, "modality": "audio"}, methods, where)
            for m, opts in entries:
                if methods[m].trains:
                    raise PluginError(f"{where}.methods: method {m!r} trains; a survey runs only methods "
                                      f"without training (trains: false)")
                expand_variants(methods[m], opts, f"{where}.methods.{m}")
        except PluginError as exc:
            raise SurveyError(f"{source}: {exc}") from exc
        for key in sv.get("published", {}).values():
            known = getattr(mod, "PUBLISHED_METHODS", ())
            if key not in known:
                raise SurveyError(f"{source}: {where}.published: {key!r} is not a published result of "
                                  f"{module!r}; known: {sorted(known)}")


def _variants(name: str, sv: dict, methods: dict) -> list[tuple[str, str, dict]]:
    """(method, variant, variant params) of one survey, in table order."""
    return [(m, variant, params)
            for m, opts in method_entries({**sv, "modality": "audio"}, methods, f"surveys.{name}")
            for variant, params in expand_variants(methods[m], opts, f"surveys.{name}.methods.{m}")]


def survey_jobs(config: dict) -> list[tuple[str, str, str]]:
    """(survey, method, variant) in table order."""
    methods = discover_methods()
    return [(name, m, v) for name, sv in (config.get("surveys") or {}).items()
            for m, v, _ in _variants(name, sv, methods)]


def survey_signals(config: dict, survey: str) -> list[str]:
    sv = config["surveys"][survey]
    mod = load_dataset(sv["dataset"]["module"])
    return list(mod.selected({**mod.DEFAULTS, **sv["dataset"].get("params", {})}))


def survey_spec(config: dict, survey: str, method: str, variant: str) -> dict:
    from .config import job_threads  # config imports this module

    sv = config["surveys"][survey]
    methods = discover_methods()
    variants = {(m, v): params for m, v, params in _variants(survey, sv, methods)}
    if (method, variant) not in variants:
        raise SurveyError(f"surveys.{survey}.methods.{method}: no variant {variant!r} in this run")
    return {"survey": survey, "method": method, "variant": variant,
            "label": methods[method].variant_label(variant),
            "params": deep_merge(sv.get("method_defaults") or {}, variants[(method, variant)]),
            "device": config["device"], "threads": job_threads(config, method), "progress": config["progress"]}


# ------------------------------------------------------------------------------------------ steps
def fetch(module: str, params: dict, data_dir: Path | None, out: Path) -> dict:
    """Verify (and download what is missing of) the survey's signals; write a manifest of them."""
    from .download import sha256sum

    mod = load_dataset(module)
    paths = mod.fetch({**mod.DEFAULTS, **params}, data_dir)
    manifest = {"dataset": module, "signals": {n: {"path": str(p), "sha256": sha256sum(p)} for n, p in paths.items()}}
    io.write_json(out, manifest)
    return manifest


def measure(module: str, params: dict, signal: str, input_sdrs: list[float], data_dir: Path | None, out: Path) -> dict:
    """Clip one signal to every target input SDR; write ``x``, ``y`` (cases x samples), ``tau`` and
    the achieved input SDRs."""
    mod = load_dataset(module)
    x = mod.load({**mod.DEFAULTS, **params, "signals": [signal]}, data_dir, progress=False)[signal]
    taus, ys, achieved, fractions = [], [], [], []
    for target in input_sdrs:
        tau = tau_for_input_sdr(x, float(target))
        y = np.clip(x, -tau, tau)
        taus.append(tau)
        ys.append(y)
        achieved.append(sdr_db(x, y))
        fractions.append(float(np.mean(np.abs(x) > tau)))
        log.info("%s: input SDR %g dB -> tau %.6f (achieved %.4f dB, %.2f %% clipped)", signal, target, tau,
                 achieved[-1], 100 * fractions[-1])
    io.save_arrays(out, x=x, y=np.stack(ys), tau=np.array(taus), input_sdr_target=np.array(input_sdrs, dtype=np.float64),
                   input_sdr=np.array(achieved), clipped_fraction=np.array(fractions),
                   sample_rate=np.int64(mod.SAMPLE_RATE))
    return {"signal": signal, "taus": taus, "input_sdr": achieved}


def reconstruct(spec: dict, measurements: Path, out: Path) -> None:
    """One method variant on every case of one signal (one batch)."""
    from .plugins import Context, load_method

    _, method = load_method(spec["method"])
    m = io.load_arrays(measurements)
    y, taus, rate = np.asarray(m["y"], dtype=np.float32), np.asarray(m["tau"]), int(m["sample_rate"])
    ctx = Context(params=spec["params"], tau_low=-float(taus.max()), tau_high=float(taus.max()), seed=0,
                  device=spec["device"], threads=spec.get("threads"), progress=spec.get("progress", True),
                  sample_rate=rate)
    t0 = time.time()
    x_hat = np.asarray(method.reconstruct_per_threshold(y, taus, ctx))
    seconds = time.time() - t0
    if x_hat.shape != y.shape:
        raise ValueError(f"method {spec['method']!r} returned shape {x_hat.shape} for input {y.shape}")
    log.info("%s/%s: %d cases of %s in %.1f s (%.1f s per case)", spec["method"], spec["variant"], len(y),
             Path(measurements).stem, seconds, seconds / len(y))
    io.save_arrays(out, x_hat=x_hat.astype(np.float32), seconds=np.float64(seconds))


# ------------------------------------------------------------------------------------------ table
def read_reference(path: Path) -> dict[tuple[str, str, float], float]:
    """Published per-signal Delta-SDR, CSV ``signal,method,input_sdr_db,dsdr_db`` (the survey's format)."""
    ref = {}
    for i, row in enumerate(io.read_csv(path), start=2):
        try:
            ref[(row["signal"], row["method"], float(row["input_sdr_db"]))] = float(row["dsdr_db"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}, line {i}: expected signal,method,input_sdr_db,dsdr_db ({exc})") from exc
    return ref


def case_rows(specs: list[dict], recon_files: list[Path], meas_dir: Path, published: dict,
              reference: dict | None) -> list[dict]:
    rows = []
    for spec, path in zip(specs, recon_files):
        path = Path(path)
        m = io.load_arrays(Path(meas_dir) / f"{path.stem}.npz")
        r = io.load_arrays(path)
        key = published.get(f"{spec['method']}/{spec['variant']}")
        for j, target in enumerate(m["input_sdr_target"]):
            x, y, xh = m["x"], m["y"][j], r["x_hat"][j]
            finite = bool(np.all(np.isfinite(xh)))
            out_sdr = sdr_db(x, xh) if finite else math.nan
            row = {"method": spec["method"], "variant": spec["variant"], "label": spec["label"],
                   "signal": path.stem, "input_sdr_target": float(target), "input_sdr": float(m["input_sdr"][j]),
                   "tau": float(m["tau"][j]), "clipped_fraction": float(m["clipped_fraction"][j]),
                   "sdr": out_sdr, "dsdr": out_sdr - sdr_db(x, y),
                   "seconds_per_case": float(r["seconds"]) / len(m["input_sdr_target"]),
                   "published_dsdr": math.nan, "difference": math.nan}
            if reference is not None and key is not None:
                pub = reference.get((path.stem, key, float(target)))
                if pub is not None:
                    row["published_dsdr"] = pub
                    row["difference"] = row["dsdr"] - pub
            rows.append(row)
    return rows


def summary(rows: list[dict], published_means: dict, published: dict) -> list[dict]:
    out = []
    groups = {}
    for r in rows:
        groups.setdefault((r["label"], f"{r['method']}/{r['variant']}"), {}).setdefault(r["input_sdr_target"], []).append(r)
    for (label, mv), by_sdr in groups.items():
        key = published.get(mv)
        for target in sorted(by_sdr):
            rs = by_sdr[target]
            d = np.array([r["dsdr"] for r in rs], dtype=np.float64)
            diffs = np.array([r["difference"] for r in rs], dtype=np.float64)
            have = np.isfinite(diffs)
            out.append({
                "label": label, "input_sdr": target, "signals": len(rs),
                "dsdr_mean": float(np.mean(d)), "dsdr_median": float(np.median(d)),
                "published_mean_all": float(published_means.get(key, {}).get(int(target), math.nan)) if key else math.nan,
                "published_mean_same": float(np.mean([r["published_dsdr"] for r in rs])) if have.all() and len(rs) else math.nan,
                "mean_abs_difference": float(np.mean(np.abs(diffs))) if have.all() and len(rs) else math.nan,
                "max_abs_difference": float(np.max(np.abs(diffs))) if have.all() and len(rs) else math.nan,
                "seconds_per_case": float(np.mean([r["seconds_per_case"] for r in rs])),
            })
    return out


def _fmt(v, digits=2):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def write_tables(rows: list[dict], summ: list[dict], prefix: Path, title: str, citation: str, n_all: int) -> None:
    prefix = Path(prefix)
    io.write_csv(prefix.with_suffix(".cases.csv"), rows, list(rows[0]) if rows else ["method"])
    io.write_csv(prefix.with_suffix(".csv"), summ, list(summ[0]) if summ else ["label"])
    lines = [f"# {title}", "",
             f"Delta-SDR (dB) per input SDR over the signals; published: {citation}.", ""]
    tex = ["\\begin{tabular}{llrrrrr}", "\\toprule",
           "Method & Input SDR & $n$ & $\\Delta$SDR mean & median & published mean & mean $|$diff$|$ \\\\", "\\midrule"]
    for label in dict.fromkeys(s["label"] for s in summ):
        lines += [f"## {label}", "",
                  f"| Input SDR (dB) | signals | ΔSDR mean | ΔSDR median | published mean ({n_all} signals) "
                  "| published mean (same signals) | mean abs diff | max abs diff | s per case |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in (s for s in summ if s["label"] == label):
            lines.append(f"| {s['input_sdr']:g} | {s['signals']} | {_fmt(s['dsdr_mean'])} | {_fmt(s['dsdr_median'])} | "
                         f"{_fmt(s['published_mean_all'])} | {_fmt(s['published_mean_same'])} | "
                         f"{_fmt(s['mean_abs_difference'], 3)} | {_fmt(s['max_abs_difference'], 3)} | "
                         f"{_fmt(s['seconds_per_case'], 1)} |")
            tex.append(f"{label} & {s['input_sdr']:g} & {s['signals']} & {_fmt(s['dsdr_mean'])} & {_fmt(s['dsdr_median'])} "
                       f"& {_fmt(s['published_mean_all'])} & {_fmt(s['mean_abs_difference'], 3)} \\\\")
        lines.append("")
    tex += ["\\bottomrule", "\\end{tabular}", ""]
    io.write_text(prefix.with_suffix(".md"), "\n".join(lines))
    io.write_text(prefix.with_suffix(".tex"), "\n".join(tex))


def table(config_survey: dict, specs: list[dict], recon_files: list[Path], meas_dir: Path, prefix: Path) -> list[dict]:
    mod = load_dataset(config_survey["dataset"]["module"])
    published = config_survey.get("published", {})
    ref_path = config_survey.get("reference_csv")
    reference = read_reference(Path(ref_path)) if ref_path else None
    rows = case_rows(specs, recon_files, meas_dir, published, reference)
    summ = summary(rows, getattr(mod, "PUBLISHED_MEAN_DSDR", {}), published)
    write_tables(rows, summ, prefix, config_survey.get("title", "survey"), getattr(mod, "CITATION", ""),
                 len(getattr(mod, "SIGNALS", ())))
    return summ


def spec_arg(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))
