"""A tiny end-to-end Table 4 and Figure 8 through the step functions the rules call (no snakemake)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from declipbench.data import io
from declipbench.pipeline import steps
from declipbench.pipeline.config import job_spec, validate_config
from declipbench.metrics.niqe import niqe_model
from declipbench.physics import Thresholds
from declipbench.pipeline.steps import evaluate
from declipbench.report.figures import example_figure, pick_item, saturated_window
from declipbench.report.tables import write_tables

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


CONFIG = {
    "run": "t4", "threads": 1, "progress": False, "device": "cpu",
    "datasets": {"hdr": {"module": "synthetic_hdr",
                         "params": {"splits": {"train": 2, "val": 1, "test": 2}, "scene_size": 192, "size": 192,
                                    "patch": 32, "patches_per_image": 4}}},
    "experiments": {"table4": {
        "modality": "image", "dataset": "hdr", "tau": 1.0, "metrics": ["psnr", "niqe"],
        "methods": {"identity": None,
                    "dpir": {"variants": ["standin"],
                             "params": {"denoiser": {"steps": 2, "widths": [4, 8, 8, 8], "batch_size": 2, "crop": 32},
                                        "dpir": {"iterations": 2}}},
                    "supervised": {"variants": ["full"]},
                    "self_supervised": {"variants": ["proposed"],
                                        "params": {"network": {"arch": "hqs", "hqs_iterations": 2}}}},
        "method_defaults": {"network": {"channels": 4, "depth": 2},
                            "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 32}},
    }},
}


def test_tiny_table4_end_to_end(tmp_path):
    cfg = validate_config(CONFIG)
    steps.prepare("synthetic_hdr", cfg["datasets"]["hdr"]["params"], tmp_path / "data")
    m = steps.measure(tmp_path / "data", tmp_path / "meas", 1.0, modality="image")
    assert m["modality"] == "image" and m["splits"]["test"]["items_kept"] == 2
    y = np.load(tmp_path / "meas" / "test_y.npy")
    x = np.load(tmp_path / "meas" / "test_x.npy")
    assert y.shape == (2, 3, 192, 192) and np.all(y <= 1) and np.all((y >= 1) == (x >= 1))
    assert 0.05 <= m["splits"]["test"]["saturated_pixel_fraction_mean"] <= 0.15
    assert m["splits"]["test"]["measurement"] == "virtual camera"
    with pytest.raises(ValueError, match="tau must be 1"):
        steps.measure(tmp_path / "data", tmp_path / "meas2", 0.5, modality="image")
    with pytest.raises(ValueError, match="audio data must be items x samples"):
        steps.measure(tmp_path / "data", tmp_path / "meas3", 1.0)  # the declared modality decides, not the rank

    files, recons = [], []
    for method, variant in [("identity", "default"), ("dpir", "standin"), ("supervised", "full"),
                            ("self_supervised", "proposed")]:
        spec = job_spec(cfg, "table4", method, variant, 0)
        model_dir = tmp_path / "models" / method
        if spec["trains"]:
            steps.train(spec, tmp_path / "meas", model_dir)
            assert (model_dir / "model.pt").is_file()
        rec = tmp_path / "rec" / f"{method}.npz"
        steps.reconstruct(spec, tmp_path / "meas", model_dir if spec["trains"] else None, rec)
        out = tmp_path / "metrics" / f"{method}.csv"
        evaluate(spec, "hdr", tmp_path / "meas", rec, ["psnr", "niqe"], out)
        files.append(out)
        recons.append((spec["label"], io.load_arrays(rec)["x_hat"]))
    summary = write_tables(files, ["psnr", "niqe"], tmp_path / "tables" / "table4", tmp_path / "all.csv", "Table 4")
    assert [r["method"] for r in summary] == ["identity", "dpir", "supervised", "self_supervised"]
    for r in summary:
        assert r["psnr_n"] == 2 and math.isfinite(r["psnr_mean"])
    ident = next(r for r in summary if r["method"] == "identity")
    psnr_id = [10 * np.log10(a.max() ** 2 / np.mean((a - b) ** 2)) for a, b in zip(x, y)]
    assert ident["psnr_mean"] == pytest.approx(np.mean(psnr_id), rel=1e-6)
    model, source = niqe_model()  # shipped with the package: NIQE works offline
    assert model is not None and "shipped with the package" in source
    assert all(r["niqe_n"] == 2 and math.isfinite(r["niqe_mean"]) for r in summary)
    md = (tmp_path / "tables" / "table4.md").read_text()
    assert "PSNR (dB)" in md and "NIQE" in md and "stand-in" in md

    i = pick_item(x, y, None)
    fig = tmp_path / "fig8.png"
    example_figure("image", x[i], y[i], [(lab, r[i]) for lab, r in recons], 1.0, 22050, fig, title="Figure 8")
    assert fig.stat().st_size > 10_000


def test_saturated_window_finds_the_brightest_block():
    y = np.zeros((3, 40, 50))
    y[1, 20:30, 5:15] = 1.0
    assert saturated_window(y, 10) == (20, 5)


def test_fit_on_images_uses_square_crops_and_is_deterministic(tmp_path):
    import torch

    from declipbench.foundation.parameters import resolve
    from declipbench.foundation.contracts import Context
    from declipbench.training import TrainSettings, fit
    from declipbench.training.learned import NetworkMethod, build_model
    from declipbench.training.loop import _crop_corners, _take2d

    gen = torch.Generator().manual_seed(0)
    data = torch.arange(2 * 3 * 20 * 30, dtype=torch.float32).reshape(2, 3, 20, 30)
    corners = _crop_corners(5, 20, 30, 16, gen)
    patch = _take2d(data, torch.tensor([1, 0, 1, 1, 0]), corners, 16)
    assert patch.shape == (5, 3, 16, 16)
    t, l = int(corners[0][0]), int(corners[1][0])
    assert torch.equal(patch[0], data[1, :, t : t + 16, l : l + 16])
    assert _crop_corners(2, 20, 30, 64, gen) is None

    rng = np.random.default_rng(0)
    x = (rng.random((4, 3, 24, 24)) * 1.5).astype(np.float32)
    y = np.minimum(x, 1.0)
    weights = []
    for run in ("a", "b"):
        params = resolve(NetworkMethod.declaration(), {
            "network": {"channels": 4, "depth": 2, "arch": "hqs", "hqs_iterations": 2}, "losses": ["mc", "ei"],
            "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 16}}, "t")
        ctx = Context(params=params, tau_low=-1.0, tau_high=1.0, seed=3, modality="image")
        model = build_model(params, ctx, x.shape)
        s, losses = TrainSettings.from_params(params["training"]), NetworkMethod.losses(params)
        rows = fit(model, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path / run, y, None, y[:1], x[:1], modality="image", seed=3,
                   threads=1, progress=False)
        assert math.isfinite(rows[-1]["train_loss"]) and "val_sdr" in rows[-1]
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    with pytest.raises(ValueError, match="items x C x H x W"):
        fit(model, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path / "c", y[:, 0], None, modality="image", progress=False)


def test_measure_images_without_camera_is_plain_clipping(tmp_path):
    from declipbench.pipeline.steps import measure

    rng = np.random.default_rng(1)
    x = (rng.random((3, 3, 16, 16)) * 0.9).astype(np.float32)
    x[0, 0, :4, :4] = 2.0
    x[2, 1, 5, 5] = 1.5
    for split in ("train", "val", "test"):
        io.save_npy(tmp_path / "d" / f"{split}.npy", x)
    m = measure(tmp_path / "d", tmp_path / "m", 1.0, modality="image")
    assert m["splits"]["test"]["items_kept"] == 2 and m["splits"]["test"]["dropped_unclipped"] == 1
    assert m["splits"]["test"]["measurement"].startswith("plain clipping")
    np.testing.assert_array_equal(np.load(tmp_path / "m" / "test_ids.npy"), [0, 2])
    np.testing.assert_array_equal(np.load(tmp_path / "m" / "test_y.npy"), np.minimum(x[[0, 2]], 1.0))
    m = measure(tmp_path / "d", tmp_path / "m2", 1.0, modality="image", drop_unclipped=False, max_items={"test": 1})
    assert m["splits"]["test"]["items_kept"] == 1


@pytest.mark.full
def test_dag_declares_the_camera_files():
    """The virtual camera of every item is a declared output of the image data rule and an input of
    measure: deleting it makes Snakemake rebuild it, never a silent fall-back to plain clipping."""
    import re

    from conftest import snakemake

    out = snakemake("-n", "--forceall", "--configfile", "config/config.yaml").stdout
    assert re.search(r"^prepare_image_dataset\s+1$", out, re.M) and re.search(r"^prepare_dataset\s+3$", out, re.M)
    block = out[out.index("rule prepare_image_dataset:"):]
    block = block[: block.index("\n\n")]
    for split in ("train", "val", "test"):
        assert f"results/demo/data/synth_hdr/{split}_camera.npy" in block
    measure = re.search(r"rule measure:\n    input: ([^\n]*synth_hdr[^\n]*)", out)
    assert measure and "results/demo/data/synth_hdr/test_camera.npy" in measure.group(1)
    assert "synth_music/train_camera.npy" not in out  # audio datasets have no camera
