# Survey experiments (config section `surveys:`): the declipping survey's protocol on whole signals.
#   survey_fetch -> survey_measure (per signal) -> survey_reconstruct (per method variant and signal)
#   -> survey_table. Code: declipbench/pipeline/survey.py; data sets: datasets/sqam.py.


rule survey_fetch:
    output:
        PATHS.survey_signals("{survey}"),
    params:
        job=lambda wc, output: job(module=survey_dataset(wc)["module"], params=survey_dataset(wc)["params"],
                                   data_dir=CFG["data_dir"], out=output[0]),
    log:
        PATHS.log("survey_fetch", "{survey}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-fetch --job {params.job:q} 2> {log:q}"


rule survey_measure:
    input:
        PATHS.survey_signals("{survey}"),
    output:
        PATHS.survey_measurement("{survey}", "{signal}"),
    params:
        job=lambda wc, output: job(module=survey_dataset(wc)["module"], params=survey_dataset(wc)["params"],
                                   signal=wc.signal, input_sdrs=CFG["surveys"][wc.survey]["input_sdrs"],
                                   data_dir=CFG["data_dir"], out=output[0]),
    log:
        PATHS.log("survey_measure", "{survey}", "{signal}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-measure --job {params.job:q} 2> {log:q}"


rule survey_reconstruct:
    input:
        PATHS.survey_measurement("{survey}", "{signal}"),
    output:
        PATHS.survey_reconstruction("{survey}", "{method}", "{variant}", "{signal}"),
    params:
        job=lambda wc, input, output: job(spec=survey_spec(CFG, wc.survey, wc.method, wc.variant),
                                          measurements=input[0], out=output[0]),
    log:
        PATHS.log("survey_reconstruct", "{survey}", "{method}", "{variant}", "{signal}"),
    benchmark:
        PATHS.benchmark("survey_reconstruct", "{survey}", "{method}", "{variant}", "{signal}")
    threads: method_threads
    resources:
        mem_mb=method_resource("mem_mb"),
        runtime=method_resource("runtime_min"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench survey-reconstruct --job {params.job:q} --time-limit-min {resources.runtime}"
        " 2> {log:q}"


rule survey_table:
    input:
        lambda wc: [
            PATHS.survey_reconstruction(s, m, v, sig)
            for s, m, v in SURVEY_JOBS
            if s == wc.survey
            for sig in SURVEY_SIGNALS[s]
        ],
    output:
        csv=PATHS.table("{survey}", "csv"),
        md=PATHS.table("{survey}", "md"),
        tex=PATHS.table("{survey}", "tex"),
    params:
        job=lambda wc, input: job(survey=CFG["surveys"][wc.survey],
                                  specs=[survey_spec(CFG, s, m, v) for s, m, v in SURVEY_JOBS if s == wc.survey],
                                  measurements=PATHS.survey_measurements(wc.survey), prefix=PATHS.table_prefix(wc.survey),
                                  inputs=list(input)),
    log:
        PATHS.log("survey_table", "{survey}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench survey-table --job {params.job:q} > {log:q} 2>&1"
