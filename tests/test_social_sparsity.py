"""Social sparsity baseline (methods/social_sparsity: method.py and its private sparsity.py)."""

import numpy as np
import pytest
import torch

from declipbench.metrics.sdr import sdr_db
from conftest import ROOT
from declipbench.foundation.contracts import Context
from declipbench.pipeline.plugins import discover_methods, import_method_module, load_method, method_params

_sparsity = import_method_module(ROOT / "methods" / "social_sparsity", "sparsity")
GaborFrame, declip, declip_plain = _sparsity.GaborFrame, _sparsity.declip, _sparsity.declip_plain
default_frame, default_lambdas = _sparsity.default_frame, _sparsity.default_lambdas
shrink_ew, shrink_pew = _sparsity.shrink_ew, _sparsity.shrink_pew

SMALL = dict(window=256, lambdas=default_lambdas(-1, -3, 3), max_iter=20)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _sines(n, T, seed=0, rate=8000.0, k=4):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / rate
    return np.stack([sum(rng.uniform(0.2, 1) * np.sin(2 * np.pi * rng.uniform(50, 2000) * t + rng.uniform(0, 6))
                         for _ in range(k)) for _ in range(n)])


def _clip_to_sdr(x, target_db):
    """Symmetric tau giving input SDR ~ target_db (bisection), per signal."""
    lo, hi = 1e-6, np.abs(x).max()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if sdr_db(x, np.clip(x, -mid, mid)) < target_db:
            lo = mid
        else:
            hi = mid
    return hi


# --- frame ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [1, 100, 255, 256, 1000, 3001])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_frame_is_tight(T, dtype, tol):
    fr = GaborFrame(T, 256, 64, 512, dtype=dtype)
    x = torch.randn(3, T, dtype=dtype, generator=torch.Generator().manual_seed(T))
    z = fr.analysis(x)
    assert z.shape == (3, 257, fr.F) and z.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
    energy = (x.double() ** 2).sum(1)
    assert torch.allclose(fr.norm2(z), energy, rtol=tol, atol=tol)
    assert torch.allclose(fr.synthesis(z), x, rtol=0, atol=tol * 10)


def test_synthesis_is_adjoint_of_analysis():
    fr = GaborFrame(777, 128, 32, 256)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 777, dtype=torch.float64, generator=g)
    z = fr.analysis(torch.randn(1, 777, dtype=torch.float64, generator=g)) * torch.rand(1, fr.K, fr.F, dtype=torch.float64, generator=g)
    w = torch.full((fr.K,), 2.0, dtype=torch.float64)
    w[0] = w[-1] = 1.0
    lhs = (fr.analysis(x).conj() * z * w[:, None]).real.sum()
    rhs = (x * fr.synthesis(z)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-12)


def test_default_frame_scales_with_rate():
    assert default_frame(44100) == (8192, 2048, 16384)
    assert default_frame(22050) == (4096, 1024, 8192)
    assert default_lambdas()[0] == pytest.approx(0.1) and default_lambdas()[-1] == pytest.approx(1e-4)
    assert len(default_lambdas()) == 20


# --- shrinkage -------------------------------------------------------------------------------------

def test_ew_hand_cases():
    z = torch.tensor([3 + 4j, 0.1, 0, -2.0, 1j], dtype=torch.complex128)
    c = shrink_ew(z, 1.0)
    expected = torch.tensor([(3 + 4j) * (1 - 1 / 25), 0, 0, -2.0 * (1 - 1 / 4), 0], dtype=torch.complex128)
    assert torch.allclose(c, expected)


def _pew_numpy(z, lam, kf=3, kt=7):
    e = np.pad(np.abs(z) ** 2, ((kf // 2, kf // 2), (kt // 2, kt // 2)), mode="symmetric")
    out = np.zeros_like(z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            E = e[i : i + kf, j : j + kt].mean()
            out[i, j] = z[i, j] * max(1 - lam ** 2 / E, 0) if E > 0 else 0
    return out


@pytest.mark.parametrize("shape", [(5, 9), (4, 2), (1, 1), (6, 4)])
def test_pew_matches_independent_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    z = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    z[0, 0] = 0
    got = shrink_pew(torch.from_numpy(z)[None], 0.9)[0].numpy()
    np.testing.assert_allclose(got, _pew_numpy(z, 0.9), rtol=1e-12, atol=1e-14)


def test_pew_mirror_padding_by_hand():
    # frequency axis of length 1 (its 3 bins are the row itself, padded a | a | a), 2 frames [a, b] = [1, 2]:
    # symmetric padding by 3 frames on each side gives  b b a | a b | b a a  ->  |.|^2 = 4 4 1 1 4 4 1 1
    z = torch.tensor([[[1.0 + 0j, 2.0 + 0j]]], dtype=torch.complex128)
    e_a, e_b = 19 / 7, 16 / 7
    c = shrink_pew(z, 1.0)[0, 0]
    assert torch.allclose(c, torch.tensor([1 - 1 / e_a, 2 * (1 - 1 / e_b)], dtype=torch.complex128))
    assert torch.allclose(shrink_pew(z, 2.0)[0, 0], torch.zeros(2, dtype=torch.complex128))


# --- declipping ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shrinkage", ["pew", "ew"])
def test_fast_equals_plain_on_a_batch(shrinkage):
    x = _sines(3, 3000, seed=1)
    tau = 0.5 * np.abs(x).max()
    y = np.clip(x, -tau, tau)
    a = declip_plain(y, tau, shrinkage=shrinkage, **SMALL)
    b, info = declip(y, tau, shrinkage=shrinkage, return_info=True, **SMALL)
    assert a.dtype == b.dtype == np.float64 and a.shape == b.shape == y.shape
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
    assert not np.allclose(b, y)


def test_fast_equals_plain_with_per_signal_stopping():
    # a loose tolerance makes the signals stop their inner loops at different iterations
    x = _sines(3, 2000, seed=2)
    tau = 0.6 * np.abs(x).max()
    y = np.clip(x, -tau, tau)
    kw = dict(SMALL, max_iter=40, tol=3e-2)
    a = declip_plain(y, tau, **kw)
    b, info = declip(y, tau, return_info=True, **kw)
    assert len(set(info["iterations"])) > 1 and max(info["iterations"]) < 3 * 40
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


def test_unclipped_signal_comes_back_unchanged():
    x = _sines(3, 1500, seed=3)
    tau = 10.0 * np.abs(x).max()
    out = declip(x, tau, **SMALL)
    assert np.array_equal(out, x)
    # in a batch where only one signal is clipped, the others are untouched
    x[1] *= 100
    y = np.clip(x, -tau, tau)
    out, info = declip(y, tau, return_info=True, **SMALL)
    assert np.array_equal(out[0], y[0]) and np.array_equal(out[2], y[2]) and not np.array_equal(out[1], y[1])
    assert info["iterations"][0] == 0 and info["iterations"][1] > 0
    np.testing.assert_allclose(out, declip_plain(y, tau, **SMALL), rtol=0, atol=1e-10)


def test_everything_clipped_is_finite():
    y = np.where(np.arange(1000) % 50 < 25, 0.3, -0.3)[None].astype(np.float64)
    out = declip(y, 0.3, **SMALL)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("T", [100, 255, 1001])
def test_short_and_odd_lengths(T):
    x = _sines(2, T, seed=T)
    tau = 0.5 * np.abs(x).max()
    y = np.clip(x, -tau, tau)
    out = declip(y, tau, **SMALL)
    assert out.shape == y.shape and np.isfinite(out).all()
    np.testing.assert_allclose(out, declip_plain(y, tau, **SMALL), rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_kind_are_kept(dtype):
    x = _sines(2, 1200, seed=4).astype(dtype)
    tau = float(0.5 * np.abs(x).max())
    y = np.clip(x, -tau, tau)
    out = declip(y, tau, **SMALL)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    t = declip(torch.from_numpy(y), tau, **SMALL)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.from_numpy(y).dtype
    one = declip(y[0], tau, **SMALL)
    assert one.shape == y[0].shape and one.dtype == dtype
    if dtype == np.float32:
        ref = declip(y.astype(np.float64), tau, **SMALL)
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_quality_improves():
    x = _sines(1, 6000, seed=5, k=3)
    tau = _clip_to_sdr(x, 5.0)
    y = np.clip(x, -tau, tau)
    x_hat = declip(y, tau, window=512, lambdas=default_lambdas(-1, -4, 8), max_iter=60)
    before, after = sdr_db(x, y), sdr_db(x, x_hat)
    reliable = np.abs(y) < tau
    print(f"input SDR {before:.2f} dB, output SDR {after:.2f} dB; "
          f"max |x_hat - y| on reliable samples {np.abs(x_hat - y)[reliable].max():.3g}")
    assert abs(before - 5.0) < 0.5
    assert after > before + 3.0


# --- plug-in ---------------------------------------------------------------------------------------

def test_plugin_discovered_and_reconstructs():
    decl = discover_methods()["social_sparsity"]
    assert decl.supervision == "none" and decl.trains is False and decl.modalities == ["audio"]
    assert decl.default_variants == ["pew"] and set(decl.variants) == {"pew", "ew", "pew_short"}
    assert decl.variant_label("pew") == "Social sparsity (PEW)" and decl.variant_label("ew") == "Social sparsity (EW)"
    _, method = load_method("social_sparsity")
    x = _sines(2, 3000, seed=6)
    tau = 0.5 * float(np.abs(x).max())
    y = np.clip(x, -tau, tau).astype(np.float32)
    for variant in ("pew", "ew"):
        params = method_params(type(method), dict(decl.variants[variant]["params"], window=256, hop=64, channels=512,
                                                  lambdas={"start": -1, "stop": -3, "num": 3}, max_iter=10,
                                                  batch=1), "t")
        ctx = Context(params=params, tau_low=-tau, tau_high=tau, device="cpu", threads=1)
        out = method.reconstruct(y, ctx)
        assert out.shape == (2, 3000) and out.dtype == np.float32 and np.isfinite(out).all()
        assert not np.array_equal(out, y)


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_shrinkage_of_zeros_is_zero(lam):
    z = torch.zeros(1, 4, 9, dtype=torch.complex64)
    z[0, 0, 0] = 1e-30  # |z|^2 underflows in float32
    for c in (shrink_ew(z, lam), shrink_pew(z, lam)):
        assert torch.isfinite(torch.view_as_real(c)).all() and c.dtype == torch.complex64
        assert float(c.abs().max()) <= 1.01e-30
