# Shared helpers: validated config, the job plan, paths, wildcard constraints.
import json
import os
import shlex
import sys

sys.path.insert(0, workflow.basedir)
# every job (also in a conda env or on a cluster node) imports the core package from this repository
shell.prefix(f"export PYTHONPATH={shlex.quote(workflow.basedir)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")

from declipbench.config import ConfigError, job_spec, job_threads, model_owners, plan, validate_config
from declipbench.plugins import discover_methods, load_dataset

CONFIG_SOURCE = ", ".join(str(f) for f in workflow.overwrite_configfiles) or "config/config.yaml"
try:
    CFG = validate_config(config, CONFIG_SOURCE)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

RUN = f"{CFG['results_dir']}/{CFG['run']}"
JOBS = plan(CFG)
# a job whose training equals an earlier experiment's uses that model (declipbench.config.model_owners)
MODEL_OWNERS = model_owners(CFG, JOBS)
METHODS = discover_methods()
SPLITS = ["train", "val", "test"]


def one_of(names):
    """A wildcard constraint matching exactly these names (nothing when there are none)."""
    return "|".join(names) if names else "(?!)"


wildcard_constraints:
    dataset="[a-z][a-z0-9_]*",
    experiment=one_of(list(CFG["experiments"])),  # only configured names (tables/ also holds surveys)
    method="[a-z][a-z0-9_]*",
    variant="[A-Za-z0-9_@=,.+-]+",
    seed="[0-9]+",


def experiment_dataset(wildcards):
    return CFG["experiments"][wildcards.experiment]["dataset"]


# image datasets also write each item's camera parameters, {split}_camera.npy (rule prepare_image_dataset)
IMAGE_DATASETS = sorted(
    name
    for name, ds in CFG["datasets"].items()
    if getattr(load_dataset(ds["module"]), "MODALITY", "audio") == "image"
)


def dataset_files(wildcards):
    ds = experiment_dataset(wildcards)
    files = [f"{RUN}/data/{ds}/{s}.npy" for s in SPLITS]
    if ds in IMAGE_DATASETS:
        files += [f"{RUN}/data/{ds}/{s}_camera.npy" for s in SPLITS]
    return files


def measurement_files(experiment):
    return [f"{RUN}/measurements/{experiment}/{s}_{a}.npy" for s in SPLITS for a in ("x", "y", "ids")]


def spec(wildcards):
    return json.dumps(
        job_spec(CFG, wildcards.experiment, wildcards.method, wildcards.variant, int(wildcards.seed)),
        sort_keys=True,
        separators=(",", ":"),
    )


def method_env(wildcards):
    return f"../envs/{METHODS[wildcards.method].env}.yaml"


def method_resource(key):
    def get(wildcards):
        return METHODS[wildcards.method].resources[key]

    return get


def method_gpus(wildcards):
    return 1 if METHODS[wildcards.method].resources["gpu"] == "required" else 0


def model_dir(wildcards):
    return f"{RUN}/models/{wildcards.experiment}/{wildcards.method}/{wildcards.variant}/seed{wildcards.seed}"


def used_model_dir(wildcards):
    """The model a reconstruction uses: its own experiment's, or the identical one trained earlier."""
    key = (wildcards.experiment, wildcards.method, wildcards.variant, int(wildcards.seed))
    owner = MODEL_OWNERS.get(key, wildcards.experiment)
    return f"{RUN}/models/{owner}/{wildcards.method}/{wildcards.variant}/seed{wildcards.seed}"


def reconstruct_inputs(wildcards):
    files = {"test_y": f"{RUN}/measurements/{wildcards.experiment}/test_y.npy"}
    if METHODS[wildcards.method].trains:
        files["model"] = f"{used_model_dir(wildcards)}/model.pt"
    return files


def reconstruct_model_arg(wildcards):
    return ["--model", used_model_dir(wildcards)] if METHODS[wildcards.method].trains else []


def experiment_jobs(experiment):
    return [j for j in JOBS if j.experiment == experiment]


def experiment_metric_files(wildcards):
    return [
        f"{RUN}/metrics/{j.experiment}/{j.method}/{j.variant}/seed{j.seed}.csv"
        for j in experiment_jobs(wildcards.experiment)
    ]


def figure_jobs(experiment):
    first = CFG["seeds"][0]
    return [j for j in experiment_jobs(experiment) if j.seed == first]


def figure_inputs(wildcards):
    return [
        f"{RUN}/reconstructions/{j.experiment}/{j.method}/{j.variant}/seed{j.seed}.npz"
        for j in figure_jobs(wildcards.experiment)
    ]


def figure_labels(wildcards):
    return [METHODS[j.method].variant_label(j.variant) for j in figure_jobs(wildcards.experiment)]


def final_outputs():
    out = []
    for name in CFG["experiments"]:
        out += [f"{RUN}/tables/{name}.{ext}" for ext in ("csv", "md", "tex")]
        out.append(f"{RUN}/figures/{name}_examples.png")
    return out
