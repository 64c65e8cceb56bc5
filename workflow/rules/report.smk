# Report: one table (CSV, Markdown, LaTeX) and one example figure per experiment.


rule table:
    input:
        experiment_metric_files,
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
