import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import resolved
from declipbench.data import audio, io
from declipbench.pipeline import steps
from declipbench.pipeline.plugins import load_dataset

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_outputs_get_the_usual_file_mode(tmp_path):
    """mkstemp makes 0600 files; published outputs get 0666 less the umask, like any new file."""
    import os

    from declipbench.data.segments import SegmentWriter

    old = os.umask(0o022)
    try:
        io.write_json(tmp_path / "a.json", {"a": 1})
        io.save_npy(tmp_path / "b.npy", np.zeros((2, 3), np.float32))
        w = SegmentWriter(tmp_path / "c.npy", capacity=2, width=3)
        w.append(np.ones((2, 3), np.float32))
        w.close()
        os.umask(0o077)
        io.write_text(tmp_path / "d.txt", "private")
    finally:
        os.umask(old)
    for name in ("a.json", "b.npy", "c.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert (tmp_path / "d.txt").stat().st_mode & 0o777 == 0o600
    assert np.load(tmp_path / "c.npy").shape == (2, 3)


def test_corrupt_audio_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(ValueError, match="broken.wav"):
        audio.read_audio(bad)


def test_read_audio_resamples_and_mixes_down(tmp_path):
    f = tmp_path / "st.wav"
    t = np.arange(44100) / 44100
    sf.write(f, np.stack([np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 100 * t)], 1) * 0.5, 44100)
    x, sr = audio.read_audio(f, 22050)
    assert sr == 22050 and x.shape == (22050,) and x.dtype == np.float32
    assert np.abs(x).max() == pytest.approx(0.5, abs=0.01)


def test_corrupt_array_file_error_names_the_file(tmp_path):
    bad = tmp_path / "train.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="train.npy"):
        io.load_npy(bad)


def test_synthetic_music_is_deterministic_order_free_and_scale_spread():
    sm = load_dataset("synthetic_music")
    p = resolved(sm, {"segment_seconds": 0.25})
    a = sm.generate(p, "train", 6)
    b = sm.generate(p, "train", 3, start=3)
    np.testing.assert_array_equal(a[3:], b)  # segment i does not depend on the others
    assert not np.array_equal(sm.generate(p, "test", 3), a[:3])
    peaks = np.abs(sm.generate({**p, "peak_min": 0.1, "peak_max": 1.0}, "train", 300)).max(axis=1)
    assert peaks.min() >= 0.1 * 0.999 and peaks.max() <= 1.0 * 1.001
    # log-uniform amplitude: log-peaks spread evenly over [log 0.1, log 1]
    q = np.quantile(np.log10(peaks), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q, [-0.75, -0.5, -0.25], atol=0.1)


def test_measure_drops_unclipped_and_nonfinite_items_and_caps(tmp_path):
    data = tmp_path / "data"
    x = np.zeros((6, 100), np.float32)
    x[:, 50] = [0.05, 0.5, 0.5, 0.5, 0.5, np.nan]  # item 0 never clips, item 5 is corrupt
    for split in ("train", "val", "test"):
        io.save_npy(data / f"{split}.npy", x)
    m = steps.measure(data, tmp_path / "meas", tau=0.1, max_items={"test": 2})
    assert m["splits"]["train"]["items_kept"] == 4
    assert m["splits"]["train"]["dropped_unclipped"] == 1 and m["splits"]["train"]["dropped_nonfinite"] == 1
    assert m["splits"]["test"]["items_kept"] == 2 and m["splits"]["test"]["dropped_over_cap"] == 2
    y = np.load(tmp_path / "meas" / "train_y.npy")
    assert np.abs(y).max() == pytest.approx(0.1)
    np.testing.assert_array_equal(np.load(tmp_path / "meas" / "train_ids.npy"), [1, 2, 3, 4])


def _write_folder(root: Path, n=6, bad=True):
    for i in range(n):
        t = np.arange(int(22050 * 2.5)) / 22050
        sf.write(root / f"f{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t), 22050)
    if bad:
        (root / "zz_corrupt.wav").write_bytes(b"not audio at all")


def test_audio_folder_fails_on_corrupt_file_by_default(tmp_path):
    _write_folder(tmp_path)
    af = load_dataset("audio_folder")
    with pytest.raises(ValueError, match="zz_corrupt.wav"):
        af.prepare(resolved(af, {"path": str(tmp_path)}), tmp_path / "out")


def test_audio_folder_skips_and_counts_corrupt_file_when_asked(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write_folder(src)
    af = load_dataset("audio_folder")
    m = af.prepare(resolved(af, {"path": str(src), "on_error": "skip"}), tmp_path / "out")
    assert len(m["skipped"]) == 1 and "zz_corrupt.wav" in m["skipped"][0]["file"]
    total = sum(m["splits"][s]["items"] for s in ("train", "val", "test"))
    assert total == 6 * 2  # two whole 1-s segments per 2.5-s file
    files = {s: {f["file"] for f in m["splits"][s]["files"]} for s in ("train", "val", "test")}
    assert not (files["train"] & files["test"]) and not (files["train"] & files["val"])  # split by file


def test_gtzan_missing_data_names_the_expected_place(tmp_path):
    g = load_dataset("gtzan")
    with pytest.raises(ValueError, match=str(tmp_path / "gtzan" / "genres")):
        g.prepare(resolved(g, {"download": False}), tmp_path / "out", tmp_path)
