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
        job=table_job,
    log:
        PATHS.log("table", "{table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench tables --job {params.job:q} > {log:q} 2>&1"


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
        job=lambda wc, input, output: job(table_md=input.md, title=table_title_of(wc.image_table), out=output[0]),
        # the caption's title (workflow/report/table_page.rst), escaped: user text is not reStructuredText
        caption_title=lambda wc: rst_escape(table_title_of(wc.image_table)),
    log:
        PATHS.log("table_page", "{image_table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench table-page --job {params.job:q} 2> {log:q}"


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
        job=listen_job,
        caption_title=lambda wc: rst_escape(table_title_of(wc.audio_table)),
    log:
        PATHS.log("listen_pages", "{audio_table}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench table-page --job {params.job:q} 2> {log:q}"


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
        job=lambda wc, input, output: job(
            measurements=PATHS.measurements(wc.experiment), modality=exp_setting("modality")(wc),
            tau=exp_setting("tau")(wc), sample_rate=exp_setting("sample_rate")(wc),
            item=CFG["experiments"][wc.experiment]["figure"].get("item"),
            seconds=CFG["experiments"][wc.experiment]["figure"]["seconds"],
            title=CFG["experiments"][wc.experiment].get("title", wc.experiment),
            labels=[METHODS[j.method].variant_label(j.variant) for j in figure_jobs(wc.experiment)],
            inputs=list(input.reconstructions), out=output[0]),
    log:
        PATHS.log("figure", "{experiment}"),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m declipbench figure --job {params.job:q} 2> {log:q}"


# The paper's figures, one rule per configured figure generated from its module figures/<key>.py
# (declipbench.pipeline.figures): its declared inputs, one PNG and one CSV per declared output with the caption
# workflow/report/<stem>.rst, and its settings in one job spec.
for _key, _fig in FIGURES.items():
    _spec = figure_spec(RUN, _key)

    rule:
        name:
            f"figure_{_key}"
        input:
            **_spec["inputs"],
        output:
            **{
                stem: report(
                    PATHS.paper_figure(stem),
                    caption=f"../report/{stem}.rst",
                    category="Figures",
                    labels={"figure": label},
                )
                for stem, label in _fig.OUTPUTS.items()
            },
            **{f"{stem}_csv": PATHS.paper_figure(stem, "csv") for stem in _fig.OUTPUTS},
        params:
            # a function, not a string: Snakemake would read the braces of user text (a label "{y}") as wildcards
            job=lambda wc, _job=job(spec=_spec): _job,
        threads: CFG["threads"] if getattr(_fig, "THREADS", False) else 1
        log:
            PATHS.log("figure", _key),
        benchmark:
            PATHS.benchmark("figure", _key)
        conda:
            f"../envs/{getattr(_fig, 'ENV', 'report')}.yaml"
        shell:
            "python -m declipbench paper-figure --job {params.job:q} --threads {threads} 2> {log:q}"


# Delta SDR against input SDR (figures.input_sdr): the experiment's test items rescaled to each input SDR,
# reconstructed by each method through the ordinary reconstruct step, one curve per method
rule measure_input_sdr:
    input:
        lambda wc: PATHS.measurement_files(CFG["figures"]["input_sdr"]["experiment"], splits=("test",)),
    output:
        PATHS.input_sdr_files("{experiment}"),
    params:
        job=lambda wc: job(measurements=PATHS.measurements(wc.experiment), tau=exp_setting("tau")(wc),
                           input_sdrs=CFG["figures"]["input_sdr"]["input_sdrs"], items=CFG["figures"]["input_sdr"]["items"],
                           out=PATHS.input_sdr(wc.experiment)),
    log:
        PATHS.log("measure_input_sdr", "{experiment}"),
    conda:
        "../envs/data.yaml"
    shell:
        "python -m declipbench measure-input-sdr --job {params.job:q} 2> {log:q}"


# every method reconstructs the input-SDR set as it reconstructs a test set: the reconstruct rule (its
# command, threads, resources and env) on other files, with the experiment's model at the first seed
use rule reconstruct as reconstruct_input_sdr with:
    input:
        test_y=Paths.split_array(PATHS.input_sdr("{experiment}"), "test", "y"),
        model=lambda wc: [Paths.model_file(input_sdr_model(wc))] if METHODS[wc.method].trains else [],
    output:
        PATHS.input_sdr_reconstruction("{experiment}", "{method}", "{variant}"),
    params:
        step="reconstruct",
        job=lambda wc, output: job(spec=job_spec(CFG, wc.experiment, wc.method, wc.variant, CFG["seeds"][0]),
                                   measurements=PATHS.input_sdr(wc.experiment), out=output[0],
                                   model=input_sdr_model(wc) if METHODS[wc.method].trains else None),
    log:
        PATHS.log("reconstruct_input_sdr", "{experiment}", "{method}", "{variant}"),
    benchmark:
        PATHS.benchmark("reconstruct_input_sdr", "{experiment}", "{method}", "{variant}")
