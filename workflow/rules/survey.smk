# Survey experiments (config section `surveys:`): the declipping survey's protocol on whole signals.
#   survey_fetch -> survey_measure (per signal) -> survey_reconstruct (per method variant and signal)
#   -> survey_table. Code: declipbench/pipeline/survey.py; data sets: datasets/sqam.py.


rule survey_fetch:
    output:
        PATHS.survey_signals("{survey}"),
    params:
        module=lambda wc: survey_dataset(wc)["module"],
        dataset_params=lambda wc: json.dumps(survey_dataset(wc)["params"], sort_keys=True),
        data_dir=CFG["data_dir"],
    log:
        PATHS.log("survey_fetch", "{survey}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-fetch --module {params.module:q} --params {params.dataset_params:q}"
        " --data-dir {params.data_dir:q} --out {output:q} 2> {log:q}"


rule survey_measure:
    input:
        PATHS.survey_signals("{survey}"),
    output:
        PATHS.survey_measurement("{survey}", "{signal}"),
    params:
        module=lambda wc: survey_dataset(wc)["module"],
        dataset_params=lambda wc: json.dumps(survey_dataset(wc)["params"], sort_keys=True),
        input_sdrs=lambda wc: [str(v) for v in CFG["surveys"][wc.survey]["input_sdrs"]],
        data_dir=CFG["data_dir"],
    log:
        PATHS.log("survey_measure", "{survey}", "{signal}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-measure --module {params.module:q} --params {params.dataset_params:q}"
        " --signal {wildcards.signal:q} --input-sdrs {params.input_sdrs:q} --data-dir {params.data_dir:q}"
        " --out {output:q} 2> {log:q}"


rule survey_reconstruct:
    input:
        PATHS.survey_measurement("{survey}", "{signal}"),
    output:
        PATHS.survey_reconstruction("{survey}", "{method}", "{variant}", "{signal}"),
    params:
        spec=lambda wc: spec_json(survey_spec(CFG, wc.survey, wc.method, wc.variant)),
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
        "python -m declipbench survey-reconstruct --spec {params.spec:q} --measurements {input:q}"
        " --out {output:q} 2> {log:q}"


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
        survey=lambda wc: json.dumps(CFG["surveys"][wc.survey], sort_keys=True),
        specs=lambda wc: json.dumps([survey_spec(CFG, s, m, v) for s, m, v in SURVEY_JOBS if s == wc.survey]),
        measurements=lambda wc: os.path.dirname(PATHS.survey_measurement(wc.survey, "x")),
        prefix=lambda wc, output: output.md[: -len(".md")],
    log:
        PATHS.log("survey_table", "{survey}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench survey-table --survey {params.survey:q} --specs {params.specs:q}"
        " --measurements {params.measurements:q} --prefix {params.prefix:q} {input:q} > {log:q} 2>&1"
