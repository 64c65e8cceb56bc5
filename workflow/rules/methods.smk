# Methods: train (methods that declare trains: true), then reconstruct the test measurements of the
# experiment's dataset and of its extra test sets with the same model. Each method's env and resources
# come from its declaration methods/<name>/method.yaml; its threads are the config's `threads` capped by
# the declaration (declipbench.pipeline.config.job_threads).


rule train:
    input:
        # plus, for Table 2's SSL (train_on_test_measurements), the test measurements of the test sets
        lambda wc: PATHS.measurement_files(wc.experiment)
        + [Paths.split_array(d, "test", "y") for d in extra_train_measurements(CFG, wc.experiment, wc.method)[1:]],
    output:
        model=Paths.model_file(PATHS.model("{experiment}", "{method}", "{variant}", "{seed}")),
    params:
        step="train",
        job=lambda wc, output: job(spec=spec(wc), measurements=PATHS.measurements(wc.experiment),
                                   out=os.path.dirname(output.model)),
    log:
        PATHS.log("train", "{experiment}", "{method}", "{variant}", "seed{seed}"),
    benchmark:
        PATHS.benchmark("train", "{experiment}", "{method}", "{variant}", "seed{seed}")
    threads: method_threads
    # the trainings are the long jobs every table waits on: among ready jobs they start first, and the
    # short ones (reconstruct, evaluate, figures) fill the cores around them
    priority: 10
    resources:
        mem_mb=method_resource("mem_mb"),
        runtime=method_resource("runtime_min"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench {params.step} --job {params.job:q} --time-limit-min {resources.runtime} 2> {log:q}"


# A method job like train (its threads, resources, env and time limit from the method's declaration): the test
# measurements of a measured set, with the model of a method that trains; a survey's signal (surveys:) also
# gives each case's threshold.
use rule train as reconstruct with:
    input:
        test_y=Paths.split_array(PATHS.measurements("{measured}"), "test", "y"),
        model=lambda wc: [Paths.model_file(used_model_dir(wc))] if METHODS[wc.method].trains else [],
        thresholds=lambda wc: [Paths.split_array(PATHS.measurements(wc.measured), "test", THRESHOLDS)]
        if Paths.split_signal(wc.measured) else [],
    output:
        PATHS.reconstruction("{measured}", "{method}", "{variant}", "{seed}"),
    params:
        step="reconstruct",
        job=lambda wc, output: job(spec=spec(wc), measurements=PATHS.measurements(wc.measured), out=output[0],
                                   model=used_model_dir(wc) if METHODS[wc.method].trains else None),
    log:
        PATHS.log("reconstruct", "{measured}", "{method}", "{variant}", "seed{seed}"),
    benchmark:
        PATHS.benchmark("reconstruct", "{measured}", "{method}", "{variant}", "seed{seed}")
    priority: 0
