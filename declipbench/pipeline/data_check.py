"""Every input a run needs from outside the repository, checked in seconds (``declipbench check-data``, and
the workflow at start-up): for each data set, survey, figure and method of a configuration, what it reads,
where, and whether it is present, will be downloaded or needs a manual step (:mod:`.inputs`). Nothing is
downloaded or hashed here: checksums are verified when a file is used. A data set already prepared by an
earlier run (its ``manifest.json`` under the run's folder) needs nothing more.
"""

from __future__ import annotations

from pathlib import Path

from ..foundation.inputs import PRESENT, Input


def run_inputs(config: dict) -> list[Input]:
    """The inputs of a validated configuration, in the order data sets (those of the surveys too), figures,
    methods."""
    from .config import section_variants
    from ..foundation.paths import Paths
    from .figures import load_figure
    from .plugins import dataset_params, discover_methods, load_dataset, method_class

    data_dir = Path(config.get("data_dir") or "data")
    paths = Paths(config)
    out: list[Input] = []
    used = {e["dataset"] for e in config["experiments"].values()}
    used |= {ds for e in config["experiments"].values() for ds in e.get("test_sets", [])}
    used |= {sv["dataset"] for sv in config.get("surveys", {}).values()}
    for name in sorted(used):
        ds = config["datasets"][name]
        mod = load_dataset(ds["module"])
        if not hasattr(mod, "inputs"):
            continue
        manifest = Path(Paths.manifest(paths.data(name)))
        if manifest.is_file():
            out.append(Input(f"data set {name} (prepared)", str(manifest), PRESENT, used_by=f"datasets.{name}"))
            continue
        params = dataset_params(mod, ds.get("params"), f"datasets.{name}.params")
        out += [_tag(i, f"datasets.{name}") for i in mod.inputs(params, data_dir)]
    for key, params in config.get("figures", {}).items():
        mod = load_figure(key)
        if hasattr(mod, "external_inputs"):
            out += [_tag(i, f"figures.{key}") for i in mod.external_inputs(params, data_dir)]
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


