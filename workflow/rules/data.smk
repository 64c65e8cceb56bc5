# Data: prepare each dataset once per run, then clip it for each experiment (and each extra test set).


rule prepare_dataset:
    output:
        data=PATHS.data_files("{dataset}"),
        manifest=Paths.manifest(PATHS.data("{dataset}")),
    wildcard_constraints:
        dataset=one_of(sorted(set(CFG["datasets"]) - set(IMAGE_DATASETS) - set(SURVEY_DATASETS))),
    params:
        job=lambda wc, output: job(module=CFG["datasets"][wc.dataset]["module"], params=CFG["datasets"][wc.dataset]["params"],
                                   data_dir=CFG["data_dir"], out=os.path.dirname(output.manifest)),
    log:
        PATHS.log("prepare_dataset", "{dataset}"),
    benchmark:
        PATHS.benchmark("prepare_dataset", "{dataset}")
    priority: 10  # the trainings wait on it (rule train)
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench prepare --job {params.job:q} 2> {log:q}"


# Images (Table 4): the same step, which also writes the virtual camera of every item; measure reads it.
use rule prepare_dataset as prepare_image_dataset with:
    output:
        data=PATHS.data_files("{dataset}", image=True),
        manifest=Paths.manifest(PATHS.data("{dataset}")),
    wildcard_constraints:
        dataset=one_of(IMAGE_DATASETS),


# A survey's data set (whole signals, surveys:): the same step verifies (downloads what is missing of) its
# signals and lists them in its manifest; measure reads each signal from there.
use rule prepare_dataset as prepare_signals with:
    output:
        manifest=Paths.manifest(PATHS.data("{dataset}")),
    wildcard_constraints:
        dataset=one_of(SURVEY_DATASETS),


# One rule for an experiment's dataset and for its extra test sets (`test_sets`, Table 2's speech): both
# are clipped at the experiment's tau with its settings.
rule measure:
    input:
        lambda wc: PATHS.data_files(
            measured_dataset(CFG, wc.measured), image=measured_dataset(CFG, wc.measured) in IMAGE_DATASETS
        ),
    output:
        files=PATHS.measurement_files("{measured}"),
        manifest=Paths.manifest(PATHS.measurements("{measured}")),
    params:
        step="measure",
        # an experiment trains, monitors and tests on its dataset; an extra test set is only tested on
        job=lambda wc, input, output: job(
            data=os.path.dirname(input[0]), tau=exp_setting("tau")(wc), modality=exp_setting("modality")(wc),
            keep_unclipped=not exp_setting("drop_unclipped")(wc), max_items=exp_setting("max_items")(wc),
            required_splits=["test"] if Paths.split_measured(wc.measured)[1] else ["train", "val", "test"],
            out=os.path.dirname(output.manifest)),
    wildcard_constraints:
        measured=one_of(MEASURED),
    log:
        PATHS.log("measure", "{measured}"),
    priority: 10  # the trainings wait on it (rule train)
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench {params.step} --job {params.job:q} 2> {log:q}"


# A survey's signal (surveys:, its protocol the input SDRs): the measure rule with the step measure-signal,
# which clips the whole signal at each input SDR: a test split of one case per level with each case's
# threshold (declipbench.pipeline.survey).
use rule measure as measure_signal with:
    input:
        lambda wc: Paths.manifest(PATHS.data(measured_dataset(CFG, wc.measured))),
    output:
        files=PATHS.signal_measurement_files("{measured}"),
        manifest=Paths.manifest(PATHS.measurements("{measured}")),
    params:
        step="measure-signal",
        job=lambda wc, output: job(**signal_job(wc), out=os.path.dirname(output.manifest)),
    wildcard_constraints:
        measured=one_of(SURVEY_MEASURED),
