# Shared helpers: the validated config, the job plan, wildcard constraints. Every path comes from
# declipbench.foundation.paths.Paths (PATHS), the one place result paths are built.
import json
import os
import re
import shlex
import sys

from snakemake.logging import logger

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
    SURVEY_METRICS,
    survey_dataset,
    survey_jobs,
    survey_measured,
    survey_signals,
    survey_spec,
    validate_config,
)
from declipbench.foundation.paths import THRESHOLDS, Paths
from declipbench.pipeline.figures import RunView, figure_spec, load_figure
from declipbench.pipeline.plugins import load_dataset
from declipbench.report.formatting import rst_escape

CONFIG_SOURCE = ", ".join(str(f) for f in workflow.overwrite_configfiles) or "config/config.yaml"
try:
    # Snakemake's own YAML reading keeps the last of two equal keys silently: each config file is read again
    # here with duplicates refused (declipbench.foundation.schema.load_yaml names the file, key and lines)
    from declipbench.foundation.schema import load_yaml

    for _f in workflow.overwrite_configfiles or [os.path.join(workflow.basedir, "config", "config.yaml")]:
        load_yaml(_f)
    CFG = validate_config(config, CONFIG_SOURCE)
except (ConfigError, ValueError) as exc:
    raise WorkflowError(str(exc)) from None
# the validated config, defaults filled in, is also what report captions see (workflow/report/*.rst)
config.update(CFG)

# what figures and report steps may ask of the run (declipbench.pipeline.figures.RunView): the path registry,
# the job plan, the model owners (a job whose training equals an earlier experiment's uses that model,
# declipbench.pipeline.config.model_owners), the methods' declarations; built once, used by every rule
RUN = RunView(CFG)
PATHS = RUN.paths
JOBS = RUN.plan
MODEL_OWNERS = RUN.owners
METHODS = RUN.methods
# what one measure job makes: an experiment's dataset, or one of its extra test sets (Table 2's speech)
MEASURED = measured_sets(CFG)
TABLES = [Paths.table_name(m) for m in MEASURED]
# the report's pages: an audio table has pages of clips to listen to, an image table its figure
AUDIO_TABLES = [t for t in TABLES if CFG["experiments"][Paths.split_measured(Paths.measured_of_table(t))[0]]["modality"] == "audio"]
IMAGE_TABLES = [t for t in TABLES if t not in AUDIO_TABLES]
LISTEN_PAGES = range(CFG["report"]["listen_items"])
# the surveys (surveys:): experiments whose protocol is a set of input SDRs, one measured set per whole signal
# (declipbench.pipeline.survey), through the same rules; each has its table
SURVEY_JOBS = survey_jobs(CFG)
SURVEY_SIGNALS = {name: survey_signals(CFG, name) for name in CFG["surveys"]}
SURVEY_MEASURED = survey_measured(CFG)
SURVEY_DATASETS = sorted(
    name for name, ds in CFG["datasets"].items() if getattr(load_dataset(ds["module"]), "KIND", None) == "survey"
)
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
    measured=one_of(MEASURED + SURVEY_MEASURED),
    table=one_of(TABLES + list(CFG["surveys"])),
    audio_table=one_of(AUDIO_TABLES),
    image_table=one_of(IMAGE_TABLES),
    method=one_of(sorted(METHODS)),
    variant="[A-Za-z0-9_@=,.+-]+",
    seed="[0-9]+",


def experiment_of(wildcards):
    """The experiment of a job: its own wildcard, or that of its measured set."""
    if hasattr(wildcards, "experiment"):
        return wildcards.experiment
    return Paths.split_measured(wildcards.measured)[0]


def exp_setting(key):
    return lambda wildcards: CFG["experiments"][experiment_of(wildcards)][key]


def spec(wildcards):
    signal = Paths.split_signal(getattr(wildcards, "measured", ""))
    if signal is not None:  # a survey's signal
        return survey_spec(CFG, signal[0], wildcards.method, wildcards.variant)
    return job_spec(CFG, experiment_of(wildcards), wildcards.method, wildcards.variant, int(wildcards.seed))


def measured_metrics(wildcards):
    """The metrics of a measured set's table: its experiment's, or a survey's SDR and Delta-SDR."""
    if Paths.split_signal(wildcards.measured) is not None:
        return SURVEY_METRICS
    return exp_setting("metrics")(wildcards)


def signal_job(wildcards):
    """What the measure step needs of a survey's signal: the data set, the signal and the input SDRs."""
    survey, signal = Paths.split_signal(wildcards.measured)
    ds = survey_dataset(CFG, survey)
    return {"module": ds["module"], "params": ds["params"], "signal": signal,
            "input_sdrs": CFG["surveys"][survey]["input_sdrs"], "data_dir": CFG["data_dir"]}


def job(**params):
    """A step's parameters as the one JSON object its command takes (``--job``; declipbench.jobs)."""
    return json.dumps(params, sort_keys=True)


def method_env(wildcards):
    # conda: paths are relative to this file's folder, workflow/rules/
    return os.path.relpath(METHODS[wildcards.method].env_file, os.path.join(workflow.basedir, "workflow", "rules"))


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
    return RUN.all_jobs(experiment)


def survey_cases(survey):
    """A survey's jobs in table order, per signal: each job's files (declipbench.pipeline.survey.case_rows)."""
    seed = CFG["seeds"][0]
    return [{"method": m, "variant": v, "signal": sig, "metrics": PATHS.item_metrics(meas, m, v, seed),
             "reconstruction": PATHS.reconstruction(meas, m, v, seed), "measurements": PATHS.measurements(meas)}
            for s, m, v in SURVEY_JOBS if s == survey
            for sig in SURVEY_SIGNALS[s] for meas in [Paths.signal_measured(s, sig)]]


def table_inputs(wildcards):
    if wildcards.table in CFG["surveys"]:
        cases = survey_cases(wildcards.table)
        return [c["metrics"] for c in cases] + [c["reconstruction"] for c in cases]
    measured = Paths.measured_of_table(wildcards.table)
    experiment, test_set = Paths.split_measured(measured)
    files = [PATHS.item_metrics(measured, j.method, j.variant, j.seed) for j in experiment_jobs(experiment)]
    if test_set is None:  # an experiment's extra test sets (Table 2) are tabulated with its own table
        files += [PATHS.table(Paths.table_name(Paths.measured(experiment, ts)), "md") for ts in experiment_test_sets(CFG, experiment)]
    return files


def table_experiment(wildcards):
    return Paths.split_measured(Paths.measured_of_table(wildcards.table))[0]


def table_job(wildcards, input, output):
    """The job of a table: its records, metrics, title and reference row; a survey's, its cases."""
    common = dict(all_metrics=output.metrics, prefix=PATHS.table_prefix(wildcards.table),
                  inputs=[f for f in input if f.endswith(".csv")])
    if wildcards.table in CFG["surveys"]:
        return job(metrics=SURVEY_METRICS, survey={"config": CFG["surveys"][wildcards.table],
                                                   "module": survey_dataset(CFG, wildcards.table)["module"],
                                                   "cases": survey_cases(wildcards.table)}, **common)
    exp = CFG["experiments"][table_experiment(wildcards)]
    return job(metrics=exp["metrics"], title=table_title_of(wildcards.table), reference=exp.get("reference", ""),
               **common)


def table_title_of(table):
    return RUN.table_title(table)


def figure_jobs(experiment):
    return RUN.jobs(experiment)


def listen_inputs(wildcards):
    """What an audio table's listening pages play: each method's first-seed reconstruction with its per-item
    metrics, and the test measurements."""
    measured = Paths.measured_of_table(wildcards.audio_table)
    jobs = figure_jobs(Paths.split_measured(measured)[0])
    return {"md": PATHS.table(wildcards.audio_table, "md"),
            "reconstructions": [PATHS.reconstruction(measured, j.method, j.variant, j.seed) for j in jobs],
            "metrics": [PATHS.item_metrics(measured, j.method, j.variant, j.seed) for j in jobs],
            "measurements": PATHS.measurement_files(measured, splits=("test",))}


def listen_job(wildcards, input, output):
    """The job of an audio table's pages: the table's page and one page per test item to listen to."""
    experiment = Paths.split_measured(Paths.measured_of_table(wildcards.audio_table))[0]
    exp = CFG["experiments"][experiment]
    labels = [METHODS[j.method].variant_label(j.variant) for j in figure_jobs(experiment)]
    return job(table_md=input.md, title=table_title_of(wildcards.audio_table), out=output.page,
               listen_pages=list(output.listen), measurements=PATHS.measurements(Paths.measured_of_table(wildcards.audio_table)),
               sample_rate=exp["sample_rate"], tau=exp["tau"], labels=labels, reconstructions=list(input.reconstructions),
               item_metrics=list(input.metrics))


#: the configured figures: key -> its module figures/<key>.py (declipbench.pipeline.figures), and what they may ask
#: of the run (RUN, above)
FIGURES = {key: load_figure(key) for key in CFG["figures"]}


def input_sdr_model(wildcards):
    """The model a method of the input-SDR figure uses (its experiment's, or its owner's), if it trains."""
    return RUN.model_dir(CFG["figures"]["input_sdr"]["experiment"], wildcards.method, wildcards.variant)


def final_outputs():
    out = [f for table in TABLES for f in PATHS.tables(table)]
    out += [PATHS.paper_figure(stem, ext) for fig in FIGURES.values() for stem in fig.OUTPUTS for ext in ("png", "csv")]
    out += [PATHS.table_page(table) for table in TABLES]
    out += [PATHS.listen_page(table, k) for table in AUDIO_TABLES for k in LISTEN_PAGES]
    return out + [PATHS.figure(name) for name in CFG["experiments"]]


def survey_outputs():
    return [f for name in CFG["surveys"] for f in PATHS.tables(name)]


def write_incomplete_tables():
    """After a run with --keep-going that had failures (declipbench.report.incomplete)."""
    from declipbench.report.incomplete import write_incomplete_tables as write

    for table, failed in write(RUN, TABLES):
        logger.warning(f"{PATHS.table(table, 'md')}: written without {len(failed)} failed method(s) "
                       f"({', '.join(f['label'] for f in failed)}), marked incomplete")


# Every input of the run from outside the repository (declipbench.foundation.inputs; `python -m declipbench
# check-data --configfile ...` prints the same list): checked when the workflow starts, dry runs included,
# so a missing manual step (an archive without a published checksum, weights placed by hand) is named in
# seconds, not when its job runs hours later. Only the main process checks (not each job on a cluster).
if workflow.is_main_process:
    from declipbench.pipeline.data_check import run_inputs
    from declipbench.foundation.inputs import missing_manual, summary

    _INPUTS = run_inputs(CFG)
    if missing_manual(_INPUTS):
        logger.warning(f"Inputs of {CONFIG_SOURCE}: {len(missing_manual(_INPUTS))} manual step(s) missing; the "
                       f"jobs that read them will fail until they are done:\n{summary(_INPUTS)}")


# One run writes its results folder at a time (declipbench.pipeline.run_lock): taken when the run starts
# executing (never for a dry run), held by the open file kept here, released when this process ends.
RUN_LOCK = []


onstart:
    if workflow.is_main_process:  # never in a cluster job's own Snakemake
        from declipbench.pipeline.run_lock import RunLocked, acquire

        try:
            RUN_LOCK.append(acquire(PATHS.root))
        except RunLocked as exc:
            raise WorkflowError(str(exc)) from None
