# Shared helpers: the validated config, the job plan, wildcard constraints. Every path comes from
# declipbench.pipeline.paths.Paths (PATHS), the one place result paths are built.
import json
import os
import re
import shlex
import sys

sys.path.insert(0, workflow.basedir)
# every job (also in a conda env or on a cluster node) imports the core package from this repository
shell.prefix(f"export PYTHONPATH={shlex.quote(workflow.basedir)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")

from declipbench.pipeline.config import (
    ConfigError,
    experiment_test_sets,
    extra_train_measurements,
    job_spec,
    job_threads,
    measured_dataset,
    measured_sets,
    model_owners,
    plan,
    spec_json,
    survey_jobs,
    survey_signals,
    survey_spec,
    validate_config,
)
from declipbench.pipeline.paths import Paths
from declipbench.pipeline.plugins import discover_methods, load_dataset

CONFIG_SOURCE = ", ".join(str(f) for f in workflow.overwrite_configfiles) or "config/config.yaml"
try:
    CFG = validate_config(config, CONFIG_SOURCE)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

PATHS = Paths(CFG)
JOBS = plan(CFG)
# a job whose training equals an earlier experiment's uses that model (declipbench.pipeline.config.model_owners)
MODEL_OWNERS = model_owners(CFG, JOBS)
METHODS = discover_methods()
# what one measure job makes: an experiment's dataset, or one of its extra test sets (Table 2's speech)
MEASURED = measured_sets(CFG)
TABLES = [Paths.table_name(m) for m in MEASURED]
SURVEY_JOBS = survey_jobs(CFG)
SURVEY_SIGNALS = {name: survey_signals(CFG, name) for name in CFG["surveys"]}
# image datasets also write each item's camera parameters, {split}_camera.npy (rule prepare_image_dataset)
IMAGE_DATASETS = sorted(
    name for name, ds in CFG["datasets"].items() if load_dataset(ds["module"]).MODALITY == "image"
)


def one_of(names):
    """A wildcard constraint matching exactly these names (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    dataset=one_of(sorted(CFG["datasets"])),
    experiment=one_of(list(CFG["experiments"])),
    measured=one_of(MEASURED),
    table=one_of(TABLES),
    survey=one_of(list(CFG["surveys"])),
    method=one_of(sorted(METHODS)),
    variant="[A-Za-z0-9_@=,.+-]+",
    seed="[0-9]+",
    signal="[A-Za-z0-9_.-]+",


def experiment_of(wildcards):
    """The experiment of a job: its own wildcard, or that of its measured set."""
    if hasattr(wildcards, "experiment"):
        return wildcards.experiment
    return Paths.split_measured(wildcards.measured)[0]


def exp_setting(key):
    return lambda wildcards: CFG["experiments"][experiment_of(wildcards)][key]


def spec(wildcards):
    return spec_json(job_spec(CFG, experiment_of(wildcards), wildcards.method, wildcards.variant, int(wildcards.seed)))


def method_env(wildcards):
    return f"../envs/{METHODS[wildcards.method].env}.yaml"


def method_resource(key):
    """A method job's resource from its declaration (`resources` in methods/<name>/method.yaml): mem_mb,
    runtime_min. On Slurm: --mem, --time (workflow/profiles/slurm/config.yaml)."""

    def get(wildcards):
        return METHODS[wildcards.method].resources[key]

    return get


def method_gpus(wildcards):
    """GPUs a method job requests: one when its declaration says `required` or `optional` (a method that
    uses a GPU when it has one gets one on a cluster: --gpus=1 on Slurm), none for `none`. A local run is
    not limited by it unless given `--resources gpu=N`. `--set-resources <rule>:gpu=0` runs a rule's jobs
    without (workflow/profiles/slurm/config.yaml)."""
    return 0 if METHODS[wildcards.method].resources["gpu"] == "none" else 1


def method_threads(wildcards):
    return job_threads(CFG, wildcards.method)


def used_model_dir(wildcards):
    """The model a reconstruction uses: its own experiment's, or the identical one trained earlier."""
    experiment = experiment_of(wildcards)
    key = (experiment, wildcards.method, wildcards.variant, int(wildcards.seed))
    owner = MODEL_OWNERS.get(key, experiment)
    return PATHS.model(owner, wildcards.method, wildcards.variant, wildcards.seed)


def experiment_jobs(experiment):
    return [j for j in JOBS if j.experiment == experiment]


def table_inputs(wildcards):
    measured = Paths.measured_of_table(wildcards.table)
    experiment, test_set = Paths.split_measured(measured)
    files = [PATHS.item_metrics(measured, j.method, j.variant, j.seed) for j in experiment_jobs(experiment)]
    if test_set is None:  # an experiment's extra test sets (Table 2) are tabulated with its own table
        files += [PATHS.table(Paths.table_name(Paths.measured(experiment, ts)), "md") for ts in experiment_test_sets(CFG, experiment)]
    return files


def table_experiment(wildcards):
    return Paths.split_measured(Paths.measured_of_table(wildcards.table))[0]


def table_title(wildcards):
    experiment, test_set = Paths.split_measured(Paths.measured_of_table(wildcards.table))
    title = CFG["experiments"][experiment].get("title", experiment)
    return f"{title}: test set {test_set}" if test_set else title


def figure_jobs(experiment):
    first = CFG["seeds"][0]
    return [j for j in experiment_jobs(experiment) if j.seed == first]


def survey_dataset(wildcards):
    return CFG["surveys"][wildcards.survey]["dataset"]


#: the config's figures: key -> the file name of the figure (and of its data, .csv)
PAPER_FIGURES = {"mc_losses": "fig2_mc_losses", "hdr_mask": "fig4_hdr_mask"}


def final_outputs():
    out = [f for table in TABLES for f in PATHS.tables(table)]
    out += [PATHS.paper_figure(PAPER_FIGURES[key], ext) for key in CFG["figures"] for ext in ("png", "csv")]
    return out + [PATHS.figure(name) for name in CFG["experiments"]]


def survey_outputs():
    return [f for name in CFG["surveys"] for f in PATHS.tables(name)]
