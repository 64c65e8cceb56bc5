"""Dry runs and lint of every configuration, and a misspelt method parameter refused at dry run: the DAG's
checks, apart from the end-to-end runs (tests/test_workflow.py), so the test workers run both side by side."""

import json
import re
import shlex
import shutil

import pytest

from conftest import ROOT, snakemake

COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info",
                                     ".pytest_cache", "data")


# the demo's and the paper's in make test, the studies' in make test-full
@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml",
                                        *[pytest.param(c, marks=pytest.mark.full) for c in (
                                            "config/claim.yaml", "config/sweep.yaml", "config/ssl_study.yaml",
                                            "config/ssl_study_real.yaml")]])
def test_dry_run(configfile):
    # --forceall: the whole DAG even where a previous run (say `make demo`) left its results
    out = snakemake("-n", "--forceall", "--configfile", configfile).stdout
    for rule in ("prepare_dataset", "measure", "train", "reconstruct", "evaluate", "table", "figure", "listen_pages"):
        assert re.search(rf"^{rule}\s+\d+", out, re.M), rule
    if configfile in ("config/config.yaml", "config/paper.yaml"):   # the paper's Figures 2 to 7
        for rule in ("figure_mc_losses", "figure_bias", "figure_hdr_mask", "figure_toy", "figure_subspace",
                     "figure_input_sdr", "measure_input_sdr"):
            assert re.search(rf"^{rule}\s+1$", out, re.M), rule


def test_dry_run_paper_config_is_not_merged_with_demo():
    out = snakemake("-n", "-p", "--forceall", "--configfile", "config/paper.yaml").stdout
    assert "synth_music" not in out and "results/paper/" in out
    # each method job's spec, in its --job argument read as the shell reads it (a label may hold a quote)
    jobs = [json.loads(words[words.index("--job") + 1]) for line in out.splitlines() if "--job '" in line
            for words in [shlex.split(line.strip())] if "--job" in words]
    specs = [j["spec"] for j in jobs if "spec" in j and "method" in j["spec"]]
    specs = [s for s in specs if s.get("experiment") == "table1"]  # table4 (images) has its own network
    assert specs
    for s in specs:  # the paper's network, nothing of the demo's (no channel cap, no 8 channels)
        if s["method"] in ("identity", "social_sparsity", "spade"):
            assert "network" not in s["params"]  # method_defaults reach only the methods that take them
            continue
        net = s["params"]["network"]
        assert (net["channels"], net["depth"], net["max_channels"], net["arch"]) == (64, 4, None, "unet"), s["variant"]
        assert net["bias"] is ("bias" in s["variant"])
    assert {s["label"] for s in specs} >= {"Identity", "Supervised", "Supervised 5%", "Supervised + EI",
                                           "Proposed SSL", "Proposed SSL, EI target detached",
                                           "SSL, re-clipped measurements as EI targets",
                                           "SSL, EI residual on reliable samples only (ours)", "MC only",
                                           "Proposed with bias", "A-SPADE", "S-SPADE"}
    proposed = next(s for s in specs if s["label"] == "Proposed SSL")
    assert proposed["variant"] == "proposed" and proposed["params"]["ei"]["stop_gradient"] is False
    assert proposed["params"]["ei"]["target_on_clipped"] == "estimate" and proposed["params"]["ei"]["core_weight"] == 1.0
    # SPADE at the survey's settings, its window scaled to the data's rate (4096 at 22,050 Hz)
    assert {s["params"]["algorithm"] for s in specs if s["method"] == "spade"} == {"aspade", "sspade"}


@pytest.mark.parametrize("configfile", ["config/config.yaml", pytest.param("config/paper.yaml", marks=pytest.mark.full)])
def test_lint_clean(configfile):
    proc = snakemake("--lint", "--configfile", configfile)
    assert "Congratulations" in proc.stdout + proc.stderr



def test_dry_run_refuses_a_misspelt_parameter_in_a_method_yaml(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
    decl = repo / "methods" / "social_sparsity" / "method.yaml"
    decl.write_text(decl.read_text().replace("params: {shrinkage: pew, lambdas: {num: 10}, max_iter: 10, batch: 100}",
                                             "params: {shrinkage: pew, lambdas: {num: 10}, max_itr: 10, batch: 100}"))
    proc = snakemake("-n", "--configfile", "config/config.yaml", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "methods/social_sparsity/method.yaml: variants.pew_short.params.max_itr: unknown parameter" in proc.stdout + proc.stderr
