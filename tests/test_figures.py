"""The paper's illustration figures: each figure's data checked against what the figure claims."""

from __future__ import annotations

import copy
import csv
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from declipbench.pipeline import steps
from declipbench.pipeline.config import ConfigError, load_config, validate_config
from declipbench.report.figures import hdr_mask_rows, most_clipped_item
from declipbench.pipeline.figures import load_figure

MC_LOSSES = load_figure("mc_losses")
COLUMNS, mc_loss_curves = MC_LOSSES.COLUMNS, MC_LOSSES.mc_loss_curves


def paper_figure(key: str, params: dict, out_dir, values: dict | None = None, check: bool = True):
    """``python -m declipbench paper-figure`` on a hand-made spec: ``params`` resolved against the figure's
    declaration (and checked by its ``check`` where it needs no experiment), PNGs into ``out_dir``."""
    import json

    from declipbench.foundation.parameters import resolve

    mod = load_figure(key)
    resolved = resolve(mod.PARAMETERS, params, f"figures.{key}")
    if check:
        mod.check(resolved, {"experiments": {}}, f"figures.{key}") if hasattr(mod, "check") else None
    spec = {"figure": key, "params": resolved, "inputs": {}, "values": values or {},
            "outputs": {stem: str(out_dir / f"{stem}.png") for stem in mod.OUTPUTS}}
    return subprocess.run([sys.executable, "-m", "declipbench", "paper-figure", "--job", json.dumps({"spec": spec})],
                          cwd=ROOT, capture_output=True, text=True)


# ------------------------------------------------------------------ Figure 2: naive MC against MC
@pytest.mark.parametrize("tau, reliable_y", [(1.0, 0.5), (0.1, -0.3)])
def test_figure2_naive_mc_is_flat_beyond_the_threshold_and_mc_is_not(tau, reliable_y):
    c = mc_loss_curves(tau=tau, reliable_y=reliable_y, span=2.0, points=401)
    x = c["x_hat"]
    beyond, inside = np.abs(x) > tau * (1 + 1e-9), np.abs(x) < tau * (1 - 1e-9)
    y_rel = reliable_y * tau
    # the naive loss (eq. 6) has no gradient beyond the threshold, on a reliable sample where it is
    # wrong (loss > 0) and on a clipped sample estimated below -tau: gradient descent cannot move it
    assert np.all(c["reliable_naive_mc_grad"][beyond] == 0) and np.all(c["reliable_naive_mc"][beyond] > 0)
    assert np.all(c["clipped_naive_mc_grad"][x < -tau * (1 + 1e-9)] == 0)
    assert np.all(c["clipped_naive_mc"][x < -tau * (1 + 1e-9)] == pytest.approx(4 * tau ** 2))
    # MC (eq. 7) on a reliable sample is (x_hat - y)^2 everywhere: it pulls the estimate back to y
    assert np.allclose(c["reliable_mc"], (x - y_rel) ** 2) and np.allclose(c["reliable_mc_grad"], 2 * (x - y_rel))
    # on a clipped-high sample: the one-sided penalty, zero (and flat) at or above tau, 2 (x_hat - tau) below
    above = x >= tau
    assert np.all(c["clipped_mc"][above] == 0) and np.all(c["clipped_mc_grad"][above] == 0)
    assert np.allclose(c["clipped_mc_grad"][~above], 2 * (x[~above] - tau))
    # inside the threshold both are the same squared error
    for case in ("reliable", "clipped"):
        assert np.allclose(c[f"{case}_naive_mc"][inside], c[f"{case}_mc"][inside])
        assert np.allclose(c[f"{case}_naive_mc_grad"][inside], c[f"{case}_mc_grad"][inside])


@pytest.mark.parametrize("kw, msg", [({"tau": 0}, "tau must be > 0"), ({"reliable_y": 1.0}, r"\|reliable_y\| < 1"),
                                     ({"span": 1.0}, "span > 1"), ({"points": 2}, "points >= 3")])
def test_figure2_bad_settings_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        mc_loss_curves(**kw)


def test_figure2_command_writes_the_figure_and_its_data(tmp_path):
    png, table = tmp_path / "f" / "fig2_mc_losses.png", tmp_path / "f" / "fig2_mc_losses.csv"
    proc = paper_figure("mc_losses", {"tau": 0.5, "points": 11}, tmp_path / "f")
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(table)))
    assert len(rows) == 11 and list(rows[0]) == list(COLUMNS)
    assert float(rows[0]["x_hat"]) == -1.0 and float(rows[-1]["x_hat"]) == 1.0
    assert not list(tmp_path.joinpath("f").glob(".*"))   # no temporary left behind


# ------------------------------------------------------------- Figure 4: an HDR image and its mask
def test_figure4_mask_counts_are_the_clipped_samples_of_the_measurement():
    rng = np.random.default_rng(0)
    y = np.minimum(rng.uniform(0, 1.5, size=(3, 4, 5)), 1.0)
    rows = {r["channel"]: r for r in hdr_mask_rows(y, 1.0)}
    for c, name in enumerate("RGB"):
        assert rows[name]["clipped"] == int((y[c] >= 1.0).sum()) and rows[name]["pixels"] == 20
    assert rows["any channel"]["clipped"] == int((y >= 1).any(axis=0).sum())
    assert rows["every channel"]["clipped"] == int((y >= 1).all(axis=0).sum())
    assert rows["every channel"]["clipped"] <= min(rows[n]["clipped"] for n in "RGB") <= rows["any channel"]["clipped"]
    stack = np.stack([np.zeros_like(y), y, np.ones_like(y) * 0.5])
    assert most_clipped_item(stack, 1.0) == 1


def test_figure4_command_on_measured_hdr_items(tmp_path):
    steps.prepare("synthetic_hdr", {"splits": {"train": 1, "val": 1, "test": 3}, "scene_size": 32, "size": 32,
                                    "patch": 16, "patches_per_image": 2}, tmp_path / "data")
    steps.measure(tmp_path / "data", tmp_path / "m", 1.0, modality="image")
    y, _ = steps.load_split(tmp_path / "m", "test", with_x=False)
    png, table = tmp_path / "f" / "fig4_hdr_mask.png", tmp_path / "f" / "fig4_hdr_mask.csv"
    values = {"measurements": str(tmp_path / "m"), "tau": 1.0}
    proc = paper_figure("hdr_mask", {"experiment": "t"}, tmp_path / "f", values, check=False)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(table)))
    item = most_clipped_item(y, 1.0)
    assert {int(r["item"]) for r in rows} == {item}
    assert int(rows[3]["clipped"]) == int((y[item] >= 1).any(axis=0).sum()) > 0
    bad = paper_figure("hdr_mask", {"experiment": "t", "item": 7}, tmp_path / "f", values, check=False)
    assert bad.returncode != 0 and "item = 7 is outside the" in bad.stderr


def test_figure4_needs_an_image_experiment():
    cfg = load_config(ROOT / "config" / "config.yaml")
    for experiment, msg in (("table9", "unknown experiment 'table9'"), ("table1", "has modality 'audio'")):
        bad = copy.deepcopy(cfg)
        bad["figures"]["hdr_mask"] = {"experiment": experiment}
        with pytest.raises(ConfigError, match=rf"figures\.hdr_mask\.experiment: .*{msg}"):
            validate_config(bad, "x.yaml")


# ----------------------------------------------------------- Figure 7: the synthetic subspace experiment
def test_figure7_vectors_lie_in_the_subspace_and_clip_the_stated_proportion():
    subspace_data = load_figure("subspace").subspace_data

    x, y = subspace_data(k=3, p=0.2, n=100, count=50, seed=1)
    assert x.shape == y.shape == (50, 100)
    assert np.all((np.abs(x) > 1).sum(axis=1) == 20)  # exactly round(p n) entries clip at tau = 1
    np.testing.assert_array_equal(y, np.clip(x, -1, 1))
    assert np.linalg.matrix_rank(x.astype(np.float64), tol=1e-4) == 3  # a 3-dimensional subspace
    x2, _ = subspace_data(k=3, p=0.2, n=100, count=60, seed=1)
    np.testing.assert_array_equal(x2[:50], x)  # more vectors, the same subspace and the same first ones


@pytest.mark.full
def test_figure7_sdr_falls_as_k_and_p_grow_and_supervised_is_the_reference(tmp_path):
    """The command on a 2 x 2 grid: one row per cell; every method's SDR is lower at the larger subspace
    and the larger clipped proportion; supervised (pairs) is above MC + EI (measurements only)."""
    png, table = tmp_path / "fig7_subspace.png", tmp_path / "fig7_subspace.csv"
    proc = paper_figure("subspace", {"ks": [2, 30], "ps": [0.1, 0.4], "train": 500, "test": 100, "epochs": 3}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {(int(r["k"]), float(r["p"])): {k: float(v) for k, v in r.items()} for r in csv.DictReader(open(table))}
    assert sorted(rows) == [(2, 0.1), (2, 0.4), (30, 0.1), (30, 0.4)]
    for key in ("identity_sdr", "ssl_sdr", "supervised_sdr"):
        assert rows[(2, 0.1)][key] > rows[(2, 0.4)][key] and rows[(2, 0.1)][key] > rows[(30, 0.4)][key], key
    assert rows[(2, 0.1)]["supervised_sdr"] > rows[(30, 0.1)]["supervised_sdr"]
    assert all(r["supervised_sdr"] > r["ssl_sdr"] for r in rows.values())


def test_figure7_settings_are_checked_with_the_config():
    cfg = load_config(ROOT / "config" / "config.yaml")
    for patch, msg in (({"ks": [100]}, r"ks: k = 100 is not below dim = 100"),
                       ({"ps": [0.001]}, r"ps: p = 0.001 clips 0 of 100"),
                       ({"ei": {"gmax": 3}}, r"figures\.subspace\.ei\.gmax: unknown parameter")):
        bad = copy.deepcopy(cfg)
        bad["figures"]["subspace"] = {**bad["figures"]["subspace"], **patch}
        with pytest.raises(ConfigError, match=msg):
            validate_config(bad, "x.yaml")
    assert cfg["figures"]["subspace"]["ei"]["g_max"] == 2.0 and cfg["figures"]["subspace"]["ei"]["core_weight"] == 1.0


def _reconstructor(bias: bool):
    import torch

    from declipbench.models.masking import MaskedReconstructor
    from declipbench.models.unet import UNet
    from declipbench.physics.clipping import Thresholds

    torch.manual_seed(0)
    net = UNet(dim=1, channels=4, depth=2, bias=bias)
    if bias:  # a trained biased network has non-zero biases; the initial ones may be near zero
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name.endswith("bias"):
                    p.uniform_(-0.05, 0.05)
    return MaskedReconstructor(net, Thresholds(-0.1, 0.1)).eval()


def test_figure3_bias_free_network_is_homogeneous_and_silent_on_silence_the_biased_one_is_not():
    bias_rows = load_figure("bias").bias_rows

    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    x = (0.3 * np.sin(np.linspace(0, 60, 512)) + 0.05 * np.random.default_rng(0).standard_normal(512)).astype(np.float32)
    rows, shown = bias_rows([("free", False, _reconstructor(False)), ("biased", True, _reconstructor(True))], x, 0.1,
                            [0.9, 0.001, 0.1])
    free = [r for r in rows if r["label"] == "free"]
    biased = [r for r in rows if r["label"] == "biased"]
    assert [r["level"] for r in free] == [0.001, 0.1, 0.9]
    for r in free:  # f(a y) = a f(y): the same relative error at every level, f(0) = 0
        assert r["homogeneity_error"] < 1e-5 and r["silence"] == 0.0
        assert r["error"] == pytest.approx(free[-1]["error"], rel=1e-4)
    assert biased[0]["homogeneity_error"] > 1e-2 and biased[0]["silence"] > 1e-3
    assert biased[0]["error"] > 10 * biased[-1]["error"]  # the offset dominates quiet inputs
    for r in rows:  # with the masking blend an unsaturated input comes back exactly, biases or not
        assert r["masked_error"] == 0.0 and r["peak"] == pytest.approx(r["level"] * 0.1)
    assert set(shown) == {"free", "biased"} and np.abs(shown["free"][0]).max() == pytest.approx(0.09, rel=1e-5)
    with pytest.raises(ValueError, match="below the clipping level"):
        bias_rows([("free", False, _reconstructor(False))], x, 0.1, [0.5, 1.0])


def test_figure3_needs_both_variants_in_an_audio_experiment():
    cfg = load_config(ROOT / "config" / "config.yaml")
    bad = copy.deepcopy(cfg)
    bad["figures"]["bias"] = {"experiment": "table1", "biased": "with_bias_mt"}
    with pytest.raises(ConfigError, match="figures.bias.biased: self_supervised/with_bias_mt is not among the variants"):
        validate_config(bad, "c.yaml")
    bad["figures"]["bias"] = {"experiment": "table4"}
    with pytest.raises(ConfigError, match="figures.bias.experiment: 'table4' has modality 'image'"):
        validate_config(bad, "c.yaml")


# --------------------------------------------------------------- Figures 5 and 6: the toy experiment
def test_figure5_without_A_amplitudes_above_a_star_give_one_measurement_with_A_they_do_not():
    from declipbench.physics.operators import haar_orthogonal
    toy = load_figure("toy")

    x0 = toy.synthetic_digit()
    assert x0.shape == (28, 28) and x0.min() == 0.0 and x0.max() == 1.0
    assert np.array_equal(x0, toy.synthetic_digit())  # made, not drawn: the same every time
    assert 0.05 < np.mean((x0 > 0) & (x0 < 0.5)) < 0.5  # grey edges, so pixels clip one after another
    assert np.linalg.norm(toy.normalised(x0)) == pytest.approx(28.0, rel=1e-5)
    A = haar_orthogonal(toy.N, np.random.default_rng(0))
    assert np.allclose(A @ A.T, np.eye(toy.N), atol=1e-10)
    a_star = toy.saturation_amplitude(x0)
    rows = toy.uniqueness_rows(x0, A, list(np.geomspace(0.05, 4 * a_star, 14)))
    for r in rows:
        if r["a"] >= a_star:
            assert r["distance_without_A"] == 0.0 and r["clipped_without_A"] == pytest.approx(np.mean(x0 > 0))
        else:
            assert r["distance_without_A"] > 0
        assert r["distance_with_A"] > 0.1  # A mixes every pixel into every measurement
    assert sum(r["a"] >= a_star for r in rows) >= 2


def test_idx_reader_reads_what_it_is_given_and_refuses_a_short_file(tmp_path):
    import gzip

    read_idx_images = load_figure("toy").read_idx_images

    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    head = b"".join(int(v).to_bytes(4, "big") for v in (2051, 2, 3, 4))
    good = tmp_path / "t.gz"
    good.write_bytes(gzip.compress(head + imgs.tobytes()))
    assert np.array_equal(read_idx_images(good), imgs)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(head + imgs.tobytes()[:-5]))
    with pytest.raises(ValueError, match="short.gz: 19 bytes of pixels, the header announces 2 x 3 x 4"):
        read_idx_images(short)
    with pytest.raises(ValueError, match="not an IDX image file"):
        read_idx_images(_write(tmp_path / "x", b"\0\0\x08\x01" + head[4:]))


def _write(path, data):
    path.write_bytes(data)
    return path


def test_mnist_file_placed_by_hand_is_used_only_with_the_published_checksum(tmp_path):
    from declipbench.data.download import ChecksumError
    mnist_digit = load_figure("toy").mnist_digit

    wrong = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    wrong.parent.mkdir()
    wrong.write_bytes(b"not mnist")
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        mnist_digit(tmp_path, 0)
    assert not wrong.exists()  # moved aside, never read


def test_figure6_operator_reconstructor_is_homogeneous_and_mc_alone_cannot_leave_the_back_projection():
    """y -> A f(A^T y) with a bias-free U-Net is homogeneous; MC is zero for the back-projection itself, so a
    network trained on MC alone gains nothing over A^T y."""
    torch = pytest.importorskip("torch")
    from declipbench.physics.operators import haar_orthogonal
    toy = load_figure("toy")

    torch.set_num_threads(1)
    x0 = toy.synthetic_digit()
    A = haar_orthogonal(toy.N, np.random.default_rng(1))
    model = toy.OperatorReconstructor.build(A, channels=4, depth=2, seed=0).eval()
    _, y = toy.toy_data(x0, A, 3, 1.0, seed=0)
    yt = torch.as_tensor(y)[:, None, :]
    with torch.no_grad():
        assert torch.allclose(model(3.0 * yt), 3.0 * model(yt), rtol=1e-4, atol=1e-4)  # float32 784 x 784 products
    mc, _ = toy.train_toy(x0, A, mu=1.0, train=64, epochs=1, steps=5, batch=8, lr=1e-3, ei=None, channels=4, depth=2,
                          seed=0, threads=1)
    rows = toy.error_rows(x0, A, [0.5, 2.0], {"mc": mc, "mc_ei": mc})
    for r in rows:
        assert r["clipped_fraction"] > 0 and r["mc_error"] > 0.98 * r["backprojection_error"]


# ------------------------------------------------------------------ Delta SDR against input SDR
def test_input_sdr_levels_hit_their_targets_and_unreachable_ones_are_counted(tmp_path):
    from declipbench.data import io as dio
    from declipbench.metrics.sdr import sdr_db_items
    from declipbench.pipeline.input_sdr import measure_levels

    curve_rows = load_figure("input_sdr").curve_rows

    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    x = np.stack([np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.3 * rng.standard_normal(t.size) for i in range(4)])
    meas = tmp_path / "meas"
    dio.save_npy(meas / "test_x.npy", (0.2 * x).astype(np.float32))
    dio.save_npy(meas / "test_y.npy", np.clip(0.2 * x, -0.1, 0.1).astype(np.float32))
    dio.save_npy(meas / "test_ids.npy", np.array([5, 6, 7, 8]))
    out = tmp_path / "levels"
    manifest = measure_levels(meas, out, 0.1, [3.0, 12.0, 200.0], items=3)
    assert manifest["levels"]["3"] == {"kept": 3, "left_out": []}
    assert manifest["levels"]["200"] == {"kept": 0, "left_out": [5, 6, 7]}  # beyond clipping at 0.99 of the peak
    xs, ys = np.load(out / "test_x.npy"), np.load(out / "test_y.npy")
    levels = np.load(out / "levels.npy")
    assert levels.tolist() == [3.0] * 3 + [12.0] * 3 and np.load(out / "test_ids.npy").tolist() == [5, 6, 7] * 2
    assert np.abs(ys).max() == pytest.approx(0.1) and np.array_equal(ys, np.clip(xs, -0.1, 0.1))
    assert np.allclose(sdr_db_items(xs, ys), levels, atol=1e-3)  # the threshold stays tau, the level is exact
    dio.save_arrays(tmp_path / "id.npz", x_hat=ys)
    bad = 0.99 * xs  # near the clean items, a finite SDR
    bad[1] = np.nan
    dio.save_arrays(tmp_path / "bad.npz", x_hat=bad)
    rows = curve_rows(out, [("Identity", tmp_path / "id.npz"), ("Oracle with a failure", tmp_path / "bad.npz")])
    dio.save_arrays(tmp_path / "exact.npz", x_hat=xs)
    exact = curve_rows(out, [("Exact", tmp_path / "exact.npz")])
    assert len(exact) == 2 and all(r["items"] == 0 and r["missing"] == 3 for r in exact)  # SDR +inf: missing, as in the tables
    ident = [r for r in rows if r["label"] == "Identity"]
    assert [r["input_sdr"] for r in ident] == [3.0, 12.0]
    assert all(r["mean_delta_sdr"] == 0.0 and r["items"] == 3 and r["missing"] == 0 for r in ident)
    oracle = [r for r in rows if r["label"] == "Oracle with a failure"]
    assert oracle[0]["missing"] == 1 and oracle[0]["items"] == 2 and oracle[1]["missing"] == 0  # never averaged
    assert oracle[1]["mean_delta_sdr"] == pytest.approx(40.0 - 12.0, abs=1e-3)  # 0.99 x: SDR 40 dB


def test_input_sdr_figure_needs_an_audio_experiment():
    cfg = load_config(ROOT / "config" / "config.yaml")
    bad = copy.deepcopy(cfg)
    bad["figures"]["input_sdr"] = {"experiment": "table4"}
    with pytest.raises(ConfigError, match="figures.input_sdr.experiment: 'table4' has modality 'image'"):
        validate_config(bad, "c.yaml")


def test_ei_description_names_each_version_of_the_ei_term():
    from declipbench.report.subspace_figure import ei_description

    assert ei_description({}) == "g_max 2, eq. 11 as written, gradients through both terms"
    assert ei_description({"g_max": 4.0, "core_weight": 0.0}) == "g_max 4, EI residual on reliable samples only (ours)"
    assert ei_description({"stop_gradient": True}) == "g_max 2, target detached"
    assert ei_description({"stop_gradient": True, "target_on_clipped": "measurement"}) == \
        "g_max 2, target detached, y as EI target where clipped"
    # y as the target alone is not the paper's version through both terms
    assert ei_description({"target_on_clipped": "measurement"}) == "g_max 2, y as EI target where clipped"


def test_figure7_verdict_counts_the_cells_above_identity_from_the_values():
    from declipbench.report.subspace_figure import verdict

    rows = [{"identity_sdr": 5.0, "ssl_sdr": 4.0, "supervised_sdr": 10.0},
            {"identity_sdr": 5.0, "ssl_sdr": 8.0, "supervised_sdr": 12.0},
            {"identity_sdr": 20.0, "ssl_sdr": 20.0, "supervised_sdr": 30.0}]
    # gains -1, +3, 0 (mean +0.7); gaps 6, 4, 10 (mean 6.7); a tie is not "above"
    assert verdict(rows) == "above Identity in 1 of 3 cells, mean +0.7 dB; 6.7 dB below supervised"


def test_a_figure_key_must_name_a_figure_module_and_a_path_is_never_imported(tmp_path):
    """A key under ``figures:`` selects code: only a module of figures/ is loaded; an unknown key is refused
    listing the figures, a path is refused by the schema before anything is imported."""
    cfg = load_config(ROOT / "config" / "config.yaml")
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    for key, msg in (("nosuch", r"unknown figure 'nosuch'.*available: \['bias', 'hdr_mask', 'input_sdr'"),
                     (str(tmp_path / "evil"), "figures"), ("../x", "figures")):
        bad = copy.deepcopy(cfg)
        bad["figures"][key] = {}
        with pytest.raises(ConfigError, match=msg):
            validate_config(bad, "x.yaml")
    assert not marker.exists()
    with pytest.raises(ConfigError, match=r"figures\.toy\.muu: unknown parameter"):  # checked from its declaration
        validate_config({**copy.deepcopy(cfg), "figures": {"toy": {"muu": 2}}}, "x.yaml")
