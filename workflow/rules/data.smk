# Data: prepare each dataset once per run, then clip it for each experiment.


rule prepare_dataset:
    output:
        data=[f"{RUN}/data/{{dataset}}/{s}.npy" for s in SPLITS],
        manifest=f"{RUN}/data/{{dataset}}/manifest.json",
    wildcard_constraints:
        dataset=one_of(sorted(set(CFG["datasets"]) - set(IMAGE_DATASETS))),
    params:
        module=lambda wc: CFG["datasets"][wc.dataset]["module"],
        dataset_params=lambda wc: json.dumps(CFG["datasets"][wc.dataset]["params"], sort_keys=True),
        data_dir=CFG["data_dir"],
        out=lambda wc, output: os.path.dirname(output.manifest),
    log:
        f"{RUN}/logs/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{RUN}/benchmarks/prepare_dataset/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench prepare --module {params.module:q} --params {params.dataset_params:q}"
        " --data-dir {params.data_dir:q} --out {params.out:q} 2> {log:q}"


# Images (Table 4): the same step, which also writes the virtual camera of every item; measure reads it.
use rule prepare_dataset as prepare_image_dataset with:
    output:
        data=[f"{RUN}/data/{{dataset}}/{s}.npy" for s in SPLITS],
        camera=[f"{RUN}/data/{{dataset}}/{s}_camera.npy" for s in SPLITS],
        manifest=f"{RUN}/data/{{dataset}}/manifest.json",
    wildcard_constraints:
        dataset=one_of(IMAGE_DATASETS),


rule measure:
    input:
        dataset_files,
    output:
        files=[f"{RUN}/measurements/{{experiment}}/{s}_{a}.npy" for s in SPLITS for a in ("x", "y", "ids")],
        manifest=f"{RUN}/measurements/{{experiment}}/manifest.json",
    params:
        data=lambda wc, input: os.path.dirname(input[0]),
        tau=lambda wc: CFG["experiments"][wc.experiment]["tau"],
        keep=lambda wc: [] if CFG["experiments"][wc.experiment]["drop_unclipped"] else ["--keep-unclipped"],
        max_items=lambda wc: json.dumps(CFG["experiments"][wc.experiment]["max_items"], sort_keys=True),
        out=lambda wc, output: os.path.dirname(output.manifest),
    log:
        f"{RUN}/logs/measure/{{experiment}}.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench measure --data {params.data:q} --tau {params.tau} {params.keep:q}"
        " --max-items {params.max_items:q} --out {params.out:q} 2> {log:q}"


# Extra test sets of an experiment (`test_sets`, Table 2): their splits clipped at the experiment's tau.
from declipbench.config import experiment_test_sets


rule measure_test_set:
    input:
        lambda wc: [f"{RUN}/data/{wc.testset}/{s}.npy" for s in SPLITS],
    output:
        files=[
            f"{RUN}/measurements/{{experiment}}/test_sets/{{testset}}/{s}_{a}.npy"
            for s in SPLITS
            for a in ("x", "y", "ids")
        ],
        manifest=f"{RUN}/measurements/{{experiment}}/test_sets/{{testset}}/manifest.json",
    wildcard_constraints:
        testset="[a-z][a-z0-9_]*",
    params:
        data=lambda wc, input: os.path.dirname(input[0]),
        tau=lambda wc: CFG["experiments"][wc.experiment]["tau"],
        keep=lambda wc: [] if CFG["experiments"][wc.experiment]["drop_unclipped"] else ["--keep-unclipped"],
        max_items=lambda wc: json.dumps(CFG["experiments"][wc.experiment]["max_items"], sort_keys=True),
        out=lambda wc, output: os.path.dirname(output.manifest),
    log:
        f"{RUN}/logs/measure/{{experiment}}/test_sets/{{testset}}.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench measure --data {params.data:q} --tau {params.tau} {params.keep:q}"
        " --max-items {params.max_items:q} --out {params.out:q} 2> {log:q}"
