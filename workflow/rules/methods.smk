# Methods: train (methods that declare trains: true), then reconstruct the test measurements.
# Each method's env and resources come from its declaration methods/<name>/method.yaml; its threads are
# the config's `threads` capped by the declaration (declipbench.config.job_threads).


from declipbench.config import extra_train_measurements


rule train:
    input:
        # plus, for Table 2's SSL (train_on_test_measurements), the test measurements of the test sets
        lambda wc: measurement_files(wc.experiment)
        + [f"{d}/test_y.npy" for d in extra_train_measurements(CFG, wc.experiment, wc.method)[1:]],
    output:
        model=f"{RUN}/models/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}/model.pt",
    params:
        spec=spec,
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}",
        out=model_dir,
    log:
        f"{RUN}/logs/train/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/train/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda wc: job_threads(CFG, wc.method)
    resources:
        mem_mb=method_resource("mem_mb"),
        runtime=method_resource("runtime_min"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench train --spec {params.spec:q} --measurements {params.measurements:q}"
        " --out {params.out:q} 2> {log:q}"


rule reconstruct:
    input:
        unpack(reconstruct_inputs),
    output:
        f"{RUN}/reconstructions/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.npz",
    params:
        spec=spec,
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}",
        model=reconstruct_model_arg,
    log:
        f"{RUN}/logs/reconstruct/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/reconstruct/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda wc: job_threads(CFG, wc.method)
    resources:
        mem_mb=method_resource("mem_mb"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench reconstruct --spec {params.spec:q} --measurements {params.measurements:q}"
        " {params.model:q} --out {output:q} 2> {log:q}"


# Extra test sets (`test_sets`, Table 2): the same trained model reconstructs another dataset's test split.
rule reconstruct_test_set:
    input:
        test_y=f"{RUN}/measurements/{{experiment}}/test_sets/{{testset}}/test_y.npy",
        model=lambda wc: [f"{used_model_dir(wc)}/model.pt"] if METHODS[wc.method].trains else [],
    output:
        f"{RUN}/reconstructions/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.npz",
    wildcard_constraints:
        testset="[a-z][a-z0-9_]*",
    params:
        spec=spec,
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}/test_sets/{wc.testset}",
        model=reconstruct_model_arg,
    log:
        f"{RUN}/logs/reconstruct/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RUN}/benchmarks/reconstruct/{{experiment}}/test_sets/{{testset}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda wc: job_threads(CFG, wc.method)
    resources:
        mem_mb=method_resource("mem_mb"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench reconstruct --spec {params.spec:q} --measurements {params.measurements:q}"
        " {params.model:q} --out {output:q} 2> {log:q}"
