# Report: one table (CSV, Markdown, LaTeX) per experiment and per extra test set, one example figure per
# experiment, and the paper's illustration figures named under figures: in the config.


# With --keep-going, a failed job does not cost the other methods their table: the tables it blocked are
# written from what finished, the failed method listed as failed (common.smk, write_incomplete_tables).
onerror:
    if workflow.execution_settings.keep_going:
        write_incomplete_tables()


rule table:
    input:
        table_inputs,
    output:
        csv=PATHS.table("{table}", "csv"),
        md=PATHS.table("{table}", "md"),
        tex=PATHS.table("{table}", "tex"),
        metrics=PATHS.table_metrics("{table}"),
    params:
        metrics=lambda wc: CFG["experiments"][table_experiment(wc)]["metrics"],
        title=table_title,
        reference=lambda wc: CFG["experiments"][table_experiment(wc)].get("reference", ""),
        prefix=lambda wc, output: output.md[: -len(".md")],
        item_metrics=lambda wc, input: [f for f in input if f.endswith(".csv")],
    log:
        PATHS.log("table", "{table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench tables --metrics {params.metrics:q} --title {params.title:q} --reference={params.reference:q}"
        " --all-metrics {output.metrics:q} --prefix {params.prefix:q} {params.item_metrics:q} > {log:q} 2>&1"


# The HTML report (`snakemake --report results/<run>/report.html`, made by `make demo`): every output marked
# report() below, with its caption from workflow/report/, one page per table (the table and clips to listen
# to, or Figure 8), the per-rule runtimes and the config.
rule table_page:
    input:
        md=PATHS.table("{image_table}", "md"),
    output:
        report(
            PATHS.table_page("{image_table}"),
            caption="../report/table_page.rst",
            category="Tables",
            # one label: with two labels, Snakemake's report takes a label with two values as a toggle
            labels=lambda wc: {"table": table_title_of(wc.image_table)},
        ),
    params:
        title=lambda wc: table_title_of(wc.image_table),
    log:
        PATHS.log("table_page", "{image_table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench table-page --table-md {input.md:q} --title {params.title:q} --out {output:q} 2> {log:q}"


rule listen_pages:
    input:
        unpack(listen_inputs),
    output:
        page=report(
            PATHS.table_page("{audio_table}"),
            caption="../report/table_page.rst",
            category="Tables",
            labels=lambda wc: {"table": table_title_of(wc.audio_table)},
        ),
        listen=[
            report(
                PATHS.listen_page("{audio_table}", k),
                caption="../report/listen_page.rst",
                category="Listen",
                labels=lambda wc, k=k: {"clips": f"{table_title_of(wc.audio_table)}: page {k + 1} of {len(LISTEN_PAGES)}"},
            )
            for k in LISTEN_PAGES
        ],
    params:
        title=lambda wc: table_title_of(wc.audio_table),
        args=listen_args,
    log:
        PATHS.log("listen_pages", "{audio_table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench table-page --table-md {input.md:q} --title {params.title:q} --out {output.page:q}"
        " --listen-pages {output.listen:q} {params.args:q} 2> {log:q}"


rule figure:
    input:
        reconstructions=lambda wc: [
            PATHS.reconstruction(j.experiment, j.method, j.variant, j.seed) for j in figure_jobs(wc.experiment)
        ],
        measurements=lambda wc: PATHS.measurement_files(wc.experiment),
    output:
        report(
            PATHS.figure("{experiment}"),
            caption="../report/examples_figure.rst",
            category="Figures",
            labels=lambda wc: {"figure": f"Example: {CFG['experiments'][wc.experiment].get('title', wc.experiment)}"},
        ),
    params:
        measurements=lambda wc: PATHS.measurements(wc.experiment),
        modality=exp_setting("modality"),
        tau=exp_setting("tau"),
        sample_rate=exp_setting("sample_rate"),
        item=lambda wc: (
            ["--item", str(CFG["experiments"][wc.experiment]["figure"]["item"])]
            if "item" in CFG["experiments"][wc.experiment]["figure"]
            else []
        ),
        seconds=lambda wc: CFG["experiments"][wc.experiment]["figure"]["seconds"],
        title=lambda wc: CFG["experiments"][wc.experiment].get("title", wc.experiment),
        labels=lambda wc: [METHODS[j.method].variant_label(j.variant) for j in figure_jobs(wc.experiment)],
    log:
        PATHS.log("figure", "{experiment}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench figure --measurements {params.measurements:q} --modality {params.modality}"
        " --tau {params.tau} --sample-rate {params.sample_rate} {params.item:q} --seconds {params.seconds}"
        " --title {params.title:q} --labels {params.labels:q} --out {output:q}"
        " {input.reconstructions:q} 2> {log:q}"


rule figure_mc_losses:
    output:
        png=report(
            PATHS.paper_figure("fig2_mc_losses"),
            caption="../report/fig2_mc_losses.rst",
            category="Figures",
            labels={"figure": "Figure 2: the MC losses"},
        ),
        csv=PATHS.paper_figure("fig2_mc_losses", "csv"),
    params:
        tau=lambda wc: CFG["figures"]["mc_losses"]["tau"],
        reliable_y=lambda wc: CFG["figures"]["mc_losses"]["reliable_y"],
        span=lambda wc: CFG["figures"]["mc_losses"]["span"],
        points=lambda wc: CFG["figures"]["mc_losses"]["points"],
    log:
        PATHS.log("figure", "fig2_mc_losses"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m declipbench figure-mc-losses --tau {params.tau} --reliable-y {params.reliable_y}"
        " --span {params.span} --points {params.points} --out {output.png:q} --csv {output.csv:q} 2> {log:q}"


rule figure_bias:
    input:
        models=lambda wc: [f"{d}/model.pt" for d in bias_models()],
        measurements=lambda wc: PATHS.measurement_files(CFG["figures"]["bias"]["experiment"], splits=("test",)),
    output:
        png=report(
            PATHS.paper_figure("fig3_bias"),
            caption="../report/fig3_bias.rst",
            category="Figures",
            labels={"figure": "Figure 3: bias-free and biased networks"},
        ),
        csv=PATHS.paper_figure("fig3_bias", "csv"),
    params:
        models=lambda wc: bias_models(),
        labels=lambda wc: [
            METHODS[CFG["figures"]["bias"]["method"]].variant_label(CFG["figures"]["bias"][k]) for k in ("bias_free", "biased")
        ],
        measurements=lambda wc: PATHS.measurements(CFG["figures"]["bias"]["experiment"]),
        tau=lambda wc: CFG["experiments"][CFG["figures"]["bias"]["experiment"]]["tau"],
        sample_rate=lambda wc: CFG["experiments"][CFG["figures"]["bias"]["experiment"]]["sample_rate"],
        levels=lambda wc: [str(v) for v in CFG["figures"]["bias"]["levels"]],
        item=lambda wc: (
            ["--item", str(CFG["figures"]["bias"]["item"])] if CFG["figures"]["bias"]["item"] is not None else []
        ),
    log:
        PATHS.log("figure", "fig3_bias"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m declipbench figure-bias --models {params.models:q} --labels {params.labels:q}"
        " --measurements {params.measurements:q} --tau {params.tau} --sample-rate {params.sample_rate}"
        " --levels {params.levels:q} {params.item:q} --out {output.png:q} --csv {output.csv:q} 2> {log:q}"


rule figure_hdr_mask:
    input:
        lambda wc: PATHS.measurement_files(CFG["figures"]["hdr_mask"]["experiment"], splits=("test",)),
    output:
        png=report(
            PATHS.paper_figure("fig4_hdr_mask"),
            caption="../report/fig4_hdr_mask.rst",
            category="Figures",
            labels={"figure": "Figure 4: HDR mask of eq. 13"},
        ),
        csv=PATHS.paper_figure("fig4_hdr_mask", "csv"),
    params:
        measurements=lambda wc: PATHS.measurements(CFG["figures"]["hdr_mask"]["experiment"]),
        tau=lambda wc: CFG["experiments"][CFG["figures"]["hdr_mask"]["experiment"]]["tau"],
        item=lambda wc: (
            ["--item", str(CFG["figures"]["hdr_mask"]["item"])] if CFG["figures"]["hdr_mask"]["item"] is not None else []
        ),
    log:
        PATHS.log("figure", "fig4_hdr_mask"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench figure-hdr-mask --measurements {params.measurements:q} --tau {params.tau}"
        " {params.item:q} --out {output.png:q} --csv {output.csv:q} 2> {log:q}"


rule figure_toy:
    output:
        fig5=report(
            PATHS.paper_figure("fig5_uniqueness"),
            caption="../report/fig5_uniqueness.rst",
            category="Figures",
            labels={"figure": "Figure 5: why the operator A is needed"},
        ),
        fig5_csv=PATHS.paper_figure("fig5_uniqueness", "csv"),
        fig6=report(
            PATHS.paper_figure("fig6_toy"),
            caption="../report/fig6_toy.rst",
            category="Figures",
            labels={"figure": "Figure 6: MC against MC + EI on one digit"},
        ),
        fig6_csv=PATHS.paper_figure("fig6_toy", "csv"),
    params:
        args=lambda wc: toy_args(),
        data_dir=lambda wc: CFG["data_dir"],
    threads: CFG["threads"]
    log:
        PATHS.log("figure", "fig5_fig6_toy"),
    benchmark:
        PATHS.benchmark("figure", "fig5_fig6_toy")
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m declipbench figure-toy {params.args:q} --data-dir {params.data_dir:q} --threads {threads}"
        " --fig5 {output.fig5:q} --fig6 {output.fig6:q} 2> {log:q}"


# Delta SDR against input SDR (figures.input_sdr): the experiment's test items rescaled to each input SDR,
# reconstructed by each method through the ordinary reconstruct step, one curve per method
rule measure_input_sdr:
    input:
        lambda wc: PATHS.measurement_files(CFG["figures"]["input_sdr"]["experiment"], splits=("test",)),
    output:
        files=[f"{PATHS.input_sdr('{experiment}')}/{name}.npy" for name in ("test_x", "test_y", "test_ids", "levels")],
        manifest=f"{PATHS.input_sdr('{experiment}')}/manifest.json",
    params:
        measurements=lambda wc: PATHS.measurements(wc.experiment),
        tau=exp_setting("tau"),
        levels=lambda wc: [str(v) for v in CFG["figures"]["input_sdr"]["input_sdrs"]],
        n_items=lambda wc: CFG["figures"]["input_sdr"]["items"],
        out=lambda wc: PATHS.input_sdr(wc.experiment),
    log:
        PATHS.log("measure_input_sdr", "{experiment}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench measure-input-sdr --measurements {params.measurements:q} --tau {params.tau}"
        " --input-sdrs {params.levels:q} --items {params.n_items} --out {params.out:q} 2> {log:q}"


rule reconstruct_input_sdr:
    input:
        test_y=f"{PATHS.input_sdr('{experiment}')}/test_y.npy",
        model=lambda wc: [f"{input_sdr_model(wc)}/model.pt"] if METHODS[wc.method].trains else [],
    output:
        PATHS.input_sdr_reconstruction("{experiment}", "{method}", "{variant}"),
    params:
        spec=lambda wc: spec_json(job_spec(CFG, wc.experiment, wc.method, wc.variant, CFG["seeds"][0])),
        measurements=lambda wc: PATHS.input_sdr(wc.experiment),
        model=lambda wc: ["--model", input_sdr_model(wc)] if METHODS[wc.method].trains else [],
    log:
        PATHS.log("reconstruct_input_sdr", "{experiment}", "{method}", "{variant}"),
    benchmark:
        PATHS.benchmark("reconstruct_input_sdr", "{experiment}", "{method}", "{variant}")
    threads: method_threads
    resources:
        mem_mb=method_resource("mem_mb"),
        runtime=method_resource("runtime_min"),
        gpu=method_gpus,
    conda:
        method_env
    shell:
        "python -m declipbench reconstruct --spec {params.spec:q} --measurements {params.measurements:q}"
        " {params.model:q} --out {output:q} 2> {log:q}"


rule figure_input_sdr:
    input:
        measurements=lambda wc: f"{PATHS.input_sdr(CFG['figures']['input_sdr']['experiment'])}/manifest.json",
        reconstructions=lambda wc: [
            PATHS.input_sdr_reconstruction(j.experiment, j.method, j.variant) for j in input_sdr_jobs()
        ],
    output:
        png=report(
            PATHS.paper_figure("fig_input_sdr"),
            caption="../report/fig_input_sdr.rst",
            category="Figures",
            labels={"figure": "Delta SDR against input SDR"},
        ),
        csv=PATHS.paper_figure("fig_input_sdr", "csv"),
    params:
        measurements=lambda wc: PATHS.input_sdr(CFG["figures"]["input_sdr"]["experiment"]),
        labels=lambda wc: [METHODS[j.method].variant_label(j.variant) for j in input_sdr_jobs()],
        title=lambda wc: "Delta SDR against input SDR: "
        + CFG["experiments"][CFG["figures"]["input_sdr"]["experiment"]].get("title", CFG["figures"]["input_sdr"]["experiment"]),
    log:
        PATHS.log("figure", "fig_input_sdr"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench figure-input-sdr --measurements {params.measurements:q} --labels {params.labels:q}"
        " --title {params.title:q} --out {output.png:q} --csv {output.csv:q} {input.reconstructions:q} 2> {log:q}"


rule figure_subspace:
    output:
        png=report(
            PATHS.paper_figure("fig7_subspace"),
            caption="../report/fig7_subspace.rst",
            category="Figures",
            labels={"figure": "Figure 7: synthetic subspaces"},
        ),
        csv=PATHS.paper_figure("fig7_subspace", "csv"),
    params:
        grid=lambda wc: " ".join(
            ["--ks", *map(str, CFG["figures"]["subspace"]["ks"]), "--ps", *map(str, CFG["figures"]["subspace"]["ps"])]
        ),
        settings=lambda wc: " ".join(
            f"--{key.replace('_', '-')} {CFG['figures']['subspace'][key]}"
            for key in ("dim", "train", "test", "epochs", "steps_per_epoch", "batch_size", "lr", "seed")
        ),
        ei=lambda wc: json.dumps(CFG["figures"]["subspace"]["ei"]),
    threads: CFG["threads"]
    log:
        PATHS.log("figure", "fig7_subspace"),
    benchmark:
        PATHS.benchmark("figure", "fig7_subspace")
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m declipbench figure-subspace {params.grid} {params.settings} --ei {params.ei:q}"
        " --threads {threads} --out {output.png:q} --csv {output.csv:q} 2> {log:q}"
