import copy
from pathlib import Path

import pytest
import yaml

from declipbench.config import ConfigError, job_spec, load_config, plan, validate_config

ROOT = Path(__file__).resolve().parent.parent
DEMO = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _bad(mutate):
    c = copy.deepcopy(DEMO)
    mutate(c)
    return c


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["experiments"]["table1"].update(tau=0), ["experiments.table1.tau", "0"]),
    (lambda c: c["experiments"]["table1"].update(tau=-0.1), ["experiments.table1.tau", "-0.1"]),
    (lambda c: c["experiments"]["table1"].update(methods=["identity", "magic"]), ["unknown method 'magic'", "available"]),
    (lambda c: c["experiments"]["table1"].update(dataset="nowhere"), ["experiments.table1.dataset", "unknown dataset 'nowhere'"]),
    (lambda c: c["datasets"]["synth_music"].update(module="nomodule"), ["datasets.synth_music.module", "nomodule"]),
    (lambda c: c.update(run="bad name!"), ["run", "bad name!"]),
    (lambda c: c["experiments"]["table1"].update(metrics=["sdr", "mos"]), ["metrics", "mos"]),
])
def test_bad_configs_rejected_with_readable_message(mutate, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(_bad(mutate), "config/config.yaml")
    for text in expected:
        assert text in str(info.value)


def test_defaults_are_filled():
    c = validate_config(copy.deepcopy(DEMO))
    exp = c["experiments"]["table1"]
    assert c["results_dir"] == "results" and exp["sample_rate"] == 22050 and exp["drop_unclipped"] is True


def test_plan_and_spec_of_demo():
    c = load_config(ROOT / "config" / "config.yaml")
    jobs = plan(c)
    names = [(j.method, j.variant) for j in jobs if j.experiment == "table1"]
    assert names == [("identity", "default"), ("social_sparsity", "pew_short"), ("supervised", "full"), ("supervised", "subset5"), ("supervised", "ei"),
                     ("self_supervised", "proposed_mt"), ("self_supervised", "mc_only"),
                     ("self_supervised", "with_bias_mt")]
    # Table 4 (HDR imaging, issue 5)
    assert [(j.method, j.variant) for j in jobs if j.experiment == "table4"] == [
        ("identity", "default"), ("dpir", "standin"), ("supervised", "full"), ("self_supervised", "proposed")]
    s = job_spec(c, "table1", "self_supervised", "with_bias_mt", 0)
    assert s["params"]["network"]["bias"] is True and s["params"]["training"]["loss"] == "mc_ei"
    assert s["params"]["training"]["ei_core_weight"] == 0.0
    claim = load_config(ROOT / "config" / "claim.yaml")
    assert "ei_core_weight" not in job_spec(claim, "table1", "self_supervised", "proposed", 0)["params"]["training"]
    assert s["params"]["network"]["channels"] == c["experiments"]["table1"]["method_defaults"]["network"]["channels"]
    assert s["supervision"] == "measurements" and s["tau"] == 0.1


def test_paper_config_is_valid_and_at_paper_scale():
    c = load_config(ROOT / "config" / "paper.yaml")
    t1 = c["experiments"]["table1"]
    assert t1["tau"] == 0.1 and t1["sample_rate"] == 22050 and t1["max_items"]["test"] == 100
    assert c["datasets"][t1["dataset"]]["module"] == "gtzan"
    assert t1["method_defaults"]["network"] == {"channels": 64, "depth": 5}


def test_job_threads_are_the_config_capped_by_the_method():
    from declipbench.config import job_threads

    demo = load_config(ROOT / "config" / "config.yaml")
    assert demo["threads"] == 1
    assert job_threads(demo, "supervised") == 1 and job_spec(demo, "table1", "supervised", "full", 0)["threads"] == 1
    paper = load_config(ROOT / "config" / "paper.yaml")
    assert paper["threads"] == 8
    # supervised declares 2 threads, identity 1: the job uses (and Snakemake reserves) no more
    assert job_spec(paper, "table1", "supervised", "full", 0)["threads"] == 2
    assert job_spec(paper, "table1", "identity", "default", 0)["threads"] == 1
