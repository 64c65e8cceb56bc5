"""Every input a run needs from outside the repository, checked in seconds (``declipbench check-data``, and
the workflow at start-up): for each data set, survey, figure and method of a configuration, what it reads,
where, and whether it is **present**, will be **downloaded** (from where, how large) or needs a **manual**
step (what to do). Nothing is downloaded or hashed here: checksums are verified when a file is used.

A data set module (``datasets/<name>.py``) or a method class declares its inputs with an optional
``inputs(params, data_dir)`` returning :class:`Input` records; one without it needs nothing from outside
(the synthetic data sets). A data set already prepared by an earlier run (its ``manifest.json`` under the
run's folder) needs nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRESENT, DOWNLOAD, MANUAL = "present", "download", "manual"


@dataclass
class Input:
    """One file or folder a run reads: ``status`` is ``present``, ``download`` (``fix`` says from where)
    or ``manual`` (``fix`` says what to do); ``size`` in bytes where known."""

    what: str
    path: str
    status: str
    fix: str = ""
    size: int | None = None
    used_by: str = ""

    def __post_init__(self):
        if self.status not in (PRESENT, DOWNLOAD, MANUAL):
            raise ValueError(f"input {self.what}: unknown status {self.status!r}")


def human(size: int | None) -> str:
    if size is None:
        return "size not published"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def run_inputs(config: dict) -> list[Input]:
    """The inputs of a validated configuration, in the order data sets, surveys, figures, methods."""
    from .config import section_variants
    from .paths import Paths
    from .plugins import dataset_params, discover_methods, load_dataset, method_class

    data_dir = Path(config.get("data_dir") or "data")
    paths = Paths(config)
    out: list[Input] = []
    used = {e["dataset"] for e in config["experiments"].values()}
    used |= {ds for e in config["experiments"].values() for ds in e.get("test_sets", [])}
    for name in sorted(used):
        ds = config["datasets"][name]
        mod = load_dataset(ds["module"])
        if not hasattr(mod, "inputs"):
            continue
        manifest = Path(paths.data(name)) / "manifest.json"
        if manifest.is_file():
            out.append(Input(f"data set {name} (prepared)", str(manifest), PRESENT, used_by=f"datasets.{name}"))
            continue
        params = dataset_params(mod, ds.get("params"), f"datasets.{name}.params")
        out += [_tag(i, f"datasets.{name}") for i in mod.inputs(params, data_dir)]
    for name, sv in config.get("surveys", {}).items():
        mod = load_dataset(sv["dataset"]["module"])
        if hasattr(mod, "inputs"):
            out += [_tag(i, f"surveys.{name}") for i in mod.inputs(sv["dataset"]["params"], data_dir)]
    toy = config.get("figures", {}).get("toy")
    if toy and toy.get("digit") == "mnist":
        from ..report.toy_figure import mnist_inputs

        out += [_tag(i, "figures.toy") for i in mnist_inputs(data_dir)]
    methods = discover_methods()
    seen = set()
    for exp in config["experiments"]:
        for method, variant, params in section_variants(config, "experiments", exp):
            cls = method_class(methods[method])
            if not hasattr(cls, "inputs"):
                continue
            for i in cls.inputs(params, data_dir):
                if i.path not in seen:
                    seen.add(i.path)
                    out.append(_tag(i, f"experiments.{exp}.methods.{method}/{variant}"))
    return out


def _tag(i: Input, used_by: str) -> Input:
    i.used_by = i.used_by or used_by
    return i


def summary(inputs: list[Input]) -> str:
    """One line per input, then the totals and, for each manual input, what to do."""
    if not inputs:
        return "Nothing to fetch: every data set of this run is made by the suite itself."
    lines = []
    for i in inputs:
        size = f", {human(i.size)}" if i.status == DOWNLOAD else ""
        lines.append(f"  {i.status:<8}  {i.what} ({i.used_by}): {i.path}{size}")
        if i.fix and i.status != PRESENT:
            lines.append(f"            {'from' if i.status == DOWNLOAD else 'to do'}: {i.fix}")
    down = [i for i in inputs if i.status == DOWNLOAD]
    manual = [i for i in inputs if i.status == MANUAL]
    known = sum(i.size for i in down if i.size)
    lines.append(f"{len(inputs) - len(down) - len(manual)} present, {len(down)} to download"
                 + (f" (at least {human(known)})" if down else "") + f", {len(manual)} manual step(s) missing.")
    return "\n".join(lines)


def missing_manual(inputs: list[Input]) -> list[Input]:
    return [i for i in inputs if i.status == MANUAL]
