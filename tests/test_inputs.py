"""``declipbench check-data``: every input of a run from outside the repository, in seconds, with what to do."""

import subprocess
import sys
import time

import yaml

from conftest import ROOT
from declipbench.pipeline.config import load_config
from declipbench.pipeline.data_check import run_inputs
from declipbench.foundation.inputs import DOWNLOAD, MANUAL, PRESENT, missing_manual, summary


def _by_what(inputs):
    return {i.what.split(" (")[0]: i for i in inputs}


def test_check_data_names_each_manual_input_of_the_paper_config_in_seconds(tmp_path):
    cfg = tmp_path / "paper.yaml"
    cfg.write_text((ROOT / "config" / "paper.yaml").read_text() + f"\ndata_dir: {tmp_path / 'data'}\n"
                   f"results_dir: {tmp_path / 'results'}\n")
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "declipbench", "check-data", "--configfile", str(cfg)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert time.time() - t0 < 30
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    for what in ("AESDD archive", "DrTMO HDR images", "DRUNet weights"):
        line = next(l for l in out.splitlines() if what in l)
        assert line.split()[0] == "manual", line
    assert "GTZAN archive" in out and "1.2 GB" in out and "web.archive.org" in out
    assert "MNIST test images" in out and "3 manual step(s) missing" in out
    assert "sha256sum aesdd.zip" in out  # the manual step says what to do


def test_inputs_placed_by_hand_are_present_and_the_demo_needs_none(tmp_path):
    c = load_config(ROOT / "config" / "paper.yaml", overrides={"data_dir": str(tmp_path), "results_dir": str(tmp_path / "r")})
    for genre in ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"):
        (tmp_path / "gtzan" / "genres" / genre).mkdir(parents=True)
    for emotion in ("anger", "disgust", "fear", "happiness", "sadness"):
        (tmp_path / "aesdd" / "extracted" / "db" / emotion).mkdir(parents=True)
    (tmp_path / "drtmo" / "Test").mkdir(parents=True)
    (tmp_path / "drtmo" / "Test" / "a.hdr").write_bytes(b"#?RADIANCE\n")
    (tmp_path / "maestro").mkdir()
    (tmp_path / "maestro" / "maestro-v3.0.0.zip").write_bytes(b"placed")
    found = _by_what(run_inputs(c))
    assert found["GTZAN genres/ folder"].status == PRESENT
    assert found["AESDD extracted folder"].status == PRESENT
    assert found["HDR images"].status == PRESENT and found["MAESTRO v3.0.0 zip"].status == PRESENT
    assert found["SQAM excerpt a08_violin"].status == DOWNLOAD and found["DRUNet weights"].status == MANUAL
    assert [i.what for i in missing_manual(list(found.values()))] == ["DRUNet weights"]
    demo = load_config(ROOT / "config" / "config.yaml")
    assert run_inputs(demo) == [] and "made by the suite itself" in summary([])


def test_a_prepared_data_set_needs_nothing_more(tmp_path):
    c = load_config(ROOT / "config" / "paper.yaml", overrides={"data_dir": str(tmp_path), "results_dir": str(tmp_path / "r")})
    manifest = tmp_path / "r" / "paper" / "data" / "aesdd" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    found = _by_what(run_inputs(c))
    assert found["data set aesdd"].status == PRESENT and "AESDD archive" not in found


def test_the_workflow_names_missing_manual_inputs_at_dry_run(tmp_path):
    from conftest import snakemake

    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg["data_dir"], cfg["results_dir"] = str(tmp_path / "data"), str(tmp_path / "results")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = snakemake("-n", "--configfile", str(path))
    text = out.stdout + out.stderr
    assert "3 manual step(s) missing" in text and "DrTMO HDR images" in text
