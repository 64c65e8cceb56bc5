import copy
from pathlib import Path

import pytest
import yaml

from declipbench.pipeline.config import ConfigError, job_spec, load_config, plan, validate_config

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


def test_seeds_multiply_the_trained_methods_only():
    """With three seeds every method that trains runs three times; one that does not train (its output
    cannot depend on a training seed) runs once, with the first seed. A repeated seed is refused."""
    c = load_config(ROOT / "config" / "config.yaml", overrides={"seeds": [3, 1, 2]})
    jobs = [j for j in plan(c) if j.experiment == "table1"]
    seeds = {}
    for j in jobs:
        seeds.setdefault((j.method, j.variant), []).append(j.seed)
    assert seeds[("identity", "default")] == [3] and seeds[("spade", "aspade_short")] == [3]
    assert seeds[("supervised", "full")] == [3, 1, 2] and seeds[("self_supervised", "proposed_mt")] == [3, 1, 2]
    with pytest.raises(Exception, match="seeds"):
        load_config(ROOT / "config" / "config.yaml", overrides={"seeds": [0, 0]})


def test_plan_and_spec_of_demo():
    c = load_config(ROOT / "config" / "config.yaml")
    jobs = plan(c)
    names = [(j.method, j.variant) for j in jobs if j.experiment == "table1"]
    assert names == [("identity", "default"), ("social_sparsity", "pew_short"), ("spade", "aspade_short"),
                     ("spade", "sspade_short"), ("supervised", "full"), ("supervised", "subset5"), ("supervised", "ei"),
                     ("self_supervised", "proposed"), ("self_supervised", "proposed_detached_use_mask"),
                     ("self_supervised", "proposed_mt"), ("self_supervised", "mc_only"), ("self_supervised", "with_bias")]
    # Table 4 (HDR imaging)
    assert [(j.method, j.variant) for j in jobs if j.experiment == "table4"] == [
        ("identity", "default"), ("dpir", "standin"), ("supervised", "full"), ("self_supervised", "proposed")]
    s = job_spec(c, "table1", "self_supervised", "with_bias", 0)
    assert s["params"]["network"]["bias"] is True and s["params"]["losses"] == ["mc", "ei"]
    # "Proposed with bias" is the published loss (eq. 11 as written) with a biased network
    assert s["params"]["ei"]["stop_gradient"] is False and s["params"]["ei"]["target_on_clipped"] == "estimate"
    assert s["params"]["ei"]["core_weight"] == 1.0 and s["params"]["ei"]["g_max"] == 2.0
    assert s["label"] == "Proposed with bias"
    assert job_spec(c, "table1", "self_supervised", "proposed", 0)["label"] == "Proposed SSL"
    reclip = job_spec(c, "table1", "self_supervised", "proposed_detached_use_mask", 0)
    assert reclip["label"] == "SSL, re-clipped measurements as EI targets"
    assert c["experiments"]["table1"]["reference"] == "self_supervised/proposed"
    claim = load_config(ROOT / "config" / "claim.yaml")
    proposed = job_spec(claim, "table1", "self_supervised", "proposed", 0)["params"]
    # eq. 11 as the paper's text reads it: gradients through both terms, the residual on every sample
    assert proposed["ei"]["core_weight"] == 1.0 and proposed["ei"]["g_max"] == 4.0
    assert proposed["ei"]["stop_gradient"] is False and proposed["ei"]["target_on_clipped"] == "estimate"
    assert s["params"]["network"]["channels"] == c["experiments"]["table1"]["method_defaults"]["network"]["channels"]
    assert s["supervision"] == "measurements" and s["tau"] == 0.1
    # method_defaults reach only the methods that declare them: social sparsity gets no network section
    assert set(job_spec(c, "table1", "social_sparsity", "pew_short", 0)["params"]) == {
        "shrinkage", "window", "hop", "channels", "sample_rate", "lambdas", "max_iter", "tol", "batch"}
    assert job_spec(c, "table4", "dpir", "standin", 0)["params"]["denoiser"]["steps"] == 120


def test_paper_config_is_valid_and_at_paper_scale():
    c = load_config(ROOT / "config" / "paper.yaml")
    t1 = c["experiments"]["table1"]
    assert t1["tau"] == 0.1 and t1["sample_rate"] == 22050 and t1["max_items"]["test"] == 100
    assert c["datasets"][t1["dataset"]]["module"] == "gtzan"
    # the first author's 1-D U-Net (deepinv UNet(scales=5)): four poolings, 64 to 1024 channels
    assert t1["method_defaults"]["network"] == {"channels": 64, "depth": 4}


def test_job_threads_are_the_config_capped_by_the_method():
    from declipbench.pipeline.config import job_threads

    demo = load_config(ROOT / "config" / "config.yaml")
    assert demo["threads"] == 1
    assert job_threads(demo, "supervised") == 1 and job_spec(demo, "table1", "supervised", "full", 0)["threads"] == 1
    paper = load_config(ROOT / "config" / "paper.yaml")
    assert paper["threads"] == 8
    # supervised declares 2 threads, identity 1: the job uses (and Snakemake reserves) no more
    assert job_spec(paper, "table1", "supervised", "full", 0)["threads"] == 2
    assert job_spec(paper, "table1", "identity", "default", 0)["threads"] == 1


# ------------------------------------------------------- a misspelt parameter at every level is refused
@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["experiments"]["table1"]["method_defaults"].update(trainig={"lr": 0.1}),
     "config/config.yaml: experiments.table1.method_defaults.trainig: no method of the experiment takes this parameter"),
    (lambda c: c["experiments"]["table1"]["method_defaults"]["training"].update(lrr=0.1),
     "config/config.yaml: experiments.table1.method_defaults.training.lrr: unknown parameter"),
    (lambda c: c["experiments"]["table1"]["methods"].update(social_sparsity={"variants": ["pew_short"],
                                                                              "params": {"max_itr": 5}}),
     "config/config.yaml: experiments.table1.methods.social_sparsity.params.max_itr: unknown parameter"),
    (lambda c: c["experiments"]["table1"]["methods"].update(supervised={"variants": ["full"],
                                                                         "grid": {"ei.g_maxx": [2, 3]}}),
     "config/config.yaml: experiments.table1.methods.supervised.grid.ei.g_maxx: unknown parameter"),
    (lambda c: c["experiments"]["table1"]["methods"].update(supervised={"variants": ["full"],
                                                                         "params": {"training": {"lr": "fast"}}}),
     "experiments.table1.methods.supervised.params.training.lr = 'fast': must be a float"),
    (lambda c: c["datasets"]["synth_music"]["params"].update(trainig=3),
     "config/config.yaml: datasets.synth_music.params.trainig: unknown parameter"),
    (lambda c: c["datasets"]["synth_music"]["params"]["splits"].update(tset=3),
     "config/config.yaml: datasets.synth_music.params.splits.tset: unknown parameter"),
    (lambda c: c["datasets"]["synth_music"]["params"].update(peak_min=0.9),
     "datasets.synth_music.params.peak_max = 0.6: must be >= peak_min"),
    (lambda c: c["experiments"]["table4"].update(modality="audio", metrics=["sdr"]),
     "experiments.table4.modality is 'audio', but dataset 'synth_hdr' (module 'synthetic_hdr') declares MODALITY = 'image'"),
    (lambda c: c["experiments"]["table1"].update(metrics=["sdr", "psnr"]),
     "experiments.table1.metrics: 'psnr' scores image reconstructions"),
])
def test_misspelt_or_wrong_parameters_are_refused_with_file_and_field(mutate, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(_bad(mutate), "config/config.yaml")
    assert expected in str(info.value)


def test_a_misspelt_parameter_in_a_method_yaml_names_that_file(tmp_path, monkeypatch):
    import shutil

    from declipbench.pipeline import config as config_module
    from declipbench.pipeline import plugins

    root = tmp_path / "repo"
    shutil.copytree(ROOT / "methods", root / "methods", ignore=shutil.ignore_patterns("__pycache__"))
    decl = root / "methods" / "social_sparsity" / "method.yaml"
    decl.write_text(decl.read_text().replace("params: {shrinkage: ew}", "params: {shrinkage: ew, max_itr: 3}"))
    monkeypatch.setattr(config_module, "discover_methods", lambda: plugins.discover_methods(root))
    cfg = _bad(lambda c: c["experiments"]["table1"]["methods"].update(social_sparsity={"variants": ["ew"]}))
    with pytest.raises(ConfigError, match=r"social_sparsity/method.yaml: variants.ew.params.max_itr: unknown parameter"):
        validate_config(cfg, "config/config.yaml")


def test_dataset_params_are_resolved_with_their_defaults():
    c = validate_config(copy.deepcopy(DEMO))
    p = c["datasets"]["synth_music"]["params"]
    assert p["splits"] == {"train": 600, "val": 16, "test": 100} and p["peak_min"] == 0.15 and p["seed"] == 0
