"""Smoke run of the whole pipeline on real recordings (tests/fixtures/audio)."""

import csv
import math

import yaml

from conftest import ROOT, snakemake


def test_pipeline_on_real_music_and_speech_clips(tmp_path, fixtures_audio):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["run"] = "real_audio"
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["datasets"] = {"clips": {"module": "audio_folder", "params": {
        "path": str(fixtures_audio), "segment_seconds": 1.0, "max_segments_per_file": 6,
        "file_fractions": {"test": 0.2, "val": 0.2}}}}
    cfg["experiments"]["table1"]["dataset"] = "clips"
    cfg["experiments"]["table1"]["methods"] = {"identity": None, "supervised": {"variants": ["full"]},
                                               "self_supervised": {"variants": ["proposed"]}}
    del cfg["figures"]  # they name the tiny run's other variants
    del cfg["experiments"]["table1"]["reference"]  # no reference row: the tables test against the best row
    path = tmp_path / "real.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake("--cores", "2", "--configfile", str(path), timeout=900)
    run = tmp_path / "results" / "real_audio"
    manifest = yaml.safe_load((run / "data" / "clips" / "manifest.json").read_text())
    assert manifest["skipped"] == [] and manifest["splits"]["test"]["items"] > 0
    rows = list(csv.DictReader(open(run / "tables" / "table1.csv")))
    assert [r["label"] for r in rows] == ["Identity", "Supervised", "Proposed SSL"]
    assert "(the best row, chosen after seeing the results), p-values Holm-adjusted over the 2 rows compared" in \
        (run / "tables" / "table1.md").read_text()
    for r in rows:
        assert math.isfinite(float(r["sdr_mean"])) and int(r["sdr_n"]) > 0
        assert math.isfinite(float(r["pesq_mean"]))
