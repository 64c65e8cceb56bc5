"""Run configuration: validation against ``workflow/schemas/config.schema.yaml`` and the job plan.

Both the Snakefile and the tests use :func:`load_config` / :func:`validate_config` and :func:`plan`, so
a bad config fails the same way everywhere: with a message naming the field and the value.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .schema import errors, fill_defaults, load_schema
from .plugins import (ROOT, PluginError, deep_merge, discover_datasets, discover_methods,
                      expand_variants, method_entries)

CONFIG_SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


def validate_config(config: dict, source: str = "config") -> dict:
    schema = load_schema(CONFIG_SCHEMA)
    problems = errors(schema, config)
    if problems:
        raise ConfigError(f"invalid configuration {source}:\n" + "\n".join(f"  {p}" for p in problems))
    config = copy.deepcopy(config)
    fill_defaults(schema, config)
    check_references(config, source)
    from .survey import SurveyError, check_surveys

    try:
        check_surveys(config, source)
    except SurveyError as exc:
        raise ConfigError(str(exc)) from exc
    return config


def check_references(config: dict, source: str = "config") -> None:
    modules = discover_datasets()
    for name, ds in config["datasets"].items():
        if ds["module"] not in modules:
            raise ConfigError(f"{source}: datasets.{name}.module: unknown dataset module {ds['module']!r}; "
                              f"available: {modules}")
    methods = discover_methods()
    for name, exp in config["experiments"].items():
        where = f"experiments.{name}"
        if exp["dataset"] not in config["datasets"]:
            raise ConfigError(f"{source}: {where}.dataset: unknown dataset {exp['dataset']!r}; "
                              f"defined under datasets: {sorted(config['datasets'])}")
        for ts in exp.get("test_sets") or []:
            if ts not in config["datasets"]:
                raise ConfigError(f"{source}: {where}.test_sets: unknown dataset {ts!r}; "
                                  f"defined under datasets: {sorted(config['datasets'])}")
            if ts == exp["dataset"]:
                raise ConfigError(f"{source}: {where}.test_sets: {ts!r} is already the experiment's dataset")
        _check_test_scaling(config, name, source)
        try:
            for m, opts in method_entries(exp, methods, where):
                expand_variants(methods[m], opts, f"{where}.methods.{m}")
        except PluginError as exc:
            raise ConfigError(f"{source}: {exc}") from exc


def _check_test_scaling(config: dict, experiment: str, source: str) -> None:
    """A dataset whose test segments are scaled to an input SDR at its ``tau`` (Table 3: maestro,
    synthetic_piano) gives that input SDR only when the experiment clips at the same ``tau``."""
    from .plugins import load_dataset

    exp = config["experiments"][experiment]
    ds = config["datasets"][exp["dataset"]]
    params = ds.get("params") or {}
    if params.get("test_input_sdr_db") is None:
        return
    tau = params.get("tau", getattr(load_dataset(ds["module"]), "DEFAULTS", {}).get("tau"))
    if tau is not None and abs(float(tau) - float(exp["tau"])) > 1e-12:
        raise ConfigError(f"{source}: experiments.{experiment}.tau is {exp['tau']}, but datasets."
                          f"{exp['dataset']}.params scales its test segments so that clipping at tau = {tau} "
                          f"gives {params['test_input_sdr_db']} dB input SDR; set the same tau in both")


def load_config(*paths: str | Path, overrides: dict | None = None) -> dict:
    config: dict = {}
    for p in paths:
        with open(p) as fh:
            config = deep_merge(config, yaml.safe_load(fh) or {})
    config = deep_merge(config, overrides or {})
    return validate_config(config, ", ".join(str(p) for p in paths) or "config")


@dataclass(frozen=True)
class Job:
    experiment: str
    method: str
    variant: str
    seed: int
    trains: bool


def plan(config: dict) -> list[Job]:
    """Every (experiment, method, variant, seed) the configuration asks for, in table order."""
    methods = discover_methods()
    jobs = []
    for name, exp in config["experiments"].items():
        for m, opts in method_entries(exp, methods, f"experiments.{name}"):
            for variant, _ in expand_variants(methods[m], opts, f"experiments.{name}.methods.{m}"):
                for seed in config["seeds"]:
                    jobs.append(Job(name, m, variant, seed, bool(methods[m].trains)))
    return jobs


def job_threads(config: dict, method: str) -> int:
    """Threads of one job of ``method``: the config's ``threads`` capped by what the method declares
    (``resources.threads`` in its method.yaml). The rule reserves exactly this many cores and the job
    uses exactly this many (torch intra-op threads), so ``--cores N`` runs N / threads jobs side by side
    without oversubscribing the CPU."""
    return max(1, min(int(config["threads"]), int(discover_methods()[method].resources["threads"])))


def job_spec(config: dict, experiment: str, method: str, variant: str, seed: int) -> dict:
    """Everything a method job needs, resolved: written into its outputs for provenance."""
    exp = config["experiments"][experiment]
    methods = discover_methods()
    opts = dict(method_entries(exp, methods, f"experiments.{experiment}"))[method]
    variants = dict(expand_variants(methods[method], opts, f"experiments.{experiment}.methods.{method}"))
    if variant not in variants:
        raise ConfigError(f"experiments.{experiment}.methods.{method}: no variant {variant!r} in this run")
    params = deep_merge(exp.get("method_defaults") or {}, variants[variant])
    return {
        "experiment": experiment, "method": method, "variant": variant, "seed": int(seed),
        "label": methods[method].variant_label(variant), "supervision": methods[method].supervision,
        "trains": bool(methods[method].trains), "modality": exp["modality"], "tau": float(exp["tau"]),
        "sample_rate": int(exp["sample_rate"]), "params": params, "device": config["device"],
        "threads": job_threads(config, method), "progress": config["progress"],
        **({"extra_train_measurements": extra} if (extra := extra_train_measurements(config, experiment, method)) else {}),
    }


def experiment_test_sets(config: dict, experiment: str) -> list[str]:
    """The extra test datasets of an experiment (``test_sets``; Table 2's speech)."""
    return list(config["experiments"][experiment].get("test_sets") or [])


def extra_train_measurements(config: dict, experiment: str, method: str) -> list[str]:
    """Measurement folders whose *test* measurements a method also trains on (Table 2's SSL), else [].

    Only for experiments with ``train_on_test_measurements`` and methods declaring ``supervision:
    measurements``: they never see a clean signal, so the test measurements are fair training data.
    """
    exp = config["experiments"][experiment]
    if not exp.get("train_on_test_measurements") or discover_methods()[method].supervision != "measurements":
        return []
    base = f"{config['results_dir']}/{config['run']}/measurements/{experiment}"
    return [base] + [f"{base}/test_sets/{ts}" for ts in experiment_test_sets(config, experiment)]


# what decides the measurements an experiment trains on (see the `measure` rule)
_MEASUREMENT_KEYS = ("dataset", "tau", "drop_unclipped", "max_items", "modality", "sample_rate")
# job-spec fields that name or display a job but do not change what it learns
_NOT_TRAINING = ("experiment", "label", "progress")


def training_key(config: dict, experiment: str, method: str, variant: str, seed: int) -> str:
    """Everything that decides the model a training job produces, as a canonical string.

    The measurement settings of the experiment (dataset, tau, drop_unclipped, max_items, modality, sample
    rate) and the resolved job spec (method, variant, seed, merged parameters, device, threads, extra
    training measurements) without the fields that only name the job. Two jobs with the same key train the
    same model from the same data (the extra measurements of Table 2's SSL are paths under the experiment,
    so those jobs never share).
    """
    exp = config["experiments"][experiment]
    spec = job_spec(config, experiment, method, variant, seed)
    for k in _NOT_TRAINING:
        spec.pop(k, None)
    return json.dumps({"measurements": {k: exp.get(k) for k in _MEASUREMENT_KEYS}, "job": spec},
                      sort_keys=True, separators=(",", ":"))


def model_owners(config: dict, jobs: list[Job] | None = None) -> dict[tuple[str, str, str, int], str]:
    """For each training job, the experiment whose model it uses.

    A job whose training is identical (:func:`training_key`) to a job of an earlier experiment in the
    config uses that experiment's model instead of training its own copy: Table 2's supervised model is
    Table 1's when both train on the same music with the same settings (one GPU training fewer at paper
    scale). Every other job owns its model.
    """
    owners, first = {}, {}
    for j in plan(config) if jobs is None else jobs:
        if not j.trains:
            continue
        key = training_key(config, j.experiment, j.method, j.variant, j.seed)
        owners[(j.experiment, j.method, j.variant, j.seed)] = first.setdefault(key, j.experiment)
    return owners


def spec_json(config: dict, experiment: str, method: str, variant: str, seed: int) -> str:
    return json.dumps(job_spec(config, experiment, method, variant, seed), sort_keys=True, separators=(",", ":"))
