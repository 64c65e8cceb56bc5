"""The Snakemake DAG: dry-runs, lint, config errors, and a tiny end-to-end run with a new plug-in."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, snakemake

COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info",
                                     ".pytest_cache", "data")


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["experiments"]["table1"].update(tau=0), "experiments.table1.tau"),
    (lambda c: c["experiments"]["table1"].update(methods=["identity", "magic"]), "unknown method 'magic'"),
    (lambda c: c["experiments"]["table1"].update(dataset="nowhere"), "unknown dataset 'nowhere'"),
    # a misspelt key at every level is refused before anything runs, naming the file and the field
    (lambda c: c["experiments"]["table1"].update(tua=0.1), "experiments.table1: Additional properties are not allowed ('tua'"),
    (lambda c: c["experiments"]["table1"]["method_defaults"].update(trainig={"lr": 0.1}),
     "bad.yaml: experiments.table1.method_defaults.trainig: no method of the experiment takes this parameter"),
    (lambda c: c["experiments"]["table1"]["method_defaults"]["training"].update(lrr=0.1),
     "bad.yaml: experiments.table1.method_defaults.training.lrr: unknown parameter"),
    (lambda c: c["experiments"]["table1"]["methods"].update(social_sparsity={"params": {"max_itr": 5}}),
     "bad.yaml: experiments.table1.methods.social_sparsity.params.max_itr: unknown parameter"),
    (lambda c: c["datasets"]["synth_music"]["params"].update(segment_second=0.5),
     "bad.yaml: datasets.synth_music.params.segment_second: unknown parameter"),
])
def test_snakemake_rejects_bad_config_readably(tmp_path, mutate, expected):
    c = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    mutate(c)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(c, sort_keys=False))
    proc = snakemake("-n", "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


# a row label that is markup in every output format: HTML and the report's <script> blocks, a Markdown
# row separator, LaTeX specials, matplotlib mathtext (an unknown symbol stops a figure job if parsed)
HOSTILE_LABEL = "My declipper </script><b>b</b> A|B $\\nosuch$ {y} 50% _i_ ~^&# &lt;"
HOSTILE_TITLE = "Table 1 (tiny test run) <i>t</i> $\\nosuch$ &amp; A|B"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A copy of the repository with a newcomer's method added from the template, and its tiny run."""
    repo = tmp_path_factory.mktemp("tiny") / "repo"
    shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
    # a newcomer's method: copy the template, rename, done
    new = repo / "methods" / "my_declipper"
    shutil.copytree(repo / "methods" / "_template", new)
    decl = (new / "method.yaml").read_text()
    decl = decl.replace("name: template", "name: my_declipper").replace("label: Template", "label: My declipper")
    # its variant's label is hostile: every output of the run must show it as text (test below)
    decl = decl.replace("    label: My declipper", f"    label: {json.dumps(HOSTILE_LABEL)}")
    assert json.dumps(HOSTILE_LABEL) in decl
    (new / "method.yaml").write_text(decl)
    cfg = yaml.safe_load((repo / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["experiments"]["table1"]["methods"]["my_declipper"] = None
    cfg["experiments"]["table1"]["title"] = HOSTILE_TITLE
    (repo / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    dry = snakemake("-n", "--configfile", "tiny.yaml", cwd=repo).stdout
    assert "my_declipper" in dry
    snakemake("--cores", "2", "--configfile", "tiny.yaml", cwd=repo, timeout=900)
    return repo


def test_tiny_end_to_end_with_a_new_method_from_the_template(tiny_run):
    repo = tiny_run
    run = repo / "results" / "tiny"
    table = list(csv.DictReader(open(run / "tables" / "table1.csv")))
    labels = [r["label"] for r in table]
    assert labels == ["Identity", "Supervised", "Supervised + EI", "Proposed SSL", "MC only", "Proposed with bias",
                      HOSTILE_LABEL]
    for r in table:
        for m in ("sdr", "delta_sdr", "pesq"):
            assert r[f"{m}_n"] != "0", (r["label"], m)
    ident = next(r for r in table if r["label"] == "Identity")
    assert float(ident["delta_sdr_mean"]) == pytest.approx(0.0, abs=1e-9)
    md = (run / "tables" / "table1.md").read_text()
    assert "My declipper" in md and "**" in md and "±" in md
    # the paired tests against the reference row the configuration names, Holm-adjusted
    assert ("paired Wilcoxon signed-rank test against Proposed SSL (the reference row named in the configuration "
            "before the run), p-values Holm-adjusted over the 6 rows compared") in md
    assert [r["sdr_ref"] for r in table].count("True") == 1 and next(r for r in table if r["sdr_ref"] == "True")["label"] == "Proposed SSL"
    tex = (run / "tables" / "table1.tex").read_text()
    assert r"\toprule" in tex and r"\textbf{" in tex and "My declipper" in tex
    assert (run / "figures" / "table1_examples.png").stat().st_size > 10_000
    # Figure 3 on the trained networks: the bias-free one homogeneous (same error at every level, f(0) = 0),
    # the biased one not; with the masking blend both return the unsaturated input exactly
    fig3 = list(csv.DictReader(open(run / "figures" / "fig3_bias.csv")))
    free = [r for r in fig3 if r["bias"] == "False"]
    biased = [r for r in fig3 if r["bias"] == "True"]
    assert len(free) == len(biased) == 5
    for r in free:
        assert float(r["homogeneity_error"]) < 1e-5 and float(r["silence"]) == 0.0
        assert float(r["error"]) == pytest.approx(float(free[0]["error"]), rel=1e-4)
    assert float(biased[0]["homogeneity_error"]) > 1e-3 and float(biased[0]["silence"]) > 0
    assert float(biased[0]["error"]) > float(free[0]["error"])
    assert all(float(r["masked_error"]) == 0.0 for r in fig3)
    # Delta SDR against input SDR: every method at every level, Identity exactly 0 (its output is the input)
    curves = list(csv.DictReader(open(run / "figures" / "fig_input_sdr.csv")))
    assert {(r["label"], float(r["input_sdr"])) for r in curves} == {(lab, s) for lab in labels for s in (3.0, 10.0)}
    assert all(float(r["mean_delta_sdr"]) == 0.0 for r in curves if r["label"] == "Identity")
    assert all(int(r["items"]) + int(r["missing"]) == 3 for r in curves)
    # tidy per-item metrics, every job, every test item
    rows = list(csv.DictReader(open(run / "metrics" / "table1.csv")))
    assert set(rows[0]) >= {"method", "variant", "seed", "dataset", "item", "metric", "value"}
    n_test = json.loads((run / "measurements" / "table1" / "manifest.json").read_text())["splits"]["test"]["items_kept"]
    assert len(rows) == 7 * n_test * 3
    # every rule logged, benchmarks written for the costly ones
    for rule in ("prepare_dataset", "measure", "train", "reconstruct", "evaluate", "table", "figure", "listen_pages"):
        assert list((run / "logs" / rule).rglob("*.log")), rule
    assert "epoch 2/2" in (run / "logs" / "train" / "table1" / "self_supervised" / "proposed" / "seed0.log").read_text()
    for rule in ("prepare_dataset", "train", "reconstruct", "evaluate"):
        assert list((run / "benchmarks" / rule).rglob("*.tsv")), rule
    # a second invocation has nothing to do
    again = snakemake("-n", "--configfile", "tiny.yaml", cwd=repo).stdout
    assert "Nothing to be done" in again


def test_a_hostile_label_stays_text_in_every_output(tiny_run):
    """The newcomer's row label is markup in every format the run writes: each output shows it as text, and
    every job that draws it (the figures) ran."""
    import html

    from declipbench.report.formatting import md_escape, tex_escape

    run = tiny_run / "results" / "tiny"
    assert HOSTILE_LABEL in [r["label"] for r in csv.DictReader(open(run / "tables" / "table1.csv"))]
    md = (run / "tables" / "table1.md").read_text().splitlines()
    header = next(line for line in md if line.startswith("| Method"))
    row = next(line for line in md if line.startswith("| My declipper"))
    assert md_escape(HOSTILE_LABEL) in row and "<b>" not in row and "</script>" not in row
    assert row.replace("\\|", "").count("|") == header.count("|")  # its | does not split the row
    assert md[0] == f"**{md_escape(HOSTILE_TITLE)}**"
    tex = (run / "tables" / "table1.tex").read_text()
    assert tex_escape(HOSTILE_LABEL) in tex and tex_escape(HOSTILE_TITLE) in tex
    for fig in ("fig_input_sdr", "fig3_bias"):
        assert (run / "figures" / f"{fig}.png").stat().st_size > 10_000, fig
    assert HOSTILE_LABEL in {r["label"] for r in csv.DictReader(open(run / "figures" / "fig_input_sdr.csv"))}
    assert (run / "figures" / "table1_examples.png").stat().st_size > 10_000
    pages = sorted((run / "report").glob("*.html"))
    assert len(pages) >= 2, pages  # the table's page and its listening pages
    for page in pages:
        text = page.read_text()
        assert "<b>b</b>" not in text and "</script><b>" not in text and "<i>t</i>" not in text, page.name
        assert html.escape(HOSTILE_LABEL) in text and html.escape(HOSTILE_TITLE) in text, page.name
    table_page = (run / "report" / "table1.html").read_text()
    assert table_page.count(html.escape(HOSTILE_TITLE)) == 2  # <title> and heading, not repeated from the table


def test_a_second_run_writing_the_same_results_folder_is_refused(tiny_run):
    """Two runs (two clones, two shells) on one absolute results folder: the second is refused at start,
    naming the folder and the run holding it; nothing of the first is touched."""
    from declipbench.pipeline.run_lock import RunLocked, acquire

    run = tiny_run / "results" / "tiny"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]);"
                               "from declipbench.pipeline.run_lock import acquire; h = acquire(sys.argv[2]);"
                               "print('held', flush=True); time.sleep(120)", str(ROOT), str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = (run / "tables" / "table1.md").read_bytes()
        proc = snakemake("--cores", "1", "--configfile", "tiny.yaml", "--forcerun", "table", "results/tiny/tables/table1.md",
                         cwd=tiny_run, check=False)
        assert proc.returncode != 0
        assert f"{run.relative_to(tiny_run)} is being written by another run (process {holder.pid}" in proc.stdout + proc.stderr
        assert (run / "tables" / "table1.md").read_bytes() == before
        with pytest.raises(RunLocked):
            acquire(run)
    finally:
        holder.kill()
        holder.wait()
    acquire(run).close()  # released with its process


HOSTILE = "T </script><img src=x onerror=alert(2)> & A|B"


def _hostile_config(repo) -> str:
    """The tiny run's config with a hostile table title (the run's outputs stay as they are)."""
    cfg = yaml.safe_load((repo / "tiny.yaml").read_text())
    cfg["experiments"]["table1"]["title"] = HOSTILE
    (repo / "hostile.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return "hostile.yaml"


def test_report_keeps_hostile_text_out_of_its_markup(tiny_run):
    """User text reaches the HTML report inside Snakemake's embedded JSON (table titles as report labels, the
    config files): ``declipbench report`` escapes it so no ``</script>`` or tag of it survives as markup."""
    safe = tiny_run / "results" / "tiny" / "safe.html"
    proc = subprocess.run([sys.executable, "-m", "declipbench", "report", "--configfile", _hostile_config(tiny_run),
                           "--out", str(safe)], cwd=tiny_run, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = safe.read_text()
    assert "<img src=x" not in html and "</script><img" not in html
    assert "<b>b</b>" not in html  # the newcomer's hostile row label (its table page, the rule params)
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(2)\\u003e" in html  # the title, as JSON data


@pytest.mark.full
def test_the_plain_snakemake_report_lets_hostile_text_through(tiny_run):
    """Why ``declipbench report`` exists (and that the check above can fail): Snakemake's own report writes
    the title raw into a ``<script>`` block."""
    plain = tiny_run / "results" / "tiny" / "plain.html"
    snakemake("--configfile", _hostile_config(tiny_run), "--report", str(plain), cwd=tiny_run)
    assert "</script><img src=x onerror=alert(2)>" in plain.read_text()


@pytest.mark.full
def test_report_opens_in_chromium_with_the_table_and_clips_of_the_right_length(tiny_run, tmp_path):
    """The run's HTML report (snakemake --report), opened in headless Chromium as a reader does: the table page
    shows the table and plays every chosen item for clean, clipped and each method, each clip lasting its
    test item's length, under it the SDR the table used; the example figure decodes."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    from check_report import BrowserUnavailable, check_report, problems
    from declipbench.report.table_page import listening_items

    repo, run = tiny_run, tiny_run / "results" / "tiny"
    # as make demo makes it: the run's hostile label and title stay data in the report's script blocks (Snakemake's
    # own --report would end a block at the label's </script>, test_the_plain_snakemake_report_lets_...)
    proc = subprocess.run([sys.executable, "-m", "declipbench", "report", "--configfile", "tiny.yaml", "--out",
                           "results/tiny/report.html"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = run / "report.html"
    assert report.stat().st_size > 100_000
    try:
        seen = check_report(report, screenshots=tmp_path / "screenshots")
    except BrowserUnavailable as exc:
        pytest.skip(f"no browser to open the report: {exc} (.ci/run installs Debian's chromium)")
    assert problems(seen) == []
    table_page = "results/tiny/report/table1.html"
    listen = [f"results/tiny/report/table1_listen{k}.html" for k in (1, 2, 3, 4)]
    figures = ["results/tiny/figures/table1_examples.png", "results/tiny/figures/fig3_bias.png",
               "results/tiny/figures/fig_input_sdr.png"]
    assert seen["results"] == {table_page: "text/html", **{p: "text/html" for p in listen},
                               **{f: "image/png" for f in figures}}
    assert sorted(seen["images"]) == sorted(figures)
    assert seen["pages"][table_page]["tables"] == 1 and "My declipper" in seen["pages"][table_page]["text"]
    x = np.load(run / "measurements" / "table1" / "test_x.npy")
    y = np.load(run / "measurements" / "table1" / "test_y.npy")
    ids = np.load(run / "measurements" / "table1" / "test_ids.npy")
    items = [int(ids[i]) for i in listening_items(x, y, 4)]  # the pages and the records name items by id
    labels = [r["label"] for r in csv.DictReader(open(run / "tables" / "table1.csv"))]
    records = {(r["label"], int(r["item"])): float(r["value"])
               for r in csv.DictReader(open(run / "metrics" / "table1.csv")) if r["metric"] == "sdr"}
    for path, item in zip(listen, items):  # page k plays the k-th item, most heavily clipped first
        page = seen["pages"][path]
        assert page["tables"] == 1 and f"Test item {item}:" in page["text"]
        assert [(c["role"], c["item"]) for c in page["audio"]] == [(r, item) for r in ["clean", "clipped", *labels]]
        for c in page["audio"]:  # the browser decoded each embedded WAV to the item's length at the experiment's rate
            assert c["ready"] >= 1 and c["duration"] == pytest.approx(x.shape[1] / 22050, abs=1e-4), c
        # the SDR beside a clip is the one in the table's per-item records
        assert f"SDR {records[('Supervised', item)]:.2f} dB" in page["text"]
    assert all(Path(f).stat().st_size > 10_000 for f in seen["screenshots"])


def test_keep_going_still_makes_the_table_and_lists_the_failed_method(tmp_path):
    """A method whose reconstruct raises, run with --keep-going: the run ends with an error, yet the table
    is written for the methods that finished, the failed one listed as failed with the error from its log
    in every format, and the title says the table is incomplete. Without --keep-going no table is made."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
    new = repo / "methods" / "fragile"
    shutil.copytree(repo / "methods" / "_template", new)
    decl = (new / "method.yaml").read_text()
    (new / "method.yaml").write_text(decl.replace("name: template", "name: fragile").replace("label: Template", "label: Fragile"))
    code = (new / "method.py").read_text()
    (new / "method.py").write_text(code.replace("        return scale_clipped(y, ctx.tau_low, ctx.tau_high, ctx.params[\"gain\"])",
                                                "        raise RuntimeError(\"out of ideas\")"))
    cfg = yaml.safe_load((repo / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["experiments"]["table1"]["methods"] = {"identity": None, "fragile": None}
    del cfg["experiments"]["table1"]["reference"]  # a row of the tiny run's methods
    del cfg["experiments"]["table1"]["method_defaults"]
    del cfg["figures"]  # they name the tiny run's learned methods
    (repo / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    stop = snakemake("--cores", "2", "--configfile", "tiny.yaml", cwd=repo, check=False)
    table = repo / "results" / "tiny" / "tables" / "table1"
    assert stop.returncode != 0 and not table.with_suffix(".md").exists()
    going = snakemake("--cores", "2", "--keep-going", "--configfile", "tiny.yaml", cwd=repo, check=False)
    assert going.returncode != 0
    md = table.with_suffix(".md").read_text()
    assert "(incomplete: 1 of 2 jobs gave no result)" in md
    assert "| Identity | **" in md and "| Fragile | failed | failed | failed | 0 |" in md
    assert "**Failed, no result:** Fragile: seed 0: error (reconstruct): method 'fragile'" in md and "out of ideas" in md
    assert "logs/reconstruct/table1/fragile/default/seed0.log" in md
    rows = {r["label"]: r for r in csv.DictReader(open(table.with_suffix(".csv")))}
    assert rows["Fragile"]["failed"] == "True" and rows["Identity"]["failed"] == "False"
    assert rows["Identity"]["sdr_best"] == "True" and rows["Fragile"]["sdr_best"] == "False"
    assert "Failed, no result: Fragile" in table.with_suffix(".tex").read_text()
