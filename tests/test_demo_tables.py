"""The demo analogues of Tables 2 and 3: Table 3's fixed-input-SDR test set (synthetic piano), the tau check, model
reuse between experiments with identical training (Table 2's supervised = Table 1's), and a tiny end-to-end
run of the demo's audio tables (1, 2, 3) through Snakemake."""

import copy
import csv
import json
import shlex

import numpy as np
import pytest
import yaml

from conftest import ROOT, resolved, snakemake
from declipbench.pipeline import steps
from declipbench.pipeline.config import ConfigError, load_config, model_owners, plan, validate_config
from declipbench.data.levels import scale_to_input_sdr
from declipbench.metrics.sdr import sdr_db
from declipbench.pipeline.plugins import load_dataset

DEMO = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


# ------------------------------------------------------------------------ Table 3's test scaling
@pytest.mark.parametrize("target", [1.0, 10.0, 25.0])
def test_scale_to_input_sdr_hits_the_target(target):
    rng = np.random.default_rng(3)
    for x in (rng.standard_normal(4000), np.sin(np.linspace(0, 60, 3000)) * 7.0, rng.laplace(size=2000) * 1e-3):
        z = scale_to_input_sdr(x, target, 0.1)
        assert z.dtype == np.float32
        assert sdr_db(z, np.clip(z, -0.1, 0.1)) == pytest.approx(target, abs=1e-3)
        # a rescaled copy of x: the shape is untouched
        assert np.corrcoef(z, x)[0, 1] == pytest.approx(1.0, abs=1e-6)


def test_scale_to_input_sdr_refuses_what_cannot_be_reached():
    with pytest.raises(ValueError, match="silent"):
        scale_to_input_sdr(np.zeros(100), 10.0, 0.1)
    with pytest.raises(ValueError, match="outside the reachable range"):
        scale_to_input_sdr(np.ones(100), 50.0, 0.1)  # a constant clipped at 0.99 of its peak: 40 dB at most


# ------------------------------------------------------------------------------ synthetic piano
PIANO = load_dataset("synthetic_piano")


def test_piano_is_deterministic_and_order_free():
    p = resolved(PIANO)
    a = PIANO.generate(p, "train", 4)
    b = PIANO.generate(p, "train", 2, start=2)
    assert np.array_equal(a[2:], b)
    assert np.array_equal(a, PIANO.generate(p, "train", 4))
    assert not np.array_equal(a, PIANO.generate({**p, "seed": 1}, "train", 4))
    assert not np.array_equal(PIANO.generate(p, "val", 2), a[:2])


def test_piano_levels_train_log_uniform_test_at_fixed_input_sdr():
    p = resolved(PIANO, {"peak_min": 0.15, "peak_max": 0.6})
    tr = PIANO.generate(p, "train", 12)
    peaks = np.abs(tr).max(axis=1)
    assert np.all(peaks >= 0.15 - 1e-6) and np.all(peaks <= 0.6 + 1e-6) and peaks.std() > 0.02
    te = PIANO.generate(resolved(PIANO, {"test_input_sdr_db": 10.0, "tau": 0.1}), "test", 12)
    sdrs = [sdr_db(x, np.clip(x, -0.1, 0.1)) for x in te]
    np.testing.assert_allclose(sdrs, 10.0, atol=1e-3)
    # without a target the test split is levelled like the others
    free = PIANO.generate(resolved(PIANO), "test", 12)
    assert np.std([sdr_db(x, np.clip(x, -0.1, 0.1)) for x in free]) > 1.0


def test_piano_sounds_like_struck_strings():
    """Sharp attack, then decay; partials stretched above the harmonic series (inharmonicity)."""
    sr = 22050
    p = resolved(PIANO, {"onsets_max": 1, "noise_db": -120.0})
    x = next(x for i in range(40) if (x := PIANO.segment(p, "train", i)) is not None
             and np.argmax(np.abs(x)) < sr // 4)
    env = np.abs(x).reshape(-1, 2205).max(axis=1)  # 100-ms frames
    k = int(np.argmax(env))
    assert env[-1] < 0.7 * env[k]  # it decays
    # one low note alone: the 10th partial lies above 10 x f0
    t = np.arange(sr) / sr
    note = PIANO._note(t - 0.01, sr, 40.0, 1.0, np.inf, 24, np.random.default_rng(0))
    spec = np.abs(np.fft.rfft(note[2000:] * np.hanning(sr - 2000), 8 * sr))
    f = np.fft.rfftfreq(8 * sr, 1 / sr)
    f0 = 440 * 2 ** ((40 - 69) / 12)
    band = (f > 9.8 * f0) & (f < 10.6 * f0)
    assert f[band][np.argmax(spec[band])] > 10 * f0 * 1.0005


def test_piano_through_prepare(tmp_path):
    m = steps.prepare("synthetic_piano", {"segment_seconds": 0.25, "splits": {"train": 3, "val": 1, "test": 2},
                                          "test_input_sdr_db": 8.0}, tmp_path)
    assert m["splits"]["test"]["items"] == 2 and m["params"]["test_input_sdr_db"] == 8.0
    te = np.load(tmp_path / "test.npy")
    assert te.shape == (2, 5512)
    np.testing.assert_allclose([sdr_db(x, np.clip(x, -0.1, 0.1)) for x in te], 8.0, atol=1e-3)


def test_experiment_tau_must_match_the_test_scaling():
    c = copy.deepcopy(DEMO)
    c["experiments"]["table3"]["tau"] = 0.2
    with pytest.raises(ConfigError, match=r"experiments\.table3\.tau is 0\.2.*datasets\.synth_piano.*tau = 0\.1"):
        validate_config(c, "config.yaml")
    c["datasets"]["synth_piano"]["params"]["tau"] = 0.2  # consistent again
    validate_config(c, "config.yaml")


# ------------------------------------------------------------------------------ model reuse
def test_identical_training_reuses_the_earlier_model():
    c = load_config(ROOT / "config" / "config.yaml")
    owners = model_owners(c)
    assert owners[("table2", "supervised", "full", 0)] == "table1"
    # Table 2's SSL also trains on the test measurements: its own model
    assert owners[("table2", "self_supervised", "proposed_detached_use_mask", 0)] == "table2"
    assert owners[("table3", "supervised", "full", 0)] == "table3"  # another dataset
    assert all(owners[(j.experiment, j.method, j.variant, j.seed)] == j.experiment
               for j in plan(c) if j.trains and j.experiment in ("table1", "table4"))
    # anything that changes the training breaks the sharing
    for change in (lambda e: e["method_defaults"]["training"].update(lr=0.001),
                   lambda e: e.update(tau=0.2),
                   lambda e: e.update(max_items={"train": 100}),
                   lambda e: e.update(drop_unclipped=False)):
        d = copy.deepcopy(DEMO)
        change(d["experiments"]["table2"])
        assert model_owners(validate_config(d))[("table2", "supervised", "full", 0)] == "table2"
    # the DAG trains it once and points Table 2's reconstruction at Table 1's model
    out = snakemake("-n", "-p", "--forceall", "--configfile", "config/config.yaml").stdout
    assert "models/table2/supervised" not in out
    jobs = [json.loads(w[w.index("--job") + 1]) for line in out.splitlines() if "declipbench reconstruct --job" in line
            for w in [shlex.split(line.strip())]]
    (job,) = [j for j in jobs if j["out"] == "results/demo/reconstructions/table2/supervised/full/seed0.npz"]
    assert job["model"] == "results/demo/models/table1/supervised/full/seed0"
    assert job["measurements"] == "results/demo/measurements/table2"


# --------------------------------------------------------------- the demo's audio tables, tiny
@pytest.mark.full
def test_demo_audio_tables_tiny_end_to_end(tmp_path):
    cfg = copy.deepcopy(DEMO)
    cfg.update(run="tiny_audio", results_dir=str(tmp_path / "results"), threads=1, progress=False)
    short = {"segment_seconds": 0.25}
    cfg["datasets"] = {
        "synth_music": {"module": "synthetic_music", "params": {**short, "splits": {"train": 24, "val": 4, "test": 6}}},
        "synth_speech": {"module": "synthetic_speech", "params": {**short, "splits": {"train": 1, "val": 1, "test": 5}}},
        "synth_piano": {"module": "synthetic_piano",
                        "params": {**DEMO["datasets"]["synth_piano"]["params"], **short,
                                   "splits": {"train": 24, "val": 4, "test": 6}}},
    }
    tiny = {"network": {"channels": 4, "depth": 2}, "training": {"epochs": 2, "steps_per_epoch": 3, "batch_size": 4,
                                                                  "crop": 1024}}
    exps = {k: cfg["experiments"][k] for k in ("table1", "table2", "table3")}
    exps["table1"]["methods"] = {"identity": None, "spade": {"variants": ["aspade_short"]},
                                 "supervised": {"variants": ["full"]}}
    del exps["table1"]["reference"]  # Proposed SSL is not among these methods
    for k in ("table2", "table3"):   # SPADE runs through the DAG in Table 1; its own tests cover the rest
        exps[k]["methods"].pop("spade")
    for e in exps.values():
        e["method_defaults"] = copy.deepcopy(tiny)
    cfg["experiments"] = exps
    # Figure 4 draws on Table 4, not run here; Figures 3, 5-6 and the input-SDR figure name the demo's methods
    # or train their own networks (tests/test_figures.py, tests/test_workflow.py)
    for key in ("hdr_mask", "bias", "toy", "input_sdr"):
        cfg["figures"].pop(key)
    path = tmp_path / "tiny_audio.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake("--cores", "2", "--configfile", str(path), timeout=900)
    run = tmp_path / "results" / "tiny_audio"

    def table(name):
        return {r["label"]: r for r in csv.DictReader(open(run / "tables" / name))}

    # Table 2: music and speech tables, SSL trained on both test sets' measurements
    music, speech = table("table2.csv"), table("table2/synth_speech.csv")
    assert list(music) == list(speech) == ["Identity", "Supervised", "Proposed SSL",
                                           "SSL, re-clipped measurements as EI targets"]
    assert all(int(r["sdr_n"]) == 5 for r in speech.values()) and all(int(r["sdr_n"]) == 6 for r in music.values())
    log = (run / "logs" / "train" / "table2" / "self_supervised" / "proposed_detached_use_mask" / "seed0.log").read_text()
    assert "adding 6 test measurements" in log and "adding 5 test measurements" in log
    # Table 2's supervised is Table 1's model: trained once, same numbers on the same measurements
    assert not (run / "models" / "table2" / "supervised").exists()
    assert (run / "models" / "table1" / "supervised" / "full" / "seed0" / "model.pt").exists()
    assert "adding" not in (run / "logs" / "train" / "table1" / "supervised" / "full" / "seed0.log").read_text()
    t1 = table("table1.csv")
    assert (run / "figures" / "fig2_mc_losses.png").stat().st_size > 0   # the demo's Figure 2 (tests/test_figures.py)
    assert len((run / "figures" / "fig2_mc_losses.csv").read_text().splitlines()) == 802
    assert music["Supervised"]["sdr_mean"] == t1["Supervised"]["sdr_mean"]
    spade = t1["A-SPADE (shortened schedule, k += 20 per iteration)"]
    assert int(spade["sdr_n"]) == 6 and float(spade["sdr_mean"]) > float(t1["Identity"]["sdr_mean"])
    # Table 3: every test segment at 10 dB input SDR, so Identity is 10.00 dB with no spread
    t3 = table("table3.csv")
    assert list(t3) == ["Identity", "Supervised", "Proposed SSL", "SSL, re-clipped measurements as EI targets"]
    assert float(t3["Identity"]["sdr_mean"]) == pytest.approx(10.0, abs=1e-3)
    assert float(t3["Identity"]["sdr_std"]) == pytest.approx(0.0, abs=1e-3)
    assert all(int(r["sdr_n"]) == 6 for r in t3.values())
    manifest = json.loads((run / "data" / "synth_piano" / "manifest.json").read_text())
    assert manifest["params"]["test_input_sdr_db"] == 10.0


def test_generator_params_with_a_typo_are_refused(tmp_path):
    # a misspelt test_input_sdr_db would otherwise leave Table 3's test set unscaled without a word
    with pytest.raises(ValueError, match=r"module synthetic_piano\)\.test_input_sdr: unknown parameter"):
        steps.prepare("synthetic_piano", {"test_input_sdr": 10.0}, tmp_path)
    assert not (tmp_path / "test.npy").exists()
