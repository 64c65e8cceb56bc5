"""Conda env files: parse, and list what their rules import; environment.yml matches pyproject.toml."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from declipbench.pipeline.figures import discover_figures, load_figure
from declipbench.pipeline.plugins import discover_methods

ROOT = Path(__file__).resolve().parent.parent
ENVS = ROOT / "workflow" / "envs"
# import name -> conda package name
CONDA_NAME = {"torch": "pytorch", "yaml": "pyyaml", "soundfile": "pysoundfile", "matplotlib": "matplotlib-base"}
# import name -> pip (pyproject) name
PIP_NAME = {"yaml": "pyyaml", "snakemake": "snakemake", "OpenEXR": "openexr"}
STDLIB = set(sys.stdlib_module_names)


def env_packages(path: Path) -> set[str]:
    env = yaml.safe_load(path.read_text())
    pkgs = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pkgs |= {re.split(r"[<>=!~ ]", p)[0].lower() for p in dep.get("pip", []) if not p.startswith("-")}
        else:
            pkgs.add(re.split(r"[<>=!~ ]", dep)[0].lower())
    return pkgs


def _package_of(path: Path) -> list[str]:
    """The dotted package a file belongs to, as parts (``declipbench/pipeline/steps.py`` -> declipbench.pipeline)."""
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return []
    return list(rel.parts[:-1])


def imports_of(path: Path, module_level_only: bool = False) -> set[str]:
    """Imported names of a file, including imports inside functions unless ``module_level_only``;
    relative imports are resolved against the file's own package."""
    names = set()
    tree = ast.parse(path.read_text())
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path)
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                names.add(base)
                names |= {f"{base}.{a.name}" for a in node.names}
            elif node.module:
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def closure(files: list[Path]) -> set[str]:
    """Third-party top-level modules reachable from files, following declipbench's own modules.

    The CLI dispatches to one step per rule with lazy imports, so only its module-level imports count;
    for every other module, imports inside functions count too.
    """
    seen, todo, third = set(), list(files), set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for name in imports_of(f, module_level_only=(f == CLI)):
            top = name.split(".")[0]
            if top in ("declipbench", "methods", "datasets", "figures"):  # the repository's own code (a method's modules too)
                parts = name.split(".")
                for k in range(len(parts), 0, -1):
                    cand = ROOT.joinpath(*parts[:k])
                    if cand.with_suffix(".py").exists():
                        todo.append(cand.with_suffix(".py"))
                        if k > 1 and (cand.parent / "__init__.py").exists():
                            todo.append(cand.parent / "__init__.py")
                        break
                    if (cand / "__init__.py").exists():
                        todo.append(cand / "__init__.py")
                        break
            elif top not in STDLIB and top != "__future__":
                third.add(top)
    return third


PKG = ROOT / "declipbench"
CLI = PKG / "cli.py"
STEPS = PKG / "pipeline" / "steps.py"
SURVEY = PKG / "pipeline" / "survey.py"
# env -> code its rules run (the CLI, the step modules, plug-ins they load; the metrics, which the registry
# imports by name)
RULE_CODE = {
    "data": [CLI, STEPS, SURVEY, PKG / "pipeline" / "plugins.py", *sorted((ROOT / "datasets").glob("*.py"))],
    "eval": [CLI, STEPS, *sorted((PKG / "metrics").glob("*.py"))],
    "report": [CLI, SURVEY, PKG / "report" / "tables.py", PKG / "report" / "figures.py",
               PKG / "report" / "benchmarks.py"],
    # besides train and reconstruct (methods: test_method_envs_list_what_methods_import)
    "torch": [CLI],
}
# each figure's rule runs its module figures/<key>.py in the env it declares (ENV)
for _key in discover_figures():
    RULE_CODE[getattr(load_figure(_key), "ENV", "report")] += [PKG / "pipeline" / "figures.py", ROOT / "figures" / f"{_key}.py"]


@pytest.mark.parametrize("env", sorted(p.stem for p in ENVS.glob("*.yaml")))
def test_env_file_parses(env):
    data = yaml.safe_load((ENVS / f"{env}.yaml").read_text())
    assert data["channels"] and data["dependencies"]
    assert "python" in env_packages(ENVS / f"{env}.yaml")


@pytest.mark.parametrize("env", sorted(RULE_CODE))
def test_env_lists_what_its_rules_import(env):
    needed = {CONDA_NAME.get(m, m).lower() for m in closure(RULE_CODE[env])}
    missing = needed - env_packages(ENVS / f"{env}.yaml")
    assert not missing, f"workflow/envs/{env}.yaml lacks {sorted(missing)}"


def test_method_envs_list_what_methods_import():
    for name, decl in discover_methods().items():
        files = [CLI, STEPS, *sorted(decl.path.parent.glob("*.py"))]
        needed = {CONDA_NAME.get(m, m).lower() for m in closure(files)}
        env = decl.env_file
        missing = needed - env_packages(env)
        assert not missing, f"{env.relative_to(ROOT)} (env of method {name}) lacks {sorted(missing)}"


def test_every_rule_names_an_existing_env():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule in re.findall(r"^rule (\w+):", text, re.M):
            body = text.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
            assert "conda:" in body, f"rule {rule} in {smk.name} has no conda env"
        for env in re.findall(r'"\.\./envs/(\w+)\.yaml"', text):
            assert (ENVS / f"{env}.yaml").exists(), env


def _pyproject_deps() -> set[str]:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~ \[]", d)[0].lower() for d in deps}


def test_environment_yml_matches_pyproject():
    conda_of = {"torch": "pytorch", "soundfile": "pysoundfile", "matplotlib": "matplotlib-base",
                "snakemake": "snakemake-minimal"}
    env = env_packages(ROOT / "environment.yml")
    for dep in _pyproject_deps():
        assert conda_of.get(dep, dep) in env, f"environment.yml lacks {dep} (pyproject.toml dependency)"
    back = {v: k for k, v in conda_of.items()}
    for pkg in env - {"python", "pip", "pytest"}:
        assert back.get(pkg, pkg) in _pyproject_deps(), f"environment.yml has {pkg}, pyproject.toml does not"


def test_core_package_imports_are_declared_in_pyproject():
    third = closure(sorted(PKG.rglob("*.py")))
    declared = {PIP_NAME.get(m, m) for m in _pyproject_deps()}
    missing = {m for m in third if PIP_NAME.get(m, m) not in declared}
    assert not missing, f"pyproject.toml lacks {sorted(missing)}"


def test_core_does_not_need_torchvision():
    assert "torchvision" not in closure(sorted(PKG.rglob("*.py")))


@pytest.mark.parametrize("env", ["data", "eval", "report"])
def test_rules_without_torch_never_import_it(env):
    """The data, eval and report envs have no torch: nothing their rules run may import it (the closure
    follows imports inside functions too)."""
    assert "torch" not in closure(RULE_CODE[env])


# conda package name -> pip distribution name, where they differ
CONDA_TO_PIP = {"pytorch": "torch", "pysoundfile": "soundfile", "matplotlib-base": "matplotlib",
            "snakemake-minimal": "snakemake"}


def _env_specs(path: Path) -> list[tuple[str, str]]:
    """``(pip name, version specifier)`` of every dependency of a conda env file (conda's ``=x`` as ``==x.*``)."""
    env = yaml.safe_load(path.read_text())
    out = []
    for dep in env["dependencies"]:
        for d in (dep.get("pip", []) if isinstance(dep, dict) else [dep]):
            d = d.split("#")[0].strip()
            if d.startswith("-") or not d:
                continue
            name = re.split(r"[<>=!~ ]", d)[0]
            spec = d[len(name):].strip()
            if re.fullmatch(r"=[^=].*", spec):  # conda's "python=3.11"
                spec = f"=={spec[1:]}.*"
            out.append((CONDA_TO_PIP.get(name.lower(), name.lower()), spec))
    return out


@pytest.mark.parametrize("path", sorted(ENVS.glob("*.yaml")) + [ROOT / "environment.yml"], ids=lambda p: p.name)
def test_env_files_use_conda_forge_and_admit_the_tested_versions(path):
    """Every env file resolves from conda-forge alone (the retired `pytorch` channel is not used) and its
    version bounds admit the versions the suite was tested with (constraints.txt), so the conda route and
    the venv route install the same code."""
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"], path.name
    pins = {canonicalize_name(line.split("==")[0]): line.split("==")[1].strip()
            for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    checked = 0
    for name, spec in _env_specs(path):
        key = canonicalize_name(name)
        if name in ("python", "pip", "declipbench") or key not in pins or not spec:
            continue
        version = pins[key].split("+")[0]  # a local build label (+cpu) is not part of the version
        assert version in SpecifierSet(spec), f"{path.name}: {name}{spec} excludes {version}, the tested version"
        checked += 1
    assert checked >= 3, path.name


def test_a_method_may_ship_its_own_env_file(tmp_path):
    """``env: env.yaml`` in method.yaml: the method's rules use the file in its own folder (nothing in
    workflow/envs/ to edit); a missing file is named."""
    import shutil

    from declipbench.foundation.contracts import PluginError
    from declipbench.pipeline.plugins import validate_declaration

    folder = tmp_path / "methods" / "mine"
    shutil.copytree(ROOT / "methods" / "_template", folder)
    decl = (folder / "method.yaml").read_text().replace("name: template", "name: mine")
    (folder / "method.yaml").write_text(decl.replace("\nenv: torch", "\nenv: env.yaml"))
    with pytest.raises(PluginError, match="field 'env': no env file .*env.yaml"):
        validate_declaration(folder / "method.yaml")
    (folder / "env.yaml").write_text((ENVS / "torch.yaml").read_text())
    assert validate_declaration(folder / "method.yaml").env_file == folder / "env.yaml"
    assert discover_methods()["identity"].env_file == ENVS / "torch.yaml"
