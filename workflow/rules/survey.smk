# Survey experiments (config section `surveys:`): the declipping survey's protocol on whole signals.
#   survey_fetch -> survey_measure (per signal) -> survey_reconstruct (per method variant and signal)
#   -> survey_table. Code: declipbench/survey.py; data sets: datasets/sqam.py; helpers: survey_common.smk.


rule survey_fetch:
    output:
        f"{RUN}/surveys/{{survey}}/signals.json",
    params:
        module=lambda wc: survey_dataset(wc)["module"],
        dataset_params=lambda wc: json.dumps(survey_dataset(wc).get("params", {}), sort_keys=True),
        data_dir=CFG["data_dir"],
    log:
        f"{RUN}/logs/survey_fetch/{{survey}}.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-fetch --module {params.module:q} --params {params.dataset_params:q}"
        " --data-dir {params.data_dir:q} --out {output:q} 2> {log:q}"


rule survey_measure:
    input:
        f"{RUN}/surveys/{{survey}}/signals.json",
    output:
        f"{RUN}/surveys/{{survey}}/measurements/{{signal}}.npz",
    params:
        module=lambda wc: survey_dataset(wc)["module"],
        dataset_params=lambda wc: json.dumps(survey_dataset(wc).get("params", {}), sort_keys=True),
        input_sdrs=lambda wc: [str(v) for v in CFG["surveys"][wc.survey]["input_sdrs"]],
        data_dir=CFG["data_dir"],
    log:
        f"{RUN}/logs/survey_measure/{{survey}}/{{signal}}.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench survey-measure --module {params.module:q} --params {params.dataset_params:q}"
        " --signal {wildcards.signal:q} --input-sdrs {params.input_sdrs:q} --data-dir {params.data_dir:q}"
        " --out {output:q} 2> {log:q}"


rule survey_reconstruct:
    input:
        f"{RUN}/surveys/{{survey}}/measurements/{{signal}}.npz",
    output:
        f"{RUN}/surveys/{{survey}}/reconstructions/{{method}}/{{variant}}/{{signal}}.npz",
    params:
        spec=survey_spec_arg,
    log:
        f"{RUN}/logs/survey_reconstruct/{{survey}}/{{method}}/{{variant}}/{{signal}}.log",
    benchmark:
        f"{RUN}/benchmarks/survey_reconstruct/{{survey}}/{{method}}/{{variant}}/{{signal}}.tsv"
    threads: lambda wc: job_threads(CFG, wc.method)
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
        lambda wc: survey_reconstructions(wc.survey),
    output:
        csv=f"{RUN}/tables/{{survey}}.csv",
        md=f"{RUN}/tables/{{survey}}.md",
        tex=f"{RUN}/tables/{{survey}}.tex",
    params:
        survey=lambda wc: json.dumps(CFG["surveys"][wc.survey], sort_keys=True),
        specs=lambda wc: json.dumps([survey_spec(CFG, s, m, v) for s, m, v in SURVEY_JOBS if s == wc.survey]),
        measurements=lambda wc: f"{RUN}/surveys/{wc.survey}/measurements",
        prefix=lambda wc: f"{RUN}/tables/{wc.survey}",
    log:
        f"{RUN}/logs/survey_table/{{survey}}.log",
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench survey-table --survey {params.survey:q} --specs {params.specs:q}"
        " --measurements {params.measurements:q} --prefix {params.prefix:q} {input:q} > {log:q} 2>&1"
