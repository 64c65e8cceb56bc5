# Evaluate: per-item metrics of each reconstruction, in one tidy CSV per job.


rule evaluate:
    input:
        reconstruction=PATHS.reconstruction("{measured}", "{method}", "{variant}", "{seed}"),
        measurements=lambda wc: PATHS.measurement_files(wc.measured, splits=["test"]),
    output:
        PATHS.item_metrics("{measured}", "{method}", "{variant}", "{seed}"),
    params:
        job=lambda wc, input, output: job(spec=spec(wc), dataset=measured_dataset(CFG, wc.measured),
                                          measurements=PATHS.measurements(wc.measured), reconstruction=input.reconstruction,
                                          metrics=measured_metrics(wc), out=output[0]),
    log:
        PATHS.log("evaluate", "{measured}", "{method}", "{variant}", "seed{seed}"),
    benchmark:
        PATHS.benchmark("evaluate", "{measured}", "{method}", "{variant}", "seed{seed}")
    conda:
        "../envs/eval.yaml"
    shell:
        "python -m declipbench evaluate --job {params.job:q} 2> {log:q}"
