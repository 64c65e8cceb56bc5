# Evaluate: per-item metrics of each reconstruction, in one tidy CSV per job.


rule evaluate:
    input:
        reconstruction=f"{RUN}/reconstructions/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.npz",
        measurements=lambda wc: measurement_files(wc.experiment),
    output:
        f"{RUN}/metrics/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.csv",
    params:
        spec=spec,
        dataset=experiment_dataset,
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}",
        metrics=lambda wc: CFG["experiments"][wc.experiment]["metrics"],
    log:
        f"{RUN}/logs/evaluate/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/evaluate/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    conda:
        "../envs/eval.yaml"
    shell:
        "python -m declipbench evaluate --spec {params.spec:q} --dataset {params.dataset:q}"
        " --measurements {params.measurements:q} --reconstruction {input.reconstruction:q}"
        " --metrics {params.metrics:q} --out {output:q} 2> {log:q}"


# Extra test sets (`test_sets`, Table 2): metrics of the reconstructions of another dataset's test split.
rule evaluate_test_set:
    input:
        reconstruction=f"{RUN}/reconstructions/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.npz",
        measurements=lambda wc: [
            f"{RUN}/measurements/{wc.experiment}/test_sets/{wc.testset}/{s}_{a}.npy"
            for s in SPLITS
            for a in ("x", "y", "ids")
        ],
    output:
        f"{RUN}/metrics/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.csv",
    wildcard_constraints:
        testset="[a-z][a-z0-9_]*",
    params:
        spec=spec,
        dataset=lambda wc: wc.testset,
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}/test_sets/{wc.testset}",
        metrics=lambda wc: CFG["experiments"][wc.experiment]["metrics"],
    log:
        f"{RUN}/logs/evaluate/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/evaluate/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    conda:
        "../envs/eval.yaml"
    shell:
        "python -m declipbench evaluate --spec {params.spec:q} --dataset {params.dataset:q}"
        " --measurements {params.measurements:q} --reconstruction {input.reconstruction:q}"
        " --metrics {params.metrics:q} --out {output:q} 2> {log:q}"
