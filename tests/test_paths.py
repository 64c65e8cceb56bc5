"""The path registry (declipbench/foundation/paths.py): every file of a run is named there, the names it builds
are the layout its docstring draws, the measured/table names round-trip, and no rule or step builds a file
name of the layout by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from declipbench.foundation.paths import MEASURED_ARRAYS, SPLITS, Paths

ROOT = Path(__file__).resolve().parents[1]
P = Paths({"results_dir": "res", "run": "r"})


def test_the_layout_of_a_run():
    assert P.root == "res/r"
    assert P.data("music") == "res/r/data/music"
    assert P.data_files("music") == [f"res/r/data/music/{s}.npy" for s in SPLITS]
    assert P.data_files("hdr", image=True)[3:] == [f"res/r/data/hdr/{s}_camera.npy" for s in SPLITS]
    assert P.measurements("t1") == "res/r/measurements/t1"
    assert P.measurement_files("t1", splits=("test",)) == [f"res/r/measurements/t1/test_{a}.npy" for a in MEASURED_ARRAYS]
    assert Paths.manifest(P.measurements("t1")) == "res/r/measurements/t1/manifest.json"
    model = P.model("t1", "ssl", "proposed", 0)
    assert model == "res/r/models/t1/ssl/proposed/seed0"
    assert Paths.model_file(model) == f"{model}/model.pt" and Paths.spec_file(model) == f"{model}/spec.json"
    assert P.reconstruction("t1", "ssl", "proposed", 2) == "res/r/reconstructions/t1/ssl/proposed/seed2.npz"
    assert P.item_metrics("t1", "ssl", "proposed", 2) == "res/r/metrics/t1/ssl/proposed/seed2.csv"
    assert P.table_metrics("t1") == "res/r/metrics/t1.csv"
    assert P.tables("t1") == [f"res/r/tables/t1.{e}" for e in ("csv", "md", "tex")]
    assert P.table_prefix("t1") + ".md" == P.table("t1", "md")
    assert P.table_page("t1") == "res/r/report/t1.html" and P.listen_page("t1", 0) == "res/r/report/t1_listen1.html"
    assert P.paper_figure("fig7_subspace") == "res/r/figures/fig7_subspace.png"
    assert P.paper_figure("fig7_subspace", "csv") == "res/r/figures/fig7_subspace.csv"
    assert P.figure("t1") == "res/r/figures/t1_examples.png"
    assert P.input_sdr_files("t1") == ["res/r/input_sdr/t1/test_x.npy", "res/r/input_sdr/t1/test_y.npy",
                                       "res/r/input_sdr/t1/test_ids.npy", "res/r/input_sdr/t1/levels.npy",
                                       "res/r/input_sdr/t1/manifest.json"]
    assert P.input_sdr_reconstruction("t1", "spade", "a") == "res/r/input_sdr/t1/reconstructions/spade/a.npz"
    sig = Paths.signal_measured("sqam", "s1")
    assert sig == "sqam/signals/s1" and Paths.split_signal(sig) == ("sqam", "s1") and Paths.split_signal("t1") is None
    assert P.signal_measurement_files(sig) == [f"res/r/measurements/sqam/signals/s1/test_{a}.npy"
                                               for a in ("x", "y", "ids", "tau")]
    assert P.reconstruction(sig, "spade", "a", 0) == "res/r/reconstructions/sqam/signals/s1/spade/a/seed0.npz"
    assert P.log("train", "t1", "ssl") == "res/r/logs/train/t1/ssl.log"
    assert P.benchmark("figure", "toy") == "res/r/benchmarks/figure/toy.tsv"


@pytest.mark.parametrize("experiment,test_set", [("table1", None), ("table2", "synth_speech")])
def test_measured_sets_and_tables_round_trip(experiment, test_set):
    measured = Paths.measured(experiment, test_set)
    assert Paths.split_measured(measured) == (experiment, test_set)
    table = Paths.table_name(measured)
    assert Paths.measured_of_table(table) == measured
    assert table == (f"{experiment}/{test_set}" if test_set else experiment)


def test_every_path_is_under_the_run_folder():
    for name in dir(P):
        fn = getattr(P, name)
        if name.startswith("_") or not callable(fn) or name in ("split_measured", "measured", "table_name",
                                                                  "measured_of_table", "split_array", "split_data",
                                                                  "manifest", "model_file", "spec_file", "levels_file",
                                                                  "signal_measured", "split_signal"):
            continue
        names = fn.__code__.co_varnames[1:fn.__code__.co_argcount]
        out = fn(*[0 if n in ("k", "seed") else "a" for n in names])
        for p in out if isinstance(out, list) else [out]:
            assert p.startswith("res/r/") or p == "res/r/report.html", (name, p)


FILE_NAME = re.compile(r"[\"'][^\"'\n]*\.(npy|npz|pt|json|csv|png|tsv|log|html|tex)[\"']")


@pytest.mark.parametrize("path", sorted((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "Snakefile"],
                         ids=lambda p: p.name)
def test_no_rule_builds_a_file_name_by_hand(path):
    """Every file name a rule uses comes from the registry (``PATHS`` / ``Paths``): no quoted name with a file
    extension of the layout in a rule file."""
    found = [f"{path.name}:{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1)
             if FILE_NAME.search(line) and "endswith(" not in line]
    assert found == []


def test_the_check_sees_a_hand_built_name():
    assert FILE_NAME.search('        test_y=f"{PATHS.measurements(wc.measured)}/test_y.npy",')
    assert FILE_NAME.search("model=lambda wc: [f'{d}/model.pt']")
    assert not FILE_NAME.search('        conda: "../envs/torch.yaml"')


@pytest.mark.parametrize("path", sorted((ROOT / "declipbench" / "pipeline").glob("*.py")) + sorted((ROOT / "figures").glob("*.py")),
                         ids=lambda p: p.name)
def test_no_step_builds_a_file_name_of_the_layout_by_hand(path):
    """The steps and the figures read and write the layout's files through the registry too."""
    layout = re.compile(r"[\"'/](manifest\.json|model\.pt|spec\.json|levels\.npy|checkpoint\.pt|train_log\.csv)[\"']"
                        r"|_(x|y|ids)\.npy|\{split\}\.npy|_camera\.npy[\"']")
    found = [f"{path.name}:{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1)
             if layout.search(line) and not line.lstrip().startswith(("#", '"""', "``")) and "``" not in line]
    assert found == []
