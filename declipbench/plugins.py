"""Method and dataset plug-ins.

A method is a folder ``methods/<name>/`` with ``method.yaml`` (the declaration, validated against
``workflow/schemas/method.schema.yaml``) and ``method.py`` defining one subclass of :class:`Method`.
A dataset is a module ``datasets/<name>.py``. Both are discovered by glob; folders and files whose name
starts with ``_`` (such as ``methods/_template``) are skipped.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .schema import errors, fill_defaults, load_schema

ROOT = Path(__file__).resolve().parent.parent
METHOD_SCHEMA = ROOT / "workflow" / "schemas" / "method.schema.yaml"


class PluginError(ValueError):
    """A malformed plug-in; the message names the file and the field."""


@dataclass
class Context:
    """What a method gets besides its data: resolved parameters, thresholds, where to keep files."""

    params: dict
    tau_low: float
    tau_high: float
    seed: int = 0
    workdir: Path | None = None  # model directory for methods that train
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    sample_rate: int | None = None  # of the data, in Hz (audio)

    @property
    def thresholds(self):
        from .physics import Thresholds

        return Thresholds(self.tau_low, self.tau_high)


@dataclass
class TrainData:
    """Training data handed to :meth:`Method.fit`.

    ``x_train`` is ``None`` unless the method declares ``supervision: pairs``. ``y_val``/``x_val`` are
    a small clean validation set for *monitoring* (logged validation SDR); a method that does not
    declare ``pairs`` must not use them to select or tune anything.
    """

    y_train: np.ndarray
    x_train: np.ndarray | None
    y_val: np.ndarray | None = None
    x_val: np.ndarray | None = None


class Method:
    """Base class of a method's code. Subclass it in ``methods/<name>/method.py``.

    Override :meth:`reconstruct`; methods that train also override :meth:`fit` and save what they
    learned into ``ctx.workdir`` (``reconstruct`` then finds it there).
    """

    def fit(self, data: TrainData, ctx: Context) -> None:
        raise NotImplementedError(f"{type(self).__name__} declares trains: true but does not implement fit()")

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        """Return ``x_hat`` with the same shape as ``y`` (items on the first axis)."""
        raise NotImplementedError

    def reconstruct_per_threshold(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        """Items clipped at their own symmetric thresholds ``taus`` (one per item; the SQAM survey clips
        each case to a target input SDR). The default calls :meth:`reconstruct` once per item with
        ``tau_low, tau_high = -tau, tau``; override it to batch (``methods/social_sparsity`` does)."""
        from dataclasses import replace

        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        if len(taus) != len(y):
            raise ValueError(f"{len(taus)} thresholds for {len(y)} items")
        return np.stack([np.asarray(self.reconstruct(y[i : i + 1], replace(ctx, tau_low=-float(t), tau_high=float(t))))[0]
                         for i, t in enumerate(taus)])


@dataclass
class Declaration:
    name: str
    path: Path
    data: dict

    def __getattr__(self, key):
        try:
            return self.__dict__["data"][key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    @property
    def default_variants(self) -> list[str]:
        return list(self.data.get("default_variants") or self.data["variants"])

    def variant_label(self, variant: str) -> str:
        base, _, grid = variant.partition("@")
        v = self.data["variants"].get(base, {})
        label = v.get("label") or self.data.get("label") or self.name
        return f"{label} ({grid})" if grid else label


@lru_cache(maxsize=256)
def _parse_yaml(path: str, mtime_ns: int, size: int) -> Any:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _load_yaml(path: Path) -> Any:
    """The parsed file, a fresh copy. Parsed once per content (path, mtime, size): the workflow asks for
    the method declarations for every job spec and every rule's threads, and YAML parsing was 90 % of
    Snakemake's start-up on the paper config."""
    st = Path(path).stat()
    try:
        return copy.deepcopy(_parse_yaml(str(path), st.st_mtime_ns, st.st_size))
    except yaml.YAMLError as exc:
        raise PluginError(f"{path}: not valid YAML: {exc}") from exc


@lru_cache(maxsize=None)
def _method_schema() -> dict:
    return load_schema(METHOD_SCHEMA)


def validate_declaration(path: Path) -> Declaration:
    path = Path(path)
    data = _load_yaml(path)
    if not isinstance(data, dict):
        raise PluginError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    problems = errors(_method_schema(), data, limit=1)
    if problems:
        field_name, _, message = problems[0].partition(": ")
        raise PluginError(f"{path}: field {field_name!r}: {message}")
    fill_defaults(_method_schema(), data)
    folder = path.parent.name
    if data["name"] != folder:
        raise PluginError(f"{path}: field 'name': {data['name']!r} must equal the folder name {folder!r}")
    for v in data.get("default_variants") or []:
        if v not in data["variants"]:
            raise PluginError(f"{path}: field 'default_variants': {v!r} is not one of the variants {sorted(data['variants'])}")
    if not (path.parent / "method.py").exists():
        raise PluginError(f"{path.parent}: missing method.py next to method.yaml")
    env = ROOT / "workflow" / "envs" / f"{data['env']}.yaml"
    if not env.exists():
        raise PluginError(f"{path}: field 'env': no env file {env.relative_to(ROOT)}")
    return Declaration(data["name"], path, data)


def discover_methods(root: Path | str = ROOT) -> dict[str, Declaration]:
    found = {}
    for yml in sorted(Path(root, "methods").glob("*/method.yaml")):
        if yml.parent.name.startswith(("_", ".")):
            continue
        decl = validate_declaration(yml)
        found[decl.name] = decl
    return found


def dataset_params(defaults: dict, params: dict | None, where: str = "datasets.<name>.params") -> dict:
    """A dataset module's parameters: ``defaults`` updated with ``params``; a name it does not know (a typo
    such as ``test_input_sdr`` would otherwise be ignored silently) is an error naming it."""
    params = params or {}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **params}


def discover_datasets(root: Path | str = ROOT) -> list[str]:
    return sorted(p.stem for p in Path(root, "datasets").glob("*.py") if not p.stem.startswith("_"))


def _import_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_method(name: str, root: Path | str = ROOT) -> tuple[Declaration, Method]:
    methods = discover_methods(root)
    if name not in methods:
        raise PluginError(f"unknown method {name!r}; available: {sorted(methods)}")
    decl = methods[name]
    module = _import_file(decl.path.parent / "method.py", f"declipbench_methods.{name}")
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Method) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise PluginError(f"{decl.path.parent / 'method.py'}: must define exactly one subclass of "
                          f"declipbench.plugins.Method, found {[c.__name__ for c in classes]}")
    return decl, classes[0]()


def load_dataset(name: str, root: Path | str = ROOT):
    path = Path(root, "datasets", f"{name}.py")
    if not path.exists():
        raise PluginError(f"unknown dataset module {name!r}; available: {discover_datasets(root)}")
    return _import_file(path, f"declipbench_datasets.{name}")


# ---------------------------------------------------------------------------------------------------
# variants and grids

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
    """Expand ``{"training.g_max": [2, 3]}`` into ``[("g_max=2", {...}), ("g_max=3", {...})]``."""
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


def method_entries(experiment: dict, methods: dict[str, Declaration], where: str) -> list[tuple[str, dict]]:
    """The (method name, method options) an experiment runs, in table order."""
    spec = experiment.get("methods", "all")
    modality = experiment.get("modality", "audio")
    if spec == "all":
        return [(n, {}) for n, d in methods.items() if modality in d.modalities]
    if isinstance(spec, list):
        spec = {n: {} for n in spec}
    out = []
    for name, opts in spec.items():
        if name not in methods:
            raise PluginError(f"{where}.methods: unknown method {name!r}; available: {sorted(methods)}")
        if modality not in methods[name].modalities:
            raise PluginError(f"{where}.methods: method {name!r} does not declare modality {modality!r}")
        out.append((name, opts or {}))
    return out


def expand_variants(decl: Declaration, opts: dict, where: str) -> list[tuple[str, dict]]:
    """(variant id, variant params) for one method in one experiment, grids expanded."""
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
