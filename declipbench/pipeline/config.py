"""Run configuration: validation and the job plan.

:func:`validate_config` checks a configuration against ``workflow/schemas/config.schema.yaml`` (defaults
filled), then every reference and every parameter: datasets and their modules' declared parameters,
experiments (modality, metrics, test sets), surveys, and the resolved parameters of every method variant
of every experiment and survey, from each of their sources (the experiment's ``method_defaults``, the
variant's ``params`` in its ``method.yaml``, the experiment's ``methods.<name>.params`` and ``grid``). An
error names the file and the field (``config/config.yaml: experiments.table1.method_defaults.trainig: no
method of the experiment takes this parameter``). The Snakefile and the tests use the same functions, so
a bad configuration fails the same way everywhere, at ``snakemake -n`` already.

:func:`plan` lists the jobs (experiment, method, variant, seed), :func:`job_spec` resolves one of them
into everything its step needs.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from ..foundation.contracts import ROOT, PluginError
from ..foundation.parameters import restrict
from ..foundation.paths import Paths
from ..foundation.schema import errors, fill_defaults, load_schema, load_yaml, non_finite
from .figures import check_figures
from .plugins import (Declaration, dataset_params, discover_datasets, discover_methods, display_path, load_dataset,
                      method_class, method_params, unknown_method)

CONFIG_SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


# ------------------------------------------------------------------------------- variants and grids
def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_dotted(d: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _fmt(v) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def grid_points(grid: dict) -> list[tuple[str, dict]]:
    """Expand ``{"ei.g_max": [2, 3]}`` into ``[("g_max=2", {...}), ("g_max=3", {...})]``."""
    if not grid:
        return [("", {})]
    keys = sorted(grid)
    points = []
    for values in itertools.product(*(grid[k] if isinstance(grid[k], list) else [grid[k]] for k in keys)):
        suffix = ",".join(f"{k.split('.')[-1]}={_fmt(v)}" for k, v in zip(keys, values))
        over: dict = {}
        for k, v in zip(keys, values):
            set_dotted(over, k, v)
        points.append((suffix, over))
    return points


def method_entries(section: dict, methods: dict[str, Declaration], where: str) -> list[tuple[str, dict]]:
    """The (method name, method options) an experiment or survey runs, in table order."""
    spec = section.get("methods", "all")
    modality = section.get("modality", "audio")
    if spec == "all":
        return [(n, {}) for n, d in methods.items() if modality in d.modalities]
    if isinstance(spec, list):
        spec = {n: {} for n in spec}
    out = []
    for name, opts in spec.items():
        if name not in methods:
            raise PluginError(f"{where}.methods: {unknown_method(name, methods)}")
        if modality not in methods[name].modalities:
            raise PluginError(f"{where}.methods: method {name!r} does not declare modality {modality!r}")
        out.append((name, opts or {}))
    return out


def expand_variants(decl: Declaration, opts: dict, where: str) -> list[tuple[str, dict]]:
    """(variant id, variant params as given) for one method in one experiment, grids expanded; the
    experiment's ``method_defaults`` are not in them (see :func:`section_variants`)."""
    variants = opts.get("variants") or decl.default_variants
    out = []
    for v in variants:
        if v not in decl.variants:
            raise PluginError(f"{where}: method {decl.name!r} has no variant {v!r}; "
                              f"declared in {decl.path}: {sorted(decl.variants)}")
        params = deep_merge(decl.variants[v].get("params") or {}, opts.get("params") or {})
        for suffix, over in grid_points(opts.get("grid") or {}):
            out.append((f"{v}@{suffix}" if suffix else v, deep_merge(params, over)))
    return out


def _check_sources(cls, decl: Declaration, opts: dict, defaults: dict, where: str, source: str) -> None:
    """Each source of a method's parameters checked on its own, so an error names the file that has it."""
    method_params(cls, defaults, f"{source}: {where}.method_defaults", check=False)
    for v in opts.get("variants") or decl.default_variants:
        if v in decl.variants:
            method_params(cls, decl.variants[v].get("params"), f"{display_path(decl.path)}: variants.{v}.params",
                          check=False)
    method_params(cls, opts.get("params"), f"{source}: {where}.methods.{decl.name}.params", check=False)
    for _, over in grid_points(opts.get("grid") or {}):
        method_params(cls, over, f"{source}: {where}.methods.{decl.name}.grid", check=False)


def section_variants(config: dict, kind: str, name: str, source: str = "config") -> list[tuple[str, str, dict]]:
    """``(method, variant, resolved params)`` of an experiment (``kind = "experiments"``) or a survey
    (``"surveys"``), in table order; the parameters are each method's declaration filled from, in this
    order, its defaults, the experiment's ``method_defaults`` (the sections it declares), the variant's
    ``params``, the experiment's ``methods.<name>.params`` and the grid point."""
    cache = _RESOLVED.pop(id(config), None)
    if cache is None or cache[0] is not config:  # a new configuration (or another object with a reused id)
        cache = (config, {})
    _RESOLVED[id(config)] = cache  # most recent last
    while len(_RESOLVED) > 16:
        del _RESOLVED[next(iter(_RESOLVED))]
    if (kind, name) not in cache[1]:
        cache[1][(kind, name)] = _resolve_section(config, kind, name, source)
    return cache[1][(kind, name)]


# the resolved variants of the last configurations seen (the workflow asks for them at every job spec)
_RESOLVED: dict[int, tuple[dict, dict]] = {}


def _resolve_section(config: dict, kind: str, name: str, source: str) -> list[tuple[str, str, dict]]:
    section = config[kind][name]
    if kind == "surveys":
        section = {**section, "modality": "audio"}
    where = f"{source}: {kind}.{name}"
    methods = discover_methods()
    out = []
    for m, opts in method_entries(section, methods, where):
        cls = method_class(methods[m])
        defaults = restrict(section.get("method_defaults"), cls.declaration())
        for variant, params in expand_variants(methods[m], opts, f"{where}.methods.{m}"):
            merged = deep_merge(defaults, params)
            out.append((m, variant, method_params(cls, merged, f"{where}.methods.{m} (variant {variant})")))
    return out


# ------------------------------------------------------------------------------------- validation
def validate_config(config: dict, source: str = "config") -> dict:
    bad = non_finite(config)
    if bad:
        raise ConfigError(f"{source}: {bad} is not a finite number (NaN and infinities are refused everywhere "
                          f"in a configuration)")
    for name, sv in (config.get("surveys") or {}).items():
        if isinstance(sv, dict) and isinstance(sv.get("dataset"), dict):  # the form before surveys shared the rules
            raise ConfigError(f"{source}: surveys.{name}.dataset: give the name of a data set defined under datasets: "
                              f"(its module and params go there, e.g. datasets: {{sqam: {{module: sqam}}}} and "
                              f"surveys.{name}.dataset: sqam), not a module and its params")
    schema = load_schema(CONFIG_SCHEMA)
    problems = errors(schema, config)
    if problems:
        raise ConfigError(f"invalid configuration {source}:\n" + "\n".join(f"  {p}" for p in problems))
    config = copy.deepcopy(config)
    fill_defaults(schema, config)
    try:
        _check_datasets(config, source)
        _check_experiments(config, source)
        _check_surveys(config, source)
        check_figures(config, source)
    except PluginError as exc:  # its message names the file and the field
        raise ConfigError(str(exc)) from exc
    return config


def _check_datasets(config: dict, source: str) -> None:
    """Resolve every dataset's parameters (stored back, defaults filled) against its module."""
    modules = discover_datasets()
    for name, ds in config["datasets"].items():
        if ds["module"] not in modules:
            raise ConfigError(f"{source}: datasets.{name}.module: unknown dataset module {ds['module']!r}; "
                              f"available: {modules}")
        mod = load_dataset(ds["module"])
        ds["params"] = dataset_params(mod, ds.get("params"), f"{source}: datasets.{name}.params")


def _check_experiments(config: dict, source: str) -> None:
    from ..metrics import METRICS

    methods = discover_methods()
    for name, exp in config["experiments"].items():
        where = f"experiments.{name}"
        if exp["dataset"] not in config["datasets"]:
            raise ConfigError(f"{source}: {where}.dataset: unknown dataset {exp['dataset']!r}; "
                              f"defined under datasets: {sorted(config['datasets'])}")
        for ds in [exp["dataset"], *exp["test_sets"]]:
            if ds not in config["datasets"]:
                raise ConfigError(f"{source}: {where}.test_sets: unknown dataset {ds!r}; "
                                  f"defined under datasets: {sorted(config['datasets'])}")
            mod = load_dataset(config["datasets"][ds]["module"])
            if getattr(mod, "KIND", None) == "survey":
                raise ConfigError(f"{source}: {where}: dataset {ds!r} is a survey data set (module "
                                  f"{config['datasets'][ds]['module']!r}); use it under surveys:")
            if mod.MODALITY != exp["modality"]:
                raise ConfigError(f"{source}: {where}.modality is {exp['modality']!r}, but dataset {ds!r} (module "
                                  f"{config['datasets'][ds]['module']!r}) declares MODALITY = {mod.MODALITY!r}")
        if exp["dataset"] in exp["test_sets"]:
            raise ConfigError(f"{source}: {where}.test_sets: {exp['dataset']!r} is already the experiment's dataset")
        for metric in exp["metrics"]:
            if metric not in METRICS:
                raise ConfigError(f"{source}: {where}.metrics: unknown metric {metric!r}; available: {sorted(METRICS)} "
                                  f"(one module each in declipbench/metrics/)")
            if METRICS[metric].modality != exp["modality"]:
                raise ConfigError(f"{source}: {where}.metrics: {metric!r} scores {METRICS[metric].modality} "
                                  f"reconstructions, the experiment's modality is {exp['modality']!r}")
        _check_test_scaling(config, name, source)
        entries = method_entries(exp, methods, f"{source}: {where}")
        declared = set()
        for m, opts in entries:
            cls = method_class(methods[m])
            declared |= set(cls.declaration())
            _check_sources(cls, methods[m], opts, restrict(exp["method_defaults"], cls.declaration()), where, source)
        for key in exp["method_defaults"]:
            if key not in declared:
                raise ConfigError(f"{source}: {where}.method_defaults.{key}: no method of the experiment takes "
                                  f"this parameter; they take: {sorted(declared)}")
        rows = [(m, v) for m, v, _ in section_variants(config, "experiments", name, source)]
        labels: dict[str, tuple[str, str]] = {}
        for m, v in rows:
            label = methods[m].variant_label(v)
            if label in labels:
                raise ConfigError(f"{source}: {where}.methods: {m}/{v} and {'/'.join(labels[label])} have the same "
                                  f"label {label!r}: their table rows could not be told apart; give one of them "
                                  f"another label (variants.<name>.label in its method.yaml)")
            labels[label] = (m, v)
        if "reference" in exp and tuple(exp["reference"].split("/", 1)) not in rows:
            raise ConfigError(f"{source}: {where}.reference: {exp['reference']!r} is not a row of the experiment; "
                              f"its rows are {['/'.join(r) for r in rows]}")


def _check_test_scaling(config: dict, experiment: str, source: str) -> None:
    """A dataset whose test segments are scaled to an input SDR at its ``tau`` (Table 3: maestro,
    synthetic_piano) gives that input SDR only when the experiment clips at the same ``tau``."""
    exp = config["experiments"][experiment]
    params = config["datasets"][exp["dataset"]]["params"]
    if params.get("test_input_sdr_db") is None:
        return
    tau = params.get("tau")
    if tau is not None and abs(float(tau) - float(exp["tau"])) > 1e-12:
        raise ConfigError(f"{source}: experiments.{experiment}.tau is {exp['tau']}, but datasets."
                          f"{exp['dataset']}.params scales its test segments so that clipping at tau = {tau} "
                          f"gives {params['test_input_sdr_db']} dB input SDR; set the same tau in both")


def _check_surveys(config: dict, source: str) -> None:
    """Survey sections: a survey data set under ``datasets:``, methods without training, published keys."""
    methods = discover_methods()
    for name, sv in config["surveys"].items():
        where = f"surveys.{name}"
        if name in config["experiments"]:
            raise ConfigError(f"{source}: {where}: the name {name!r} is also an experiment; tables/{name}.* "
                              f"would be ambiguous, rename one of them")
        if sv["dataset"] not in config["datasets"]:
            raise ConfigError(f"{source}: {where}.dataset: unknown dataset {sv['dataset']!r}; defined under "
                              f"datasets: {sorted(config['datasets'])}")
        module = survey_dataset(config, name)["module"]
        mod = load_dataset(module)
        if getattr(mod, "KIND", None) != "survey":
            raise ConfigError(f"{source}: {where}.dataset: {sv['dataset']!r} (module {module!r}) is not a survey "
                              f"data set (it must set KIND = 'survey' and define load(); see datasets/sqam.py)")
        section = {**sv, "modality": "audio"}
        for m, opts in method_entries(section, methods, f"{source}: {where}"):
            if methods[m].trains:
                raise ConfigError(f"{source}: {where}.methods: method {m!r} trains; a survey runs only methods "
                                  f"without training (trains: false)")
            cls = method_class(methods[m])
            _check_sources(cls, methods[m], opts, restrict(sv["method_defaults"], cls.declaration()), where, source)
        known = getattr(mod, "PUBLISHED_METHODS", ())
        for key in sv["published"].values():
            if key not in known:
                raise ConfigError(f"{source}: {where}.published: {key!r} is not a published result of "
                                  f"{module!r}; known: {sorted(known)}")
        section_variants(config, "surveys", name, source)


def load_config(*paths: str | Path, overrides: dict | None = None) -> dict:
    config: dict = {}
    for p in paths:
        config = deep_merge(config, load_yaml(p) or {})
    config = deep_merge(config, overrides or {})
    return validate_config(config, ", ".join(str(p) for p in paths) or "config")


# ------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class Job:
    experiment: str
    method: str
    variant: str
    seed: int
    trains: bool


def plan(config: dict) -> list[Job]:
    """Every (experiment, method, variant, seed) the configuration asks for, in table order. A method that
    trains runs once per seed of ``seeds``; one that does not train runs once, with the first seed (no
    training seed can change its output; the tables count the seeds of each row)."""
    methods = discover_methods()
    return [Job(name, m, variant, seed, bool(methods[m].trains))
            for name in config["experiments"]
            for m, variant, _ in section_variants(config, "experiments", name)
            for seed in (config["seeds"] if methods[m].trains else config["seeds"][:1])]


def survey_jobs(config: dict) -> list[tuple[str, str, str]]:
    """(survey, method, variant) in table order."""
    return [(name, m, v) for name in config["surveys"] for m, v, _ in section_variants(config, "surveys", name)]


#: what a survey scores for each case: its table is made of these (declipbench.pipeline.survey.case_rows)
SURVEY_METRICS = ["sdr", "delta_sdr"]


def survey_dataset(config: dict, survey: str) -> dict:
    """The ``datasets:`` entry (module, resolved params) a survey names."""
    return config["datasets"][config["surveys"][survey]["dataset"]]


def survey_signals(config: dict, survey: str) -> list[str]:
    ds = survey_dataset(config, survey)
    return list(load_dataset(ds["module"]).selected(ds["params"]))


def survey_measured(config: dict) -> list[str]:
    """The measured sets of every survey: one per whole signal (:meth:`Paths.signal_measured`)."""
    return [Paths.signal_measured(name, s) for name in config["surveys"] for s in survey_signals(config, name)]


def job_threads(config: dict, method: str) -> int:
    """Threads of one job of ``method``: the config's ``threads`` capped by what the method declares
    (``resources.threads`` in its method.yaml). The rule reserves exactly this many cores and the job
    uses exactly this many (torch intra-op threads), so ``--cores N`` runs N / threads jobs side by side
    without oversubscribing the CPU."""
    return max(1, min(int(config["threads"]), int(discover_methods()[method].resources["threads"])))


def _method_spec(config: dict, kind: str, name: str, method: str, variant: str) -> dict:
    """What every job of a method variant of an experiment or survey shares."""
    params = {(m, v): p for m, v, p in section_variants(config, kind, name)}
    if (method, variant) not in params:
        raise ConfigError(f"{kind}.{name}.methods.{method}: no variant {variant!r} in this run")
    decl = discover_methods()[method]
    return {"method": method, "variant": variant, "label": decl.variant_label(variant), "params": params[(method, variant)],
            "device": config["device"], "threads": job_threads(config, method), "progress": config["progress"]}


def job_spec(config: dict, experiment: str, method: str, variant: str, seed: int) -> dict:
    """Everything a method job needs, resolved: written into its outputs for provenance."""
    exp = config["experiments"][experiment]
    decl = discover_methods()[method]
    extra = extra_train_measurements(config, experiment, method)
    return {"experiment": experiment, **_method_spec(config, "experiments", experiment, method, variant),
            "seed": int(seed), "supervision": decl.supervision, "trains": bool(decl.trains),
            "modality": exp["modality"], "tau": float(exp["tau"]), "sample_rate": int(exp["sample_rate"]),
            **({"extra_train_measurements": extra} if extra else {})}


def survey_spec(config: dict, survey: str, method: str, variant: str) -> dict:
    """The spec of one method variant of a survey: no tau (each case has its own threshold), the first seed
    (its methods do not train), the sample rate of its data set."""
    mod = load_dataset(survey_dataset(config, survey)["module"])
    return {"experiment": survey, "survey": survey, **_method_spec(config, "surveys", survey, method, variant),
            "seed": int(config["seeds"][0]), "trains": False, "modality": "audio", "sample_rate": int(mod.SAMPLE_RATE)}


def spec_json(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def experiment_test_sets(config: dict, experiment: str) -> list[str]:
    """The extra test datasets of an experiment (``test_sets``; Table 2's speech)."""
    return list(config["experiments"][experiment]["test_sets"])


def measured_sets(config: dict) -> list[str]:
    """Every measured set of the run: each experiment's own, then its extra test sets."""
    return [Paths.measured(e, ts) for e in config["experiments"] for ts in [None, *experiment_test_sets(config, e)]]


def measured_dataset(config: dict, measured: str) -> str:
    """The dataset a measured set clips."""
    signal = Paths.split_signal(measured)
    if signal is not None:
        return config["surveys"][signal[0]]["dataset"]
    experiment, test_set = Paths.split_measured(measured)
    return test_set or config["experiments"][experiment]["dataset"]


def extra_train_measurements(config: dict, experiment: str, method: str) -> list[str]:
    """Measurement folders whose *test* measurements a method also trains on (Table 2's SSL), else [].

    Only for experiments with ``train_on_test_measurements`` and methods declaring ``supervision:
    measurements``: they never see a clean signal, so the test measurements are fair training data.
    """
    exp = config["experiments"][experiment]
    if not exp["train_on_test_measurements"] or discover_methods()[method].supervision != "measurements":
        return []
    paths = Paths(config)
    return [paths.measurements(Paths.measured(experiment, ts)) for ts in [None, *experiment_test_sets(config, experiment)]]


# what decides the measurements an experiment trains on (see the `measure` rule)
_MEASUREMENT_KEYS = ("dataset", "tau", "drop_unclipped", "max_items", "modality", "sample_rate")
# job-spec fields that name or display a job but do not change what it learns
_NOT_TRAINING = ("experiment", "label", "progress")


def training_key(config: dict, experiment: str, method: str, variant: str, seed: int) -> str:
    """Everything that decides the model a training job produces, as a canonical string.

    The measurement settings of the experiment (dataset, tau, drop_unclipped, max_items, modality, sample
    rate) and the resolved job spec (method, variant, seed, resolved parameters, device, threads, extra
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
