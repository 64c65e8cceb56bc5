# Evaluate: per-item metrics of each reconstruction, in one tidy CSV per job.


rule evaluate:
    input:
        reconstruction=PATHS.reconstruction("{measured}", "{method}", "{variant}", "{seed}"),
        measurements=lambda wc: PATHS.measurement_files(wc.measured, splits=["test"]),
    output:
        PATHS.item_metrics("{measured}", "{method}", "{variant}", "{seed}"),
    params:
        spec=spec,
        dataset=lambda wc: measured_dataset(CFG, wc.measured),
        measurements=lambda wc: PATHS.measurements(wc.measured),
        metrics=exp_setting("metrics"),
    log:
        PATHS.log("evaluate", "{measured}", "{method}", "{variant}", "seed{seed}"),
    benchmark:
        PATHS.benchmark("evaluate", "{measured}", "{method}", "{variant}", "seed{seed}")
    conda:
        "../envs/eval.yaml"
    shell:
        "python -m declipbench evaluate --spec {params.spec:q} --dataset {params.dataset:q}"
        " --measurements {params.measurements:q} --reconstruction {input.reconstruction:q}"
        " --metrics {params.metrics:q} --out {output:q} 2> {log:q}"
