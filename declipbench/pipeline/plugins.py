"""Discovering and loading the plug-ins: methods (``methods/<name>/``) and datasets (``datasets/<name>.py``).
The contracts they implement (:class:`Method`, :class:`Context`, :class:`TrainData`) live in the foundation,
:mod:`declipbench.foundation.contracts`.

**A method** is a folder ``methods/<name>/`` holding everything private to it:

- ``method.yaml``, its declaration (checked against ``workflow/schemas/method.schema.yaml``): name, label,
  supervision, trains, modalities, env, resources, variants (each a table row, with its ``params``);
- ``method.py``, defining exactly one subclass of :class:`Method`: ``parameters`` (the declaration of every
  parameter, with types and defaults, :mod:`declipbench.foundation.parameters`), ``reconstruct`` and, for a
  method that trains, ``fit``;
- any other modules it needs: the folder is imported as a package, so ``method.py`` can say
  ``from .gabor import GaborFrame``.

**A dataset** is a module ``datasets/<name>.py`` with ``MODALITY`` (``audio`` or ``image``),
``PARAMETERS`` (declared like a method's), an optional ``check(params, where)`` for constraints across
parameters, and either ``generate(params, split, count)`` (a generator: it declares ``splits`` and
``sample_rate``; the prepare step writes what it returns) or ``prepare(params, out_dir, data_dir)`` (it
writes ``{split}.npy`` itself, and ``{split}_camera.npy`` for images, and returns its manifest). A survey
data set (``KIND = "survey"``, ``datasets/sqam.py``) instead gives whole signals to the survey protocol:
``PARAMETERS``, ``SAMPLE_RATE``, ``selected``, ``fetch``, ``load``.

Folders and files whose name starts with ``_`` (such as ``methods/_template``) are not discovered.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import pickle
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..foundation.contracts import MODALITIES, ROOT, Method, PluginError, require_checkout
from ..foundation.parameters import resolve
from ..foundation.schema import errors, fill_defaults, load_schema, load_yaml

METHOD_SCHEMA = ROOT / "workflow" / "schemas" / "method.schema.yaml"


# ------------------------------------------------------------------------------------ declarations
@dataclass
class Declaration:
    """A method's ``method.yaml``, validated, defaults filled."""

    name: str
    path: Path
    data: dict

    def __getattr__(self, key):
        try:
            return self.__dict__["data"][key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def env_file(self) -> Path:
        """The conda env file of its rules (:func:`env_file`)."""
        return env_file(self.folder, self.data["env"])

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
    return load_yaml(path)


def _load_yaml(path: Path) -> Any:
    """The parsed file, a fresh copy. Parsed once per content (path, mtime, size): the workflow asks for
    the method declarations for every job spec and every rule's threads, and YAML parsing was 90 % of
    Snakemake's start-up on the paper config."""
    st = Path(path).stat()
    try:
        return copy.deepcopy(_parse_yaml(str(path), st.st_mtime_ns, st.st_size))
    except yaml.YAMLError as exc:
        raise PluginError(f"{path}: not valid YAML: {exc}") from exc
    except ValueError as exc:  # a key given twice (schema.DuplicateKeyError names the file)
        raise PluginError(str(exc)) from exc


@lru_cache(maxsize=None)
def _method_schema() -> dict:
    return load_schema(METHOD_SCHEMA)


@lru_cache(maxsize=256)
def _checked_fields(path: str, mtime_ns: int, size: int) -> bytes:
    """The declaration checked against the schema, defaults filled. Once per content, like the parse:
    the schema check of every method for every job spec was 60 % of a dry run of the paper config."""
    data = _load_yaml(Path(path))
    if not isinstance(data, dict):
        raise PluginError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    problems = errors(_method_schema(), data, limit=1)
    if problems:
        field_name, _, message = problems[0].partition(": ")
        raise PluginError(f"{path}: field {field_name!r}: {message}")
    fill_defaults(_method_schema(), data)
    return pickle.dumps(data)


def validate_declaration(path: Path) -> Declaration:
    path = Path(path)
    st = path.stat()
    data = pickle.loads(_checked_fields(str(path), st.st_mtime_ns, st.st_size))  # a fresh copy, fast
    folder = path.parent.name.lstrip("_")  # a private folder (methods/_template) is named without its "_"
    if data["name"] != folder:
        raise PluginError(f"{path}: field 'name': {data['name']!r} must equal the folder name {folder!r}")
    for v in data.get("default_variants") or []:
        if v not in data["variants"]:
            raise PluginError(f"{path}: field 'default_variants': {v!r} is not one of the variants {sorted(data['variants'])}")
    if not (path.parent / "method.py").exists():
        raise PluginError(f"{path.parent}: missing method.py next to method.yaml")
    env = env_file(path.parent, data["env"])
    if not env.exists():
        raise PluginError(f"{path}: field 'env': no env file {env}")
    return Declaration(data["name"], path, data)


def env_file(folder: Path, env: str) -> Path:
    """A method's conda env file: ``env`` names a file of its folder (``env.yaml``) or a shared env
    (``torch``: ``workflow/envs/torch.yaml``)."""
    if env.endswith((".yaml", ".yml")):
        return Path(folder) / env
    return ROOT / "workflow" / "envs" / f"{env}.yaml"


def method_folders(root: Path | str = ROOT, include_private: bool = False) -> list[Path]:
    """The method folders under ``root/methods`` (``_template`` and other ``_`` folders only when asked)."""
    return [d for d in sorted(Path(root, "methods").iterdir())
            if d.is_dir() and not d.name.startswith(".") and d.name != "__pycache__"
            and (include_private or not d.name.startswith("_"))]


def discover_methods(root: Path | str = ROOT, include_private: bool = False) -> dict[str, Declaration]:
    require_checkout(root, ("methods",))
    found = {}
    for folder in method_folders(root, include_private):
        yml = folder / "method.yaml"
        if not yml.is_file():
            continue
        decl = validate_declaration(yml)
        found[decl.name] = decl
    return found


def unknown_method(name: str, methods: dict, root: Path | str = ROOT) -> PluginError:
    """The error for a method name that is not discovered, saying why when the folder exists."""
    folder = Path(root, "methods", name)
    if folder.is_dir() and not (folder / "method.yaml").is_file():
        return PluginError(f"unknown method {name!r}: the folder {folder} exists but has no method.yaml "
                           f"(copy methods/_template to start one); available: {sorted(methods)}")
    return PluginError(f"unknown method {name!r}; available: {sorted(methods)}")


_PACKAGES: dict[str, tuple[tuple, types.ModuleType]] = {}


def _package_name(folder: Path) -> str:
    if folder.parent == ROOT / "methods":
        return f"declipbench_methods.{folder.name}"
    return f"declipbench_methods.{folder.name}_{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}"


def import_method_module(folder: Path | str, module: str = "method") -> types.ModuleType:
    """Import ``module`` of a method folder, the folder being a package (``declipbench_methods.<name>``) so
    that its modules import each other with relative imports. Imported once per content of its ``.py``
    files; an edited file is imported afresh."""
    folder = Path(folder).resolve()
    name = _package_name(folder)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.py")))
    cached = _PACKAGES.get(name)
    if cached is None or cached[0] != stamp:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        if "declipbench_methods" not in sys.modules:
            parent = types.ModuleType("declipbench_methods")
            parent.__path__ = []
            sys.modules["declipbench_methods"] = parent
        init = folder / "__init__.py"
        if init.is_file():
            spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
        else:  # a plain folder: a package without code of its own
            spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
            spec.submodule_search_locations = [str(folder)]
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        if init.is_file():
            spec.loader.exec_module(package)
        _PACKAGES[name] = (stamp, package)
    return importlib.import_module(f"{name}.{module}")


def method_class(decl: Declaration) -> type[Method]:
    """The one :class:`Method` subclass defined in the method's ``method.py``."""
    path = decl.folder / "method.py"
    try:
        module = import_method_module(decl.folder)
    except SyntaxError as exc:
        raise PluginError(f"{path}: syntax error at line {exc.lineno}: {exc.msg}") from exc
    except ImportError as exc:
        raise PluginError(f"{path}: cannot import it: {exc}") from exc
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Method) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise PluginError(f"{path}: must define exactly one subclass of declipbench.Method, "
                          f"found {[c.__name__ for c in classes]}")
    cls = classes[0]
    cls.supervision = decl.supervision
    cls.source = path
    return cls


def load_method(name: str, root: Path | str = ROOT) -> tuple[Declaration, Method]:
    methods = discover_methods(root)
    if name not in methods:
        raise unknown_method(name, methods, root)
    decl = methods[name]
    return decl, method_class(decl)()


def method_params(cls: type[Method], given: dict | None, where: str, check: bool = True) -> dict:
    """``given`` resolved against the method's declaration (defaults filled, every value and name
    checked) and, with ``check``, its cross-parameter :meth:`Method.check`; errors name ``where`` and the
    field."""
    try:
        params = resolve(cls.declaration(), given, where)
        if check:
            cls.check(params, where)
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    return params


def display_path(path: Path | str) -> str:
    """``path`` relative to the repository when it is inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------- datasets
def discover_modules(folder: str, root: Path | str = ROOT) -> list[str]:
    """The plug-in modules of a folder of the repository (``datasets/``, ``figures/``): ``<name>.py`` whose
    name does not start with ``_``."""
    return sorted(p.stem for p in Path(root, folder).glob("*.py") if not p.stem.startswith("_"))


def discover_datasets(root: Path | str = ROOT) -> list[str]:
    return discover_modules("datasets", root)


def _import_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def check_dataset_module(mod, path: Path) -> None:
    """The dataset contract (module docstring); a breach is a :class:`PluginError` naming the file."""
    if not isinstance(getattr(mod, "PARAMETERS", None), dict):
        raise PluginError(f"{path}: a dataset module declares its parameters in PARAMETERS (a mapping of "
                          f"declipbench.Param)")
    if getattr(mod, "KIND", None) == "survey":
        missing = [n for n in ("SAMPLE_RATE", "selected", "fetch", "load") if not hasattr(mod, n)]
        if missing:
            raise PluginError(f"{path}: a survey data set (KIND = 'survey') must define {missing}")
        return
    if getattr(mod, "MODALITY", None) not in MODALITIES:
        raise PluginError(f"{path}: MODALITY must be one of {list(MODALITIES)}, got {getattr(mod, 'MODALITY', None)!r}")
    has_gen, has_prep = callable(getattr(mod, "generate", None)), callable(getattr(mod, "prepare", None))
    if has_gen == has_prep:
        raise PluginError(f"{path}: define exactly one of generate(params, split, count) and "
                          f"prepare(params, out_dir, data_dir)")
    if has_gen:
        missing = [k for k in ("splits", "sample_rate") if k not in mod.PARAMETERS]
        if missing or mod.MODALITY != "audio":
            raise PluginError(f"{path}: a generator module is an audio dataset declaring the parameters "
                              f"'splits' and 'sample_rate' (missing: {missing})")


@lru_cache(maxsize=None)
def _load_module(path: str, mtime_ns: int, size: int, package: str, check):
    p = Path(path)
    mod = _import_file(p, f"{package}.{p.stem}")
    check(mod, p)
    return mod


def load_module_plugin(folder: str, name: str, package: str, check, what: str, root: Path | str = ROOT):
    """The plug-in module ``<folder>/<name>.py``, its contract checked by ``check(module, path)``, imported
    once per content. ``name`` comes from a configuration, so it selects code: it must be one of the
    modules discovered in ``folder`` (a file directly there), checked here, in one place, before anything is
    imported; a path (``/tmp/x/evil``, ``../x``) is refused, never imported."""
    known = discover_modules(folder, root)
    if not isinstance(name, str) or name not in known:
        raise PluginError(f"unknown {what} {name!r}; available: {known}")
    path = Path(root, folder, f"{name}.py")
    st = path.stat()
    return _load_module(str(path), st.st_mtime_ns, st.st_size, package, check)


def load_dataset(name: str, root: Path | str = ROOT):
    """The dataset module ``datasets/<name>.py``, its contract checked (:func:`load_module_plugin`)."""
    return load_module_plugin("datasets", name, "declipbench_datasets", check_dataset_module, "dataset module", root)


def dataset_params(mod, given: dict | None, where: str) -> dict:
    """A dataset module's parameters resolved against its ``PARAMETERS`` and its ``check``."""
    try:
        params = resolve(mod.PARAMETERS, given, where)
        if callable(getattr(mod, "check", None)):
            mod.check(params, where)
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    return params
