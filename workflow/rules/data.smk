# Data: prepare each dataset once per run, then clip it for each experiment (and each extra test set).


rule prepare_dataset:
    output:
        data=PATHS.data_files("{dataset}"),
        manifest=f"{PATHS.data('{dataset}')}/manifest.json",
    wildcard_constraints:
        dataset=one_of(sorted(set(CFG["datasets"]) - set(IMAGE_DATASETS))),
    params:
        module=lambda wc: CFG["datasets"][wc.dataset]["module"],
        dataset_params=lambda wc: json.dumps(CFG["datasets"][wc.dataset]["params"], sort_keys=True),
        data_dir=CFG["data_dir"],
        out=lambda wc, output: os.path.dirname(output.manifest),
    log:
        PATHS.log("prepare_dataset", "{dataset}"),
    benchmark:
        PATHS.benchmark("prepare_dataset", "{dataset}")
    priority: 10  # the trainings wait on it (rule train)
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench prepare --module {params.module:q} --params {params.dataset_params:q}"
        " --data-dir {params.data_dir:q} --out {params.out:q} 2> {log:q}"


# Images (Table 4): the same step, which also writes the virtual camera of every item; measure reads it.
use rule prepare_dataset as prepare_image_dataset with:
    output:
        data=PATHS.data_files("{dataset}", image=True),
        manifest=f"{PATHS.data('{dataset}')}/manifest.json",
    wildcard_constraints:
        dataset=one_of(IMAGE_DATASETS),


# One rule for an experiment's dataset and for its extra test sets (`test_sets`, Table 2's speech): both
# are clipped at the experiment's tau with its settings.
rule measure:
    input:
        lambda wc: PATHS.data_files(
            measured_dataset(CFG, wc.measured), image=measured_dataset(CFG, wc.measured) in IMAGE_DATASETS
        ),
    output:
        files=PATHS.measurement_files("{measured}"),
        manifest=f"{PATHS.measurements('{measured}')}/manifest.json",
    params:
        data=lambda wc, input: os.path.dirname(input[0]),
        tau=exp_setting("tau"),
        modality=exp_setting("modality"),
        keep=lambda wc: [] if exp_setting("drop_unclipped")(wc) else ["--keep-unclipped"],
        max_items=lambda wc: json.dumps(exp_setting("max_items")(wc), sort_keys=True),
        # an experiment trains, monitors and tests on its dataset; an extra test set is only tested on
        required=lambda wc: ["test"] if Paths.split_measured(wc.measured)[1] else ["train", "val", "test"],
        out=lambda wc, output: os.path.dirname(output.manifest),
    log:
        PATHS.log("measure", "{measured}"),
    priority: 10  # the trainings wait on it (rule train)
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench measure --data {params.data:q} --tau {params.tau} --modality {params.modality}"
        " {params.keep:q} --max-items {params.max_items:q} --required-splits {params.required}"
        " --out {params.out:q} 2> {log:q}"
