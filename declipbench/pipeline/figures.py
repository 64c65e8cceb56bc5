"""The paper's figures as plug-ins: one module ``figures/<key>.py`` per entry ``figures.<key>`` of a configuration.

A figure module declares, like a dataset module:

- ``OUTPUTS``: ``{stem: report label}``; each stem gives ``<run>/figures/<stem>.png`` and its values
  ``<stem>.csv``, shown in the HTML report with the caption ``workflow/report/<stem>.rst``;
- ``PARAMETERS``: its settings (:class:`declipbench.Param`, nested mappings for sections), which the
  configuration's ``figures.<key>`` is resolved against when it is loaded (defaults filled, misspelt keys
  refused);
- ``ENV`` (optional, default ``report``): the conda environment of its rule, ``workflow/envs/<ENV>.yaml``;
  ``THREADS`` (optional, default False): whether it uses the run's ``threads``;
- ``check(params, config, where)`` (optional): constraints across its settings and the rest of the
  configuration (the experiment it draws from exists and has the right modality); raise ``ValueError``;
- ``inputs(params, run)`` (optional): the files it reads, ``{name: path or list of paths}``, from the run's
  path registry (:class:`RunView`); ``values(params, run)`` (optional): what else it needs of the run
  (thresholds, labels), as JSON values;
- ``external_inputs(params, data_dir)`` (optional): what it reads from outside the repository, as
  :class:`declipbench.foundation.inputs.Input` records (``declipbench check-data``);
- ``make(job)``: computes what it shows and writes every output (:class:`FigureJob`).

One rule per configured figure is generated from the declarations (``workflow/rules/report.smk``); the step
behind it is ``python -m declipbench paper-figure --job '{"spec": ...}'`` (:func:`figure_spec`). Adding a figure is one module, its
caption(s) and its entry in a configuration (README, "Add a figure").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..foundation.contracts import ROOT, PluginError
from ..foundation.parameters import resolve
from ..foundation.paths import Paths
from .plugins import discover_modules, load_module_plugin

ENVS = ("report", "torch", "data")


def discover_figures(root: Path | str = ROOT) -> list[str]:
    """The figure modules: ``figures/<key>.py`` whose name does not start with ``_``."""
    return discover_modules("figures", root)


def check_figure_module(mod, path: Path) -> None:
    """The figure contract (module docstring); a breach is a :class:`PluginError` naming the file."""
    outputs = getattr(mod, "OUTPUTS", None)
    if not (isinstance(outputs, dict) and outputs and all(isinstance(k, str) and isinstance(v, str)
                                                         for k, v in outputs.items())):
        raise PluginError(f"{path}: OUTPUTS must map each output's file stem to its report label")
    bad = [s for s in outputs if not s.replace("_", "").isalnum()]
    if bad:
        raise PluginError(f"{path}: OUTPUTS: file stems are letters, digits and _, got {bad}")
    if not isinstance(getattr(mod, "PARAMETERS", None), dict):
        raise PluginError(f"{path}: a figure module declares its settings in PARAMETERS (a mapping of "
                          f"declipbench.Param)")
    if not callable(getattr(mod, "make", None)):
        raise PluginError(f"{path}: a figure module defines make(job)")
    if getattr(mod, "ENV", "report") not in ENVS:
        raise PluginError(f"{path}: ENV must be one of {list(ENVS)}, got {mod.ENV!r}")


def load_figure(key: str, root: Path | str = ROOT):
    """The figure module ``figures/<key>.py``, its contract checked; ``key`` must name a discovered module
    (:func:`declipbench.pipeline.plugins.load_module_plugin`)."""
    return load_module_plugin("figures", key, "declipbench_figures", check_figure_module, "figure", root)


def check_figures(config: dict, source: str) -> None:
    """Every ``figures.<key>`` of a configuration: a known figure, its settings resolved against its
    ``PARAMETERS`` and stored back, its ``check`` passed. Errors name the file and the field."""
    for key in list(config.get("figures") or {}):
        where = f"figures.{key}"
        try:
            mod = load_figure(key)
        except PluginError as exc:
            raise PluginError(f"{source}: {where}: {exc} (each figure is a module figures/<key>.py)") from None
        try:
            params = resolve(mod.PARAMETERS, config["figures"][key], where)
            check = getattr(mod, "check", None)
            if check is not None:
                check(params, config, where)
        except ValueError as exc:
            raise PluginError(f"{source}: {exc}") from exc
        config["figures"][key] = params


def figure_experiment(config: dict, params: dict, where: str, modality: str, what: str) -> dict:
    """The experiment ``params['experiment']`` names (required), which must exist and have ``modality``."""
    name = params.get("experiment")
    if name is None:
        raise ValueError(f"{where}.experiment: required ({what} draws from an {modality} experiment)")
    exp = config["experiments"].get(name)
    if exp is None:
        raise ValueError(f"{where}.experiment: unknown experiment {name!r}; available: {sorted(config['experiments'])}")
    if exp["modality"] != modality:
        raise ValueError(f"{where}.experiment: {name!r} has modality {exp['modality']!r}; {what} needs an "
                         f"{modality} experiment")
    return exp


class RunView:
    """What a figure (or a report step) may ask of a validated configuration: its experiments, the path
    registry, an experiment's jobs, the model folder a job trained into, a method variant's label and a
    table's title."""

    def __init__(self, config: dict):
        from .config import model_owners, plan
        from .plugins import discover_methods

        self.config = config
        self.paths = Paths(config)
        self.seed = config["seeds"][0]
        self.plan = plan(config)  # every job of the run
        self.owners = model_owners(config, self.plan)  # a training equal to an earlier experiment's uses its model
        self.methods = discover_methods()

    def experiment(self, name: str) -> dict:
        return self.config["experiments"][name]

    def all_jobs(self, experiment: str) -> list:
        """The jobs of ``experiment``, every seed, in table order."""
        return [j for j in self.plan if j.experiment == experiment]

    def jobs(self, experiment: str) -> list:
        """The jobs of ``experiment`` at the first seed, in table order."""
        return [j for j in self.all_jobs(experiment) if j.seed == self.seed]

    def table_title(self, table: str) -> str:
        """A table's title: its experiment's, with the test set for an extra test set's table (Table 2)."""
        experiment, test_set = Paths.split_measured(Paths.measured_of_table(table))
        title = self.config["experiments"][experiment].get("title", experiment)
        return f"{title}: test set {test_set}" if test_set else title

    def model_dir(self, experiment: str, method: str, variant: str) -> str:
        """The model folder of a method variant of ``experiment`` at the first seed (an earlier experiment's
        when the training is the same, :func:`declipbench.pipeline.config.model_owners`)."""
        owner = self.owners.get((experiment, method, variant, self.seed), experiment)
        return self.paths.model(owner, method, variant, self.seed)

    def trains(self, method: str) -> bool:
        return bool(self.methods[method].trains)

    def label(self, method: str, variant: str) -> str:
        return self.methods[method].variant_label(variant)


@dataclass
class FigureJob:
    """What a figure's ``make`` is handed: its resolved settings, its inputs and values (as its ``inputs``
    and ``values`` returned them), the PNG path of each output stem, the threads it may use and the run's
    download cache (``data_dir``)."""

    key: str
    params: dict
    inputs: dict
    values: dict
    outputs: dict
    threads: int = 1
    data_dir: Path | None = None

    def png(self, stem: str) -> Path:
        return Path(self.outputs[stem])

    def csv(self, stem: str) -> Path:
        return Path(self.outputs[stem]).with_suffix(".csv")


def figure_spec(run: RunView, key: str) -> dict:
    """The job spec of ``figures.<key>``: everything its step needs, as JSON values."""
    mod = load_figure(key)
    params = run.config["figures"][key]
    return {"figure": key, "params": params,
            "inputs": mod.inputs(params, run) if hasattr(mod, "inputs") else {},
            "values": mod.values(params, run) if hasattr(mod, "values") else {},
            "outputs": {stem: run.paths.paper_figure(stem) for stem in mod.OUTPUTS},
            "data_dir": run.config.get("data_dir")}


def run_figure(spec: dict, threads: int = 1) -> None:
    """The step behind a figure's rule: its ``make`` on the spec of :func:`figure_spec`."""
    mod = load_figure(spec["figure"])
    data_dir = spec.get("data_dir")
    mod.make(FigureJob(spec["figure"], spec["params"], spec.get("inputs", {}), spec.get("values", {}),
                       spec["outputs"], int(threads), Path(data_dir) if data_dir else None))
