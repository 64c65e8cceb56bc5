"""HDR images: Radiance/OpenEXR reading, the synthetic scenes, the virtual camera of the paper's HDR experiments."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from declipbench.data import hdrio, images
from declipbench.physics import camera
from declipbench.pipeline.plugins import load_dataset

synthetic_scene = load_dataset("synthetic_hdr").synthetic_scene

FIXTURES = Path(os.environ.get("DECLIPBENCH_FIXTURES", Path(__file__).resolve().parent / "fixtures"))
MEMORIAL = FIXTURES / "hdr" / "memorial.hdr"


def _memorial() -> Path:
    if not MEMORIAL.is_file():
        pytest.skip(f"HDR fixture not found at {MEMORIAL}")
    return MEMORIAL


# ------------------------------------------------------------------------------------ camera curve
@pytest.mark.parametrize("n,sigma", [(0.9, 0.6), (0.6, 0.3), (1.3, 0.9)])
def test_camera_curve_fixes_one_and_is_invertible(n, sigma):
    f = camera.CameraCurve(n, sigma)
    assert f(1.0) == pytest.approx(1.0, abs=1e-15)
    assert f(0.0) == 0.0
    x = np.geomspace(1e-6, 1e3, 2001)
    v = f(x)
    assert np.all(np.diff(v) > 0) and np.all(v < 1 + sigma)
    np.testing.assert_allclose(f.inverse(v), x, rtol=1e-9)
    u = np.linspace(0, 1, 256)
    np.testing.assert_allclose(f(f.inverse(u)), u, atol=1e-12)
    assert f.inverse(1.0) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="defined on"):
        f.inverse(np.array([1 + sigma]))
    with pytest.raises(ValueError, match="sigma"):
        camera.CameraCurve(0.9, 0.0)


def test_sampled_curves_follow_eilertsen():
    rng = np.random.default_rng(0)
    curves = [camera.sample_curve(rng) for _ in range(4000)]
    n = np.array([c.n for c in curves])
    s = np.array([c.sigma for c in curves])
    assert abs(n.mean() - 0.9) < 0.01 and abs(n.std() - 0.1) < 0.01
    assert abs(s.mean() - 0.6) < 0.01 and abs(s.std() - 0.1) < 0.01
    for c in curves[:50]:
        assert c(1.0) == pytest.approx(1.0)


def test_quantise_reserves_top_code_for_saturation():
    v = np.array([-0.1, 0.0, 0.3, 254.4 / 255, 254.6 / 255, 1 - 1e-9, 1.0, 1.3])
    q = camera.quantise(v)
    np.testing.assert_allclose(q * 255, [0, 0, round(0.3 * 255), 254, 254, 254, 255, 255])
    assert np.all(q[:6] < 1) and np.all(q[6:] == 1)


# ---------------------------------------------------------------------------------- virtual camera
def test_virtual_camera_saturates_5_to_15_percent_synthetic():
    rng = np.random.default_rng(1)
    fractions = []
    for i in range(12):
        scene = synthetic_scene([3, i], 96, 128)
        out = camera.virtual_camera(scene, rng)
        assert 0.85 <= out["q"] <= 0.95
        assert 0.05 <= out["saturated"] <= 0.15, (i, out["q"], out["saturated"])
        fractions.append(out["saturated"])
        # linear-domain measurement: exactly 1 where x >= 1, within one quantisation level elsewhere
        x, y = out["x"], out["y"]
        assert np.all((y >= 1) == (x >= 1))
        assert np.all(y <= 1)
        below = x < 1
        f = camera.CameraCurve(out["n"], out["sigma"])
        assert np.max(np.abs(f(y[below]) - f(x[below]))) <= 1.0 / 255 + 1e-6
        np.testing.assert_allclose(out["ldr"], camera.quantise(f(x)), atol=1e-7)
    assert max(fractions) - min(fractions) > 0.03  # q is drawn, not fixed


def test_virtual_camera_fixed_curve_and_bad_q():
    scene = synthetic_scene(0, 64, 64)
    out = camera.virtual_camera(scene, np.random.default_rng(0), curve=camera.CameraCurve())
    assert (out["n"], out["sigma"]) == (0.9, 0.6)
    with pytest.raises(ValueError, match="q_range"):
        camera.virtual_camera(scene, np.random.default_rng(0), q_range=(0.9, 1.0))
    with pytest.raises(ValueError, match="black"):
        camera.exposure_scale(np.zeros((8, 8, 3)), 0.9)


def test_synthetic_scene_deterministic_and_heavy_tailed():
    a = synthetic_scene([0, 1, 2], 96, 96)
    b = synthetic_scene([0, 1, 2], 96, 96)
    c = synthetic_scene([0, 1, 3], 96, 96)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (96, 96, 3) and a.dtype == np.float32 and np.all(a > 0)
    lum = a.mean(axis=-1)
    assert lum.max() / np.median(lum) > 10  # bright light sources
    assert np.percentile(lum, 99.5) / np.median(lum) > 3  # heavy upper tail


def test_patches_and_fit():
    img = np.arange(40 * 60 * 3, dtype=np.float32).reshape(40, 60, 3)
    p = images.random_patches(img, 16, 5, np.random.default_rng(0))
    assert p.shape == (5, 3, 16, 16)
    t, l = np.argwhere(img[..., 0] == p[0, 0, 0, 0])[0]
    np.testing.assert_array_equal(p[0], img[t : t + 16, l : l + 16].transpose(2, 0, 1))
    f = images.fit_to(img, 16)
    assert f.shape == (16, 16, 3)
    np.testing.assert_allclose(images.downscale(np.ones((8, 8, 3)), 2), 1.0)
    with pytest.raises(ValueError, match="smaller"):
        images.fit_to(img, 64)


# ------------------------------------------------------------------------------------------ reading
def test_memorial_hdr_reads():
    img = hdrio.read_hdr(_memorial())
    assert img.shape == (768, 512, 3) and img.dtype == np.float32
    assert np.all(np.isfinite(img)) and img.min() >= 0
    lum = img.mean(axis=-1)
    # a real HDR image: several decades of dynamic range; upright: the dome's skylight (the brightest
    # band of rows) is in rows 96-191 and in the left half, as in the published tone-mapped picture
    assert lum.max() / np.percentile(lum[lum > 0], 1) > 1e3
    bands = lum.reshape(8, 96, 512).mean(axis=(1, 2))
    assert int(np.argmax(bands)) == 1
    assert lum[96:192, :256].mean() > 3 * lum[96:192, 256:].mean()
    out = camera.virtual_camera(img, np.random.default_rng(0))
    assert 0.05 <= out["saturated"] <= 0.15


def test_memorial_reencoded_roundtrip(tmp_path):
    img = hdrio.read_hdr(_memorial())
    hdrio.write_radiance(tmp_path / "m.hdr", img, header_lines=("VIEW= -vtv -vh 90",))
    again = hdrio.read_hdr(tmp_path / "m.hdr")
    # canonical RGBE values re-encode exactly; the few non-normalised ones in the file (mantissa < 128)
    # move by less than one mantissa step
    same = np.all(again == img, axis=-1)
    assert same.mean() > 0.9999
    peak = img.max(axis=-1, keepdims=True)
    assert np.all(np.abs(again - img) <= peak / 256)


@pytest.mark.parametrize("rle", [True, False])
def test_radiance_roundtrip_and_nonstandard_header(tmp_path, rle):
    rng = np.random.default_rng(0)
    img = (np.exp(rng.normal(0, 2, (13, 37, 3))) * (rng.random((13, 37, 1)) > 0.2)).astype(np.float32)
    img[3, 5:30] = 7.5  # runs for the run-length encoder
    path = tmp_path / "x.hdr"
    hdrio.write_radiance(path, img, rle=rle, header_lines=("VIEW= -vtv", "# a comment"))
    assert path.read_bytes().startswith(b"VIEW=")
    back = hdrio.read_hdr(path)
    assert back.shape == img.shape
    peak = img.max(axis=-1, keepdims=True)
    # RGBE keeps 8 bits of mantissa relative to each pixel's largest channel
    assert np.all(np.abs(back - img) <= peak * (1.0 / 256) + 1e-30)


def test_radiance_orientations(tmp_path):
    img = np.random.default_rng(1).random((9, 12, 3)).astype(np.float32) + 0.1
    path = tmp_path / "a.hdr"
    hdrio.write_radiance(path, img, rle=False)
    ref = hdrio.read_hdr(path)
    raw = path.read_bytes()
    head, _, body = raw.partition(b"-Y 9 +X 12\n")
    rows = np.frombuffer(body, np.uint8).reshape(9, 12, 4)
    cases = {b"+Y 9 +X 12\n": (rows[::-1], ref), b"-Y 9 -X 12\n": (rows[:, ::-1], ref),
             b"+X 12 -Y 9\n": (rows.transpose(1, 0, 2), ref), b"-X 12 +Y 9\n": (rows[::-1, ::-1].transpose(1, 0, 2), ref)}
    for res, (data, expected) in cases.items():
        p = tmp_path / "o.hdr"
        p.write_bytes(head + res + np.ascontiguousarray(data).tobytes())
        np.testing.assert_array_equal(hdrio.read_hdr(p), expected, err_msg=res.decode())


def test_bad_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "notes.hdr"
    bad.write_bytes(b"hello\nworld\n\n-Y 2 +X 2\n")
    with pytest.raises(hdrio.HDRReadError, match="notes.hdr"):
        hdrio.read_hdr(bad)
    trunc = tmp_path / "trunc.hdr"
    hdrio.write_radiance(trunc, np.ones((16, 16, 3), np.float32))
    trunc.write_bytes(trunc.read_bytes()[:-20])
    with pytest.raises(hdrio.HDRReadError, match="trunc.hdr.*truncated"):
        hdrio.read_hdr(trunc)
    xyze = tmp_path / "xyz.hdr"
    xyze.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_xyze\n\n-Y 1 +X 1\n\x80\x80\x80\x81")
    with pytest.raises(hdrio.HDRReadError, match="xyz.hdr.*xyze"):
        hdrio.read_hdr(xyze)
    with pytest.raises(hdrio.HDRReadError, match="photo.png"):
        hdrio.read_hdr(tmp_path / "photo.png")
    with pytest.raises(hdrio.HDRReadError, match="missing.exr"):
        hdrio.read_hdr(tmp_path / "missing.exr")


def test_exr_roundtrip(tmp_path):
    pytest.importorskip("OpenEXR")
    img = synthetic_scene(5, 24, 40)
    hdrio.write_exr(tmp_path / "s.exr", img)
    np.testing.assert_array_equal(hdrio.read_hdr(tmp_path / "s.exr"), img)
    hdrio.write_exr(tmp_path / "h.exr", img, half=True)
    np.testing.assert_allclose(hdrio.read_hdr(tmp_path / "h.exr"), img, rtol=1e-3)
    (tmp_path / "bad.exr").write_bytes(b"not an exr file at all")
    with pytest.raises(hdrio.HDRReadError, match="bad.exr"):
        hdrio.read_hdr(tmp_path / "bad.exr")


def test_display_tone_map_never_clips():
    x = np.array([0.0, 0.5, 1.0, 10.0, 1e6])
    d = camera.display(x)
    assert d.dtype == np.uint8 and np.all(np.diff(d.astype(int)) >= 0) and d[-1] <= 255 and d[2] < 255


# ------------------------------------------------------------------------------------------ datasets
def test_synthetic_hdr_dataset(tmp_path):
    from declipbench.pipeline.steps import prepare

    params = {"splits": {"train": 3, "val": 1, "test": 2}, "scene_size": 64, "size": 48, "patch": 32,
              "patches_per_image": 4}
    m = prepare("synthetic_hdr", params, tmp_path / "a")
    assert (tmp_path / "a" / "manifest.json").is_file()
    x = np.load(tmp_path / "a" / "train.npy", mmap_mode="r")
    assert x.shape == (12, 3, 32, 32) and x.dtype == np.float32
    t = np.load(tmp_path / "a" / "test.npy")
    cam = np.load(tmp_path / "a" / "test_camera.npy")
    assert t.shape == (2, 3, 48, 48) and cam.shape == (2, 3)
    assert np.all((cam[:, 0] >= 0.85) & (cam[:, 0] <= 0.95)) and np.all(cam[:, 1:] == [0.9, 0.6])
    for item, (q, n, s) in zip(t, cam):  # each test image is exposed on itself: 1 - q saturate
        assert camera.saturated_fraction(item, channel_axis=0) == pytest.approx(1 - q, abs=2 / 48**2)
    y = camera.measure_items(t, cam)
    assert np.all(y <= 1) and np.all((y >= 1) == (t >= 1))
    assert m["splits"]["test"]["items"] == 2
    prepare("synthetic_hdr", params, tmp_path / "b")  # deterministic
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "train.npy"), x)
    with pytest.raises(ValueError, match="scene_size"):
        prepare("synthetic_hdr", {**params, "scene_size": 16}, tmp_path / "c")
    with pytest.raises(ValueError, match="unknown parameter"):
        prepare("synthetic_hdr", {**params, "colour": 1}, tmp_path / "c")


def test_hdr_folder_dataset_skips_bad_files(tmp_path):
    from declipbench.pipeline.steps import prepare

    root = tmp_path / "photos"
    for i in range(5):
        hdrio.write_radiance(root / f"img{i}.hdr", synthetic_scene([9, i], 80, 96))
    if _has_openexr():
        hdrio.write_exr(root / "sub" / "e.exr", synthetic_scene([9, 9], 80, 96))
    (root / "broken.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 80 +X 96\n\x02\x02")
    (root / "tiny.hdr").write_bytes(b"")
    hdrio.write_radiance(root / "small.hdr", np.ones((8, 8, 3), np.float32))
    params = {"path": str(root), "size": 48, "patch": 32, "patches_per_image": 3, "train_downscale": 1,
              "file_fractions": {"test": 0.3, "val": 0.1}, "split": "hash"}
    m = prepare("hdr", params, tmp_path / "out")
    skipped = {s["file"] for s in m["skipped"]}
    assert skipped == {"broken.hdr", "tiny.hdr", "small.hdr"}
    used = {f["file"] for sp in m["splits"].values() for f in sp["files"]}
    assert not used & skipped and len(used) == len(list(root.rglob("*.*"))) - 3
    assert all(s["reason"] for s in m["skipped"])
    test = np.load(tmp_path / "out" / "test.npy")
    assert test.shape[1:] == (3, 48, 48) and len(test) >= 1
    with pytest.raises(ValueError, match=r"photos/(broken|tiny|small)\.hdr"):
        prepare("hdr", {**params, "on_error": "fail"}, tmp_path / "out2")


def test_hdr_dataset_archive_folders_and_memorial(tmp_path):
    from declipbench.pipeline.steps import prepare

    root = tmp_path / "drtmo"
    for split, n in (("Train", 3), ("Test", 1)):
        for i in range(n):
            hdrio.write_radiance(root / split / f"{i}.hdr", synthetic_scene([split == "Test", i], 72, 72))
    if MEMORIAL.is_file():
        import shutil

        shutil.copy(MEMORIAL, root / "Test" / "memorial.hdr")
    m = prepare("hdr", {"size": 64, "patch": 32, "patches_per_image": 2, "train_downscale": 1}, tmp_path / "o",
                data_dir=tmp_path)
    assert m["split_by"].startswith("archive folders")
    assert {f["file"].split("/")[0] for f in m["splits"]["test"]["files"]} == {"Test"}
    assert len(m["splits"]["val"]["files"]) == 1 and len(m["splits"]["train"]["files"]) == 2
    assert not m["skipped"]


def test_hdr_dataset_download_needs_a_checksum(tmp_path):
    from declipbench.pipeline.steps import prepare

    with pytest.raises(ValueError, match="no published checksum"):
        prepare("hdr", {"download": True}, tmp_path / "o", data_dir=tmp_path)
    assert not (tmp_path / "drtmo").exists()  # nothing created when refusing
    with pytest.raises(ValueError, match="not a directory"):
        prepare("hdr", {}, tmp_path / "o", data_dir=tmp_path)


def _has_openexr() -> bool:
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------- metrics
def test_psnr_peak_is_clean_maximum():
    from declipbench.metrics import psnr_db
    from declipbench.metrics import psnr_score as psnr

    x = np.zeros((3, 4, 4))
    x[0, 0, 0] = 4.0
    x_hat = x + 0.1
    assert psnr_db(x, x_hat) == pytest.approx(10 * np.log10(16 / 0.01))
    assert psnr_db(x, x_hat, peak=1.0) == pytest.approx(20.0)
    assert psnr(x, x)[0] == float("inf")
    value, note = psnr(x, np.full_like(x, np.nan))
    assert np.isnan(value) and "nonfinite" in note


def test_niqe_model_cache_and_score(tmp_path, monkeypatch):
    from scipy.io import savemat

    from declipbench.metrics import fetch_niqe_model, niqe_of

    fixture = FIXTURES / "niqe" / "niqe_pris_params.npz"
    if not fixture.is_file():
        pytest.skip(f"NIQE fixture not found at {fixture}")
    monkeypatch.delenv("DECLIPBENCH_NIQE_SHA256", raising=False)
    with pytest.raises(ValueError, match="no checksum is published"):
        fetch_niqe_model(tmp_path / "empty")
    with np.load(fixture) as d:
        official = {"mu_prisparam": d["mu_pris_param"], "cov_prisparam": d["cov_pris_param"]}
    (tmp_path / "c").mkdir()
    savemat(tmp_path / "c" / "modelparameters.mat", official)  # as placed by hand from the release
    model = fetch_niqe_model(tmp_path / "c")
    assert (tmp_path / "c" / "niqe_pris_params.npz").is_file()
    np.testing.assert_array_equal(model["cov_pris_param"], official["cov_prisparam"])
    scene = synthetic_scene(1, 192, 192)
    x = np.moveaxis(scene / camera.exposure_scale(scene, 0.9), -1, 0)
    clean, note = niqe_of(x, model)
    assert np.isfinite(clean) and note == ""
    blurred = niqe_of(np.stack([np.repeat(np.repeat(c[::4, ::4], 4, 0), 4, 1) for c in x]), model)[0]
    assert blurred > clean
    small, note = niqe_of(x[:, :64, :64], model)
    assert np.isnan(small) and "too small" in note


def test_radiance_bombs_are_refused_before_memory_is_taken(tmp_path):
    """A tiny Radiance file declaring a huge image (old-style runs, -Y 16 +X 16777216: what used to take
    gigabytes) is refused from what its bytes can hold, naming the file; so is one beyond the pixel budget,
    and an old-style run longer than two chained counts."""
    from declipbench.data.hdrio import HDRReadError, read_radiance

    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n"
    body = b"".join(b"\x80\x80\x80\x81" + b"\x01\x01\x01\xff" * 3 for _ in range(16))  # a pixel, then runs
    bomb = tmp_path / "bomb.hdr"
    bomb.write_bytes(header + b"-Y 16 +X 16777216\n" + body)
    assert bomb.stat().st_size < 400
    with pytest.raises(HDRReadError, match=r"bomb.hdr: declares 16 x 16777216 = .* the reader's budget"):
        read_radiance(bomb)
    under = tmp_path / "under.hdr"  # within the budget, but 48 bytes cannot hold 3 x 16.7 M pixels
    under.write_bytes(header + b"-Y 3 +X 16777216\n" + body[:48])
    with pytest.raises(HDRReadError, match=r"under.hdr: declares 3 x 16777216 pixels, but its 48 bytes .*bomb"):
        read_radiance(under)
    big = tmp_path / "big.hdr"
    big.write_bytes(header + b"-Y 100000 +X 100000\n" + body)
    with pytest.raises(HDRReadError, match=r"big.hdr: declares 100000 x 100000 = .* the reader's budget"):
        read_radiance(big)
    runs = tmp_path / "runs.hdr"
    width = 200_000
    runs.write_bytes(header + f"-Y 1 +X {width}\n".encode() + b"\x80\x80\x80\x81" + b"\x01\x01\x01\xff" * 3
                     + b"\x00" * 4 * (width // 65281 + 1))
    with pytest.raises(HDRReadError, match=r"runs.hdr: old-style run of .* refused as a decompression bomb"):
        read_radiance(runs)


def test_an_openexr_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    """OpenEXR compresses a flat image to almost nothing, so a small file can declare any size: its data
    window is checked against the reader's budget before any pixel is decoded."""
    flat = tmp_path / "flat.exr"
    hdrio.write_exr(flat, np.ones((200, 300, 3), np.float32))
    assert flat.stat().st_size < 200 * 300 * 3 * 4 / 50  # a bomb in miniature: 50 times smaller than its pixels
    assert hdrio.read_exr(flat).shape == (200, 300, 3)
    monkeypatch.setattr(hdrio, "MAX_PIXELS", 200 * 300 - 1)
    with pytest.raises(hdrio.HDRReadError, match=r"flat.exr: declares 200 x 300 = 60,000 pixels, more than the reader's "
                                                  r"budget of 59,999; refused"):
        hdrio.read_hdr(flat)
