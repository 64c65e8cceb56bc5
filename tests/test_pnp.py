"""The clipping prox, PnP DPIR, the unfolded HQS network, DRUNet (architecture = official checkpoints)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from conftest import ROOT
from declipbench.models import UNet2d, UnfoldedHQS
from declipbench.physics import Thresholds, clip_prox, masks
from declipbench.pipeline.plugins import import_method_module

# DPIR is private to its method folder: methods/dpir/drunet.py and pnp.py
_drunet = import_method_module(ROOT / "methods" / "dpir", "drunet")
DRUNet, fetch_weights, load_drunet, save_drunet = (_drunet.DRUNet, _drunet.fetch_weights, _drunet.load_drunet,
                                                   _drunet.save_drunet)
_pnp = import_method_module(ROOT / "methods" / "dpir", "pnp")
dpir, dpir_schedule = _pnp.dpir, _pnp.dpir_schedule

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


FIXTURES = Path(os.environ.get("DECLIPBENCH_FIXTURES", Path(__file__).resolve().parent / "fixtures"))
MANIFEST = FIXTURES / "drunet" / "state_dict_manifest.json"


def _objective(x, u, y, th, gamma):
    if th.low < y < th.high:
        data = (x - y) ** 2
    elif y >= th.high:
        data = max(th.high - x, 0.0) ** 2
    else:
        data = max(x - th.low, 0.0) ** 2
    return 0.5 * (x - u) ** 2 + 0.5 * gamma * data


@pytest.mark.parametrize("th", [Thresholds.upper(1.0), Thresholds.symmetric(0.3)])
@pytest.mark.parametrize("gamma", [0.05, 1.0, 7.5])
def test_prox_equals_numerical_argmin(th, gamma):
    rng = np.random.default_rng(int(gamma * 100))
    x = rng.uniform(-1.5, 2.5, 400)
    y = np.clip(x, th.low, th.high)
    u = x + rng.normal(0, 0.8, x.shape)  # points on both sides of the thresholds
    got = clip_prox(torch.tensor(u), torch.tensor(y), th, gamma).numpy()
    rel, high, low = masks(y, th)
    assert rel.any() and high.any() and (low.any() or th.low == 0)
    for i in range(len(u)):
        best = minimize_scalar(_objective, bracket=(-5.0, 5.0), args=(u[i], y[i], th, gamma),
                               method="brent", tol=1e-12).x
        assert got[i] == pytest.approx(best, abs=1e-6), (u[i], y[i])
        # and it is no worse than any nearby point
        f0 = _objective(got[i], u[i], y[i], th, gamma)
        for d in (1e-3, -1e-3):
            assert f0 <= _objective(got[i] + d, u[i], y[i], th, gamma) + 1e-12


def test_prox_limits_and_tensor_gamma():
    th = Thresholds.upper(1.0)
    y = torch.tensor([0.2, 1.0, 1.0, 0.7])
    u = torch.tensor([0.9, 1.4, 0.5, 0.1])
    proj = clip_prox(u, y, th, math.inf)
    assert proj.tolist() == pytest.approx([0.2, 1.4, 1.0, 0.7])
    big = clip_prox(u, y, th, 1e9)
    assert torch.allclose(big, proj, atol=1e-6)
    small = clip_prox(u, y, th, 1e-9)
    assert torch.allclose(small, u, atol=1e-6)
    per_pixel = clip_prox(u, y, th, torch.tensor([1.0, 1.0, 3.0, 3.0]))
    assert per_pixel[2].item() == pytest.approx((0.5 + 3.0) / 4.0)
    with pytest.raises(ValueError, match="gamma"):
        clip_prox(u, y, th, 0.0)


def test_dpir_schedule():
    sigmas, rhos = dpir_schedule(2 / 255)
    assert len(sigmas) == 8 and sigmas[0] == pytest.approx(49 / 255) and sigmas[-1] == pytest.approx(2 / 255)
    np.testing.assert_allclose(np.diff(np.log(sigmas)), np.log(2 / 49) / 7)
    np.testing.assert_allclose(rhos, 0.23 * (2 / 255) ** 2 / sigmas**2)


def test_dpir_tiny_random_denoiser_keeps_reliable_pixels():
    torch.manual_seed(0)
    den = DRUNet(channels=3, widths=(4, 8, 8, 16), blocks=1).eval()
    th = Thresholds.upper(1.0)
    x = torch.rand(2, 3, 20, 28, generator=torch.Generator().manual_seed(1)) * 1.6
    y = x.clamp(max=1.0)
    gen = torch.Generator().manual_seed(3)
    out = dpir(y, den, th, sigma=2 / 255, init_noise=0.1, generator=gen)
    assert out.shape == y.shape and torch.all(torch.isfinite(out))
    rel, high, _ = masks(y, th)
    assert torch.equal(out[rel], y[rel])  # projection: reliable pixels are the measurement
    assert torch.all(out[high] >= 1.0)
    # deterministic given the generator; the raw iterate is not the projection
    again = dpir(y, den, th, sigma=2 / 255, init_noise=0.1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, again)
    raw = dpir(y, den, th, sigma=2 / 255, init_noise=0.1, generator=torch.Generator().manual_seed(3), project=False)
    assert not torch.equal(raw, out)
    # with an identity denoiser the reliable pixels converge to y and saturated ones reach >= tau
    ident = dpir(y, lambda v, s: v, th, sigma=2 / 255, init_noise=0.0, project=False)
    assert torch.allclose(ident[rel], y[rel], atol=1e-3)


def test_bias_free_unet2d_is_homogeneous():
    torch.manual_seed(0)
    net = UNet2d(in_channels=3, channels=4, depth=4).double()
    y = torch.rand(2, 3, 24, 40, dtype=torch.float64)
    out = net(y)
    for lam in (0.1, 3.7, 250.0):
        torch.testing.assert_close(net(lam * y), lam * out, rtol=1e-9, atol=1e-12)
    biased = UNet2d(in_channels=3, channels=4, depth=4, bias=True).double()
    assert not torch.allclose(biased(3.7 * y), 3.7 * biased(y))


def test_bias_free_drunet_is_homogeneous_in_image_and_sigma():
    torch.manual_seed(0)
    den = DRUNet(channels=1, widths=(4, 8, 8, 16), blocks=1).double()
    y = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(den(5.0 * y, 5.0 * 0.1), 5.0 * den(y, 0.1), rtol=1e-9, atol=1e-12)


def test_unfolded_hqs_runs_and_learns_gamma():
    torch.manual_seed(0)
    th = Thresholds.upper(1.0)
    model = UnfoldedHQS(UNet2d(in_channels=3, channels=4, depth=4), th, iterations=3)
    y = (torch.rand(2, 3, 16, 16) * 1.5).clamp(max=1.0)
    out = model(y)
    assert out.shape == y.shape
    out.pow(2).mean().backward()
    assert model.log_gamma.grad is not None and torch.all(torch.isfinite(model.log_gamma.grad))
    proj = UnfoldedHQS(UNet2d(in_channels=3, channels=4, depth=4), th, iterations=2, project=True)
    p = proj(y)
    rel, high, _ = masks(y, th)
    assert torch.equal(p[rel], y[rel]) and torch.all(p[high] >= 1)
    with pytest.raises(ValueError, match="denoisers"):
        UnfoldedHQS([UNet2d(in_channels=3, channels=4, depth=2)], th, iterations=2)


# ------------------------------------------------------------------------------------------- DRUNet
def _manifest() -> dict:
    if not MANIFEST.is_file():
        pytest.skip(f"DRUNet manifest not found at {MANIFEST}")
    return json.loads(MANIFEST.read_text())


@pytest.mark.parametrize("name,channels", [("drunet_color.pth", 3), ("drunet_gray.pth", 1)])
def test_drunet_state_dict_matches_official_checkpoint(name, channels):
    ref = _manifest()[name]
    model = DRUNet(channels=channels)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    theirs = [(k, list(v)) for k, v in ref["state_dict"].items()]
    assert ours == theirs  # names, shapes and order, no renaming
    assert sum(p.numel() for p in model.parameters()) == ref["num_parameters"]
    assert ref["in_channels"] == channels + 1 and ref["out_channels"] == channels


def test_official_format_loads_strict(tmp_path):
    torch.manual_seed(0)
    model = DRUNet(channels=1)
    torch.save(model.state_dict(), tmp_path / "drunet_gray.pth")  # what the release file holds
    loaded = load_drunet(tmp_path / "drunet_gray.pth", channels=1)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    sd = model.state_dict()
    sd["m_tail.extra"] = torch.zeros(1)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="bad.pth"):
        load_drunet(tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="3 channels"):
        load_drunet(tmp_path / "drunet_gray.pth", channels=3)


def test_small_drunet_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    small = DRUNet(channels=3, widths=(4, 8, 16, 16), blocks=2)
    save_drunet(small, tmp_path / "d.pt")
    back = load_drunet(tmp_path / "d.pt")
    x = torch.rand(1, 3, 13, 10)
    torch.testing.assert_close(back(x, 0.05), small(x, 0.05))


def test_fetch_weights_without_checksum_asks_for_one(tmp_path, monkeypatch):
    monkeypatch.delenv("DECLIPBENCH_DRUNET_SHA256", raising=False)
    with pytest.raises(ValueError, match="no checksum is published"):
        fetch_weights("color", tmp_path)
    (tmp_path / "drunet_gray.pth").write_bytes(b"placed by hand")
    assert fetch_weights("gray", tmp_path) == tmp_path / "drunet_gray.pth"
    with pytest.raises(ValueError, match="kind"):
        fetch_weights("rgb", tmp_path)


def test_dpir_plugin_standin_fit_and_reconstruct(tmp_path):
    from declipbench.physics.camera import CameraCurve, camera_measure, exposure_scale
    from declipbench.foundation.contracts import Context, PluginError, TrainData
    from declipbench.pipeline.plugins import load_dataset, load_method, method_params

    synthetic_scene = load_dataset("synthetic_hdr").synthetic_scene
    decl, method = load_method("dpir")
    assert decl.supervision == "pairs" and "image" in decl.modalities
    scenes = [synthetic_scene([4, i], 40, 40) for i in range(4)]
    x = np.stack([np.moveaxis(s / exposure_scale(s, 0.9), -1, 0) for s in scenes]).astype(np.float32)
    y = np.stack([camera_measure(a, CameraCurve()) for a in x])
    params = method_params(type(method), {"denoiser": {"widths": [4, 8, 8, 8], "blocks": 1, "steps": 4,
                                                       "batch_size": 2, "crop": 32}, "dpir": {"iterations": 3}}, "t")
    ctx = Context(params=params, tau_low=-1.0, tau_high=1.0, seed=0, workdir=tmp_path, progress=False, threads=1)
    method.fit(TrainData(y[:3], x[:3]), ctx)
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "denoiser_log.csv").is_file()
    out = method.reconstruct(y[3:], ctx)
    assert out.shape == y[3:].shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    rel = y[3:] < 1
    np.testing.assert_array_equal(out[rel], y[3:][rel])
    assert np.all(out[~rel] >= 1)
    np.testing.assert_array_equal(method.reconstruct(y[3:], ctx), out)  # seeded
    with pytest.raises(PluginError, match=r"t.sigma: unknown parameter"):
        method_params(type(method), {"sigma": 1}, "t")
