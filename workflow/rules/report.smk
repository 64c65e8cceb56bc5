# Report: one table (CSV, Markdown, LaTeX) and one example figure per experiment.


rule table:
    input:
        metrics=experiment_metric_files,
        # an experiment's extra test sets (Table 2) get their own table, made with the main one
        test_set_tables=lambda wc: [f"{RUN}/tables/{wc.experiment}/{ts}.md" for ts in experiment_test_sets(CFG, wc.experiment)],
    output:
        csv=f"{RUN}/tables/{{experiment}}.csv",
        md=f"{RUN}/tables/{{experiment}}.md",
        tex=f"{RUN}/tables/{{experiment}}.tex",
        metrics=f"{RUN}/metrics/{{experiment}}.csv",
    params:
        metrics=lambda wc: CFG["experiments"][wc.experiment]["metrics"],
        title=lambda wc: CFG["experiments"][wc.experiment].get("title", wc.experiment),
        prefix=lambda wc: f"{RUN}/tables/{wc.experiment}",
    log:
        f"{RUN}/logs/table/{{experiment}}.log",
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench tables --metrics {params.metrics:q} --title {params.title:q}"
        " --all-metrics {output.metrics:q} --prefix {params.prefix:q} {input.metrics:q} > {log:q} 2>&1"


rule table_test_set:
    input:
        lambda wc: [
            f"{RUN}/metrics/{j.experiment}/test_sets/{wc.testset}/{j.method}/{j.variant}/seed{j.seed}.csv"
            for j in experiment_jobs(wc.experiment)
        ],
    output:
        csv=f"{RUN}/tables/{{experiment}}/{{testset}}.csv",
        md=f"{RUN}/tables/{{experiment}}/{{testset}}.md",
        tex=f"{RUN}/tables/{{experiment}}/{{testset}}.tex",
        metrics=f"{RUN}/metrics/{{experiment}}/test_sets/{{testset}}.csv",
    wildcard_constraints:
        testset="[a-z][a-z0-9_]*",
    params:
        metrics=lambda wc: CFG["experiments"][wc.experiment]["metrics"],
        title=lambda wc: f"{CFG['experiments'][wc.experiment].get('title', wc.experiment)}: test set {wc.testset}",
        prefix=lambda wc: f"{RUN}/tables/{wc.experiment}/{wc.testset}",
    log:
        f"{RUN}/logs/table/{{experiment}}/{{testset}}.log",
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench tables --metrics {params.metrics:q} --title {params.title:q}"
        " --all-metrics {output.metrics:q} --prefix {params.prefix:q} {input:q} > {log:q} 2>&1"


rule figure:
    input:
        reconstructions=figure_inputs,
        measurements=lambda wc: measurement_files(wc.experiment),
    output:
        f"{RUN}/figures/{{experiment}}_examples.png",
    params:
        measurements=lambda wc: f"{RUN}/measurements/{wc.experiment}",
        tau=lambda wc: CFG["experiments"][wc.experiment]["tau"],
        sample_rate=lambda wc: CFG["experiments"][wc.experiment]["sample_rate"],
        item=lambda wc: (
            ["--item", str(CFG["experiments"][wc.experiment]["figure"]["item"])]
            if "item" in CFG["experiments"][wc.experiment]["figure"]
            else []
        ),
        seconds=lambda wc: CFG["experiments"][wc.experiment]["figure"]["seconds"],
        title=lambda wc: CFG["experiments"][wc.experiment].get("title", wc.experiment),
        labels=figure_labels,
    log:
        f"{RUN}/logs/figure/{{experiment}}.log",
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench figure --measurements {params.measurements:q} --tau {params.tau}"
        " --sample-rate {params.sample_rate} {params.item:q} --seconds {params.seconds}"
        " --title {params.title:q} --labels {params.labels:q} --out {output:q}"
        " {input.reconstructions:q} 2> {log:q}"
