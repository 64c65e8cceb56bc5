# Methods: train (methods that declare trains: true), then reconstruct the test measurements.
# Each method's env, threads and resources come from its declaration methods/<name>/method.yaml.


rule train:
    input:
        lambda wc: measurement_files(wc.experiment),
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
    threads: lambda wc: METHODS[wc.method].resources["threads"]
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
    threads: lambda wc: METHODS[wc.method].resources["threads"]
    resources:
        mem_mb=method_resource("mem_mb"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench reconstruct --spec {params.spec:q} --measurements {params.measurements:q}"
        " {params.model:q} --out {output:q} 2> {log:q}"
