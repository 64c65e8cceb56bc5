"""Tests of declipbench.niqe: parity with the official MATLAB NIQE release and unit checks.

The parity fixtures (test images, pristine model, MATLAB scores) live outside the repository, in
``tests/fixtures/niqe``. ``DECLIPBENCH_FIXTURES`` may point either at the
fixtures root (holding ``niqe/``, as the rest of the test-suite uses it) or at the niqe folder itself.
"""

from __future__ import annotations

import csv
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.special import gamma
from scipy.stats import gennorm

from declipbench.metrics.niqe import (
    block_features,
    estimate_aggd_param,
    gaussian_window,
    load_pristine_model,
    matlab_imresize,
    matlab_imresize_half,
    mscn,
    niqe,
)

PARITY_RTOL = 0.01  # 1 % of the official MATLAB score
RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])  # MATLAB rgb2gray


def _niqe_fixture_dir() -> Path:
    env = os.environ.get("DECLIPBENCH_FIXTURES")
    if env:
        root = Path(env)
        return root / "niqe" if (root / "niqe").is_dir() else root
    return Path(__file__).resolve().parent / "fixtures" / "niqe"


FIXTURES = _niqe_fixture_dir()
HAVE_FIXTURES = (FIXTURES / "reference_niqe.csv").is_file() and (FIXTURES / "niqe_pris_params.npz").is_file()
needs_fixtures = pytest.mark.skipif(
    not HAVE_FIXTURES,
    reason=f"NIQE fixtures (reference_niqe.csv, niqe_pris_params.npz, images) not found at {FIXTURES}; "
    "set DECLIPBENCH_FIXTURES to the fixtures folder",
)


def read_bmp(path) -> np.ndarray:
    """Minimal reader for uncompressed (BI_RGB) 8-bit palettised and 24-bit BMP files.

    Returns uint8 HxW (8-bit with a gray palette) or HxWx3 RGB, top row first.
    """
    data = Path(path).read_bytes()
    if data[:2] != b"BM":
        raise ValueError(f"{path}: not a BMP file")
    offset = struct.unpack_from("<I", data, 10)[0]
    header_size, width, height, _planes, bpp, compression = struct.unpack_from("<IiiHHI", data, 14)
    if compression != 0:
        raise ValueError(f"{path}: compressed BMP (compression={compression}) not supported")
    if bpp not in (8, 24):
        raise ValueError(f"{path}: {bpp}-bit BMP not supported")
    rows, top_down = abs(height), height < 0
    stride = (width * bpp // 8 + 3) // 4 * 4  # rows are padded to 4 bytes
    raw = np.frombuffer(data, dtype=np.uint8, count=stride * rows, offset=offset).reshape(rows, stride)
    if bpp == 24:
        img = raw[:, : width * 3].reshape(rows, width, 3)[:, :, ::-1]  # BGR -> RGB
    else:
        ncolors = struct.unpack_from("<I", data, 46)[0] or 256
        palette = np.frombuffer(data, np.uint8, ncolors * 4, 14 + header_size).reshape(ncolors, 4)[:, 2::-1]
        img = palette[raw[:, :width]]
        if np.all(palette[:, 0:1] == palette):
            img = img[:, :, 0]
    return np.ascontiguousarray(img if top_down else img[::-1])


def _reference_scores() -> dict[str, float]:
    with open(FIXTURES / "reference_niqe.csv", newline="") as fh:
        return {row["image"]: float(row["niqe_reference"]) for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def pristine():
    return load_pristine_model(FIXTURES / "niqe_pris_params.npz")


# --------------------------------------------------------------------------------------------
# parity with the official MATLAB release
# --------------------------------------------------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize("name", ["I04.bmp", "I06.bmp"])
def test_parity_with_official_matlab(name, pristine):
    reference = _reference_scores()[name]
    score = niqe(read_bmp(FIXTURES / name), pristine)
    rel = abs(score - reference) / reference
    print(f"NIQE {name}: python {score:.6f} matlab {reference:.4f} relative error {rel:.2e}")
    assert rel < PARITY_RTOL, f"{name}: NIQE {score:.6f} vs MATLAB {reference}, relative error {rel:.2%}"


@needs_fixtures
def test_bmp_reader_matches_pil():
    Image = pytest.importorskip("PIL.Image")
    for name in ("I04.bmp", "I06.bmp"):
        ours = read_bmp(FIXTURES / name)
        with Image.open(FIXTURES / name) as im:
            np.testing.assert_array_equal(ours, np.asarray(im.convert("RGB")))


@needs_fixtures
def test_fixture_window_is_fspecial_gaussian(pristine):
    np.testing.assert_allclose(pristine["gaussian_window"], gaussian_window(), rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------------
# imresize
# --------------------------------------------------------------------------------------------
# Hand derivation for imresize(x, 0.5): output i (1-based) sits at u = 2i - 0.5; the antialiased
# kernel is 0.5 * cubic(0.5 * d) over the distances d = u - j. For j = 2i-4 .. 2i+3 the distances
# are 3.5, 2.5, 1.5, 0.5, -0.5, ... so cubic is evaluated at 1.75, 1.25, 0.75, 0.25 (and mirror):
#   cubic(0.25) = 1.5/64 - 2.5/16 + 1           = 0.8671875 = 222/256
#   cubic(0.75) = 1.5*27/64 - 2.5*9/16 + 1      = 0.2265625 =  58/256
#   cubic(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2 = -0.0703125 = -18/256
#   cubic(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2 = -0.0234375 =  -6/256
# They sum to 2, times the 0.5 factor -> already normalised: taps [-3,-9,29,111,111,29,-9,-3]/256.
# Boundary: indices 0, -1, -2 mirror to 1, 2, 3 (edge sample repeated).
#   delta at position 8 of 16: out(3..6) = [-9, 111, 29, -3] / 256, others 0
#   delta at position 1 of 16: out(1) = (29 + 111)/256 (j=1 and mirrored j=0), out(2) = (-3 - 9)/256
DELTA8 = np.array([0, 0, -9, 111, 29, -3, 0, 0]) / 256.0
DELTA1 = np.array([140, -12, 0, 0, 0, 0, 0, 0]) / 256.0


def _delta(n, pos_1based):
    v = np.zeros(n)
    v[pos_1based - 1] = 1.0
    return v


def test_imresize_half_hand_values_1d_and_separable():
    down_rows = matlab_imresize_half(np.outer(_delta(16, 8), np.ones(16)))
    np.testing.assert_allclose(down_rows[:, 0], DELTA8, atol=1e-15)
    down_cols = matlab_imresize_half(np.outer(np.ones(16), _delta(16, 1)))
    np.testing.assert_allclose(down_cols[0], DELTA1, atol=1e-15)
    # separable 2-D kernel: a delta at (8, 1) maps to the outer product of the 1-D responses
    img = np.outer(_delta(16, 8), _delta(16, 1))
    out = matlab_imresize_half(img)
    assert out.shape == (8, 8)
    np.testing.assert_allclose(out, np.outer(DELTA8, DELTA1), atol=1e-15)


def test_imresize_half_ramp_and_shapes():
    # a linear ramp is reproduced exactly away from the border: out(i) = u = 2i - 0.5
    ramp = np.outer(np.arange(1.0, 21.0), np.ones(4))
    out = matlab_imresize_half(ramp)[:, 0]
    np.testing.assert_allclose(out[2:8], 2 * np.arange(3, 9) - 0.5, atol=1e-12)
    # border (i=1): taps at 3,2,1,1,2,3,4,5 after mirroring
    taps = np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 256
    expected_first = (np.array([3, 2, 1, 1, 2, 3, 4, 5]) * taps).sum()
    assert out[0] == pytest.approx(expected_first, abs=1e-12)
    # output size is ceil(scale * size); constants stay constant (weights sum to 1); channels kept
    assert matlab_imresize_half(np.ones((7, 5))).shape == (4, 3)
    np.testing.assert_allclose(matlab_imresize_half(np.full((9, 11, 3), 42.0)), 42.0, atol=1e-12)
    with pytest.raises(ValueError, match="scale"):
        matlab_imresize(np.ones((4, 4)), 0.0)


# --------------------------------------------------------------------------------------------
# MSCN and AGGD
# --------------------------------------------------------------------------------------------
def test_mscn_of_constant_image_is_zero():
    out = mscn(np.full((40, 50), 173.0), gaussian_window())
    assert out.shape == (40, 50)
    np.testing.assert_allclose(out, 0.0, atol=1e-10)


def _aggd_samples(rng, alpha, beta_l, beta_r, n):
    x = np.abs(gennorm.rvs(alpha, size=n, random_state=rng))
    sign = rng.random(n) < beta_l / (beta_l + beta_r)  # AGGD mass on each side is proportional to beta
    return np.where(sign, -beta_l * x, beta_r * x)


@pytest.mark.parametrize("alpha,beta_l,beta_r", [(2.0, 1.0, 1.0), (0.8, 0.5, 0.5), (1.4, 0.3, 0.9)])
def test_aggd_fit_recovers_parameters(alpha, beta_l, beta_r):
    rng = np.random.default_rng(1234)
    samples = _aggd_samples(rng, alpha, beta_l, beta_r, 200_000)
    a_hat, bl_hat, br_hat = estimate_aggd_param(samples)
    assert a_hat == pytest.approx(alpha, rel=0.04)
    assert bl_hat == pytest.approx(beta_l, rel=0.03)
    assert br_hat == pytest.approx(beta_r, rel=0.03)


def test_aggd_fit_one_sided_gives_nan_beta_like_matlab():
    alpha, beta_l, beta_r = estimate_aggd_param(np.array([0.5, 1.0, 2.0, 0.0]))
    assert math.isnan(beta_l) and beta_r > 0 and 0.2 <= alpha <= 10


def test_block_features_layout():
    rng = np.random.default_rng(0)
    block = rng.standard_normal((48, 48))
    f = block_features(block)
    assert f.shape == (18,)
    alpha, bl, br = estimate_aggd_param(block)
    assert f[0] == alpha and f[1] == pytest.approx((bl + br) / 2)
    # horizontal pair products wrap around inside the block (MATLAB circshift of the block)
    a2, bl2, br2 = estimate_aggd_param(block * np.roll(block, 1, axis=1))
    assert f[2:6] == pytest.approx([a2, (br2 - bl2) * gamma(2 / a2) / gamma(1 / a2), bl2, br2])


# --------------------------------------------------------------------------------------------
# behaviour of the score
# --------------------------------------------------------------------------------------------
def _pink_image(seed=0, shape=(288, 384)):
    """Random-phase image with a 1/f^1.2 amplitude spectrum (roughly natural statistics)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**1.2
    im = np.fft.irfft2(spec, s=shape)
    return np.clip((im - im.mean()) / im.std() * 40 + 128, 0, 255)


def _degradations_increase_niqe(im, model):
    rng = np.random.default_rng(7)
    base = niqe(im, model)
    blurred = [niqe(gaussian_filter(im, s, mode="nearest"), model) for s in (2.0, 4.0)]
    noisy = [niqe(np.clip(im + rng.normal(0, s, im.shape), 0, 255), model) for s in (10.0, 25.0)]
    assert base < blurred[0] < blurred[1], (base, blurred)
    assert base < noisy[0] < noisy[1], (base, noisy)


@needs_fixtures
def test_niqe_increases_with_blur_and_noise_on_fixture(pristine):
    im = read_bmp(FIXTURES / "I04.bmp").astype(np.float64) @ RGB2GRAY
    _degradations_increase_niqe(im, pristine)


@needs_fixtures
def test_niqe_increases_with_blur_and_noise_synthetic(pristine):
    _degradations_increase_niqe(_pink_image(), pristine)


def _synthetic_model():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((36, 36))
    return {"mu_pris_param": rng.standard_normal((1, 36)), "cov_pris_param": a @ a.T / 36 + np.eye(36)}


def test_uint8_rgb_is_rounded_like_matlab_rgb2gray():
    rng = np.random.default_rng(5)
    rgb = np.clip(_pink_image(1, (192, 192))[..., None] + rng.normal(0, 20, (192, 192, 3)), 0, 255)
    rgb = rgb.astype(np.uint8)
    gray = np.floor(rgb.astype(np.float64) @ RGB2GRAY + 0.5)
    model = _synthetic_model()
    assert niqe(rgb, model) == pytest.approx(niqe(gray, model), rel=1e-12)


def test_input_validation():
    model = _synthetic_model()
    with pytest.raises(ValueError, match="too small"):
        niqe(np.zeros((96, 191)), model)  # one 96x96 block only
    img = _pink_image(2, (96, 192))
    assert math.isfinite(niqe(img, model))  # two blocks is the minimum
    bad = img.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        niqe(bad, model)
    rgb = np.stack([img] * 3, axis=-1)
    rgb[5, 6, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        niqe(rgb, model)
    with pytest.raises(ValueError, match="shape"):
        niqe(np.zeros((192, 192, 4)), model)
    with pytest.raises(ValueError, match="shape"):
        niqe(np.zeros(192 * 192), model)
    with pytest.raises(ValueError, match="wrong shapes"):
        niqe(img, {"mu_pris_param": np.zeros(18), "cov_pris_param": np.eye(18)})
    with pytest.raises(ValueError, match="mu_prisparam"):
        niqe(img, {"mu": np.zeros(36)})


def test_load_pristine_model_npz_and_mat(tmp_path):
    from scipy.io import savemat

    model = _synthetic_model()
    official_names = {"mu_prisparam": model["mu_pris_param"], "cov_prisparam": model["cov_pris_param"]}
    savemat(tmp_path / "modelparameters.mat", official_names)
    np.savez(tmp_path / "params.npz", gaussian_window=gaussian_window(), **model)
    from_mat = load_pristine_model(tmp_path / "modelparameters.mat")
    from_npz = load_pristine_model(tmp_path / "params.npz")
    for m in (from_mat, from_npz):
        assert m["mu_pris_param"].shape == (36,) and m["cov_pris_param"].shape == (36, 36)
        np.testing.assert_array_equal(m["cov_pris_param"], model["cov_pris_param"])
        np.testing.assert_allclose(m["gaussian_window"], gaussian_window(), atol=0)
    img = _pink_image(4, (192, 192))
    assert niqe(img, from_mat) == niqe(img, from_npz)


def test_the_pristine_model_ships_with_the_package(monkeypatch, tmp_path):
    """Offline, with nothing placed: the packaged copy of the release's model, its notice beside it; the
    same numbers as the fixture's copy of the official model."""
    from declipbench.metrics import niqe as niqe_module

    monkeypatch.delenv("DECLIPBENCH_NIQE_MODEL", raising=False)
    monkeypatch.delenv("DECLIPBENCH_NIQE_SHA256", raising=False)
    monkeypatch.setattr("declipbench.foundation.contracts.ROOT", tmp_path)  # no data/niqe/ cache
    model, source = niqe_module.niqe_model()
    assert model is not None and source.startswith(str(niqe_module.PACKAGED_MODEL))
    notice = niqe_module.PACKAGED_MODEL.with_name("NIQE_NOTICE.txt").read_text()
    assert "COPYRIGHT NOTICE STARTS WITH THIS LINE" in notice and "Mittal" in notice
    if HAVE_FIXTURES:
        ref = load_pristine_model(FIXTURES / "niqe_pris_params.npz")
        for key in ("mu_pris_param", "cov_pris_param", "gaussian_window"):
            np.testing.assert_array_equal(model[key], ref[key])
    monkeypatch.setenv("DECLIPBENCH_NIQE_MODEL", str(tmp_path / "absent.npz"))
    model, source = niqe_module.niqe_model()  # a wrong explicit path falls back, and the logs say so
    assert model is not None and "shipped" in source
