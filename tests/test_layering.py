"""The core package's floors (docs/architecture.md): each subpackage imports only from the floors below it, read
from the import graph of every module, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "declipbench"

#: bottom to top; a module may import from its own floor and the floors below
FLOORS = ["foundation", "physics", "data", "models", "losses", "metrics", "training", "pipeline", "report", "cli"]
#: modules of the package root, placed on a floor
ROOT_MODULES = {"_lazy": "foundation", "__init__": "foundation", "cli": "cli", "jobs": "cli", "__main__": "cli"}


def floor_of(module: str) -> str:
    """The floor of ``declipbench.<sub>...``."""
    parts = module.split(".")
    assert parts[0] == "declipbench", module
    if len(parts) == 1:
        return "foundation"  # the package's own __init__: lazy exports only
    sub = parts[1]
    if sub in ROOT_MODULES:
        return ROOT_MODULES[sub]
    assert sub in FLOORS, f"declipbench.{sub} is on no floor: add it to FLOORS (and docs/architecture.md)"
    return sub


def module_name(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every ``declipbench`` module ``path`` imports (line, absolute name), relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path, package).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "declipbench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "declipbench":
                continue
            if name == "declipbench" or (node.level and not node.module):  # from . import x: x is a module
                out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, name))
    return out


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        source = floor_of(module_name(path, package))
        for line, target in imports_of(path, package):
            dest = floor_of(target)
            if FLOORS.index(dest) > FLOORS.index(source):
                found.append(f"{path.relative_to(package.parent)}:{line}: {source} imports {target} ({dest} is above)")
    return found


def test_every_import_goes_down_the_floors():
    assert violations() == []


def test_the_foundation_imports_nothing_of_the_package_but_itself():
    for path in (PACKAGE / "foundation").rglob("*.py"):
        for line, target in imports_of(path):
            assert target.startswith(("declipbench.foundation", "declipbench._lazy")), f"{path}:{line}: {target}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The check itself: a module of a lower floor importing a higher one, at module level or inside a
    function, relative or absolute, is reported."""
    pkg = tmp_path / "declipbench"
    for sub in ("physics", "data", "report"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "physics" / "bad.py").write_text("def f():\n    from ..report import tables\n")
    (pkg / "data" / "bad.py").write_text("import declipbench.report.tables\nfrom declipbench.physics import clip\n")
    (pkg / "report" / "good.py").write_text("from ..data import io\nfrom . import tables\n")
    found = violations(pkg)
    assert len(found) == 2, found
    assert any("physics/bad.py:2: physics imports declipbench.report " in f for f in found), found
    assert any("data/bad.py:1: data imports declipbench.report.tables" in f for f in found), found


@pytest.mark.parametrize("floor", FLOORS[:-1])
def test_each_floor_is_a_package(floor):
    assert (PACKAGE / floor / "__init__.py").is_file()


# ------------------------------------------------------------------------------ start-up cost
# Snakemake imports the workflow's start-up path for every invocation (dry runs, each job of a run, each
# cluster job): the config check, the job plan, every method's method.py, every figure plug-in, the data
# check. Torch (about 3 s to import on 2 cores) and scipy.stats (about 2 s) belong to the jobs that compute.
_STARTUP = """
import sys
from declipbench.foundation.schema import load_yaml
from declipbench.pipeline.config import validate_config
from declipbench.pipeline.data_check import run_inputs
from declipbench.pipeline.figures import RunView
for f in sys.argv[1:]:
    cfg = validate_config(load_yaml(f), f)
    RunView(cfg)
    run_inputs(cfg)
heavy = sorted(m for m in ("torch", "scipy.stats", "matplotlib") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_the_workflow_start_up_imports_no_torch():
    import subprocess
    import sys

    configs = [str(ROOT / "config" / c) for c in ("config.yaml", "paper.yaml", "claim.yaml")]
    out = subprocess.run([sys.executable, "-c", _STARTUP, *configs], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY []" in out.stdout, (
        f"the workflow's start-up imports {out.stdout.split('HEAVY', 1)[-1].strip()}: import it inside the "
        "function that computes (README, Add your method)")
