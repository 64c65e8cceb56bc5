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


def test_audio_folder_include_keeps_only_the_matching_files(tmp_path):
    src = tmp_path / "src"
    (src / "speech").mkdir(parents=True)
    _write_folder(src, n=4, bad=False)
    _write_folder(src / "speech", n=2, bad=False)
    af = load_dataset("audio_folder")
    m = af.prepare(resolved(af, {"path": str(src), "include": ["f1.wav", "f[23].wav"]}), tmp_path / "out")
    used = sorted(Path(f["file"]).relative_to(src).as_posix() for s in m["splits"].values() for f in s["files"])
    assert used == ["f1.wav", "f2.wav", "f3.wav"]
    m = af.prepare(resolved(af, {"path": str(src), "include": ["speech/*"]}), tmp_path / "out")
    used = sorted(Path(f["file"]).relative_to(src).as_posix() for s in m["splits"].values() for f in s["files"])
    assert used == ["speech/f0.wav", "speech/f1.wav"]
    with pytest.raises(ValueError, match=r"include: 'music/\*' matches no audio file"):
        af.prepare(resolved(af, {"path": str(src), "include": ["music/*"]}), tmp_path / "out")


def test_gtzan_missing_data_names_the_expected_place(tmp_path):
    g = load_dataset("gtzan")
    with pytest.raises(ValueError, match=str(tmp_path / "gtzan" / "genres")):
        g.prepare(resolved(g, {"download": False}), tmp_path / "out", tmp_path)


def test_measure_stops_when_nothing_clips_naming_dataset_tau_and_level(tmp_path):
    data = tmp_path / "results" / "data" / "quiet_set"
    x = (0.04 * np.sin(np.linspace(0, 60, 600))).reshape(6, 100).astype(np.float32)  # peak 0.04 < tau
    for split in ("train", "val", "test"):
        io.save_npy(data / f"{split}.npy", x)
    with pytest.raises(ValueError, match=r"dataset quiet_set .*no train item clips at tau = 0\.1: the peak level "
                                         r"of its train split is 0\.04"):
        steps.measure(data, tmp_path / "meas", tau=0.1)
    assert not (tmp_path / "meas" / "manifest.json").exists()
    # an extra test set needs its test split only; here that one is empty too
    with pytest.raises(ValueError, match="no test item clips"):
        steps.measure(data, tmp_path / "meas", tau=0.1, required=["test"])
    m = steps.measure(data, tmp_path / "meas", tau=0.02, required=["test"])
    assert m["splits"]["test"]["items_kept"] == 6


def test_a_step_removes_what_a_killed_run_left_behind(tmp_path):
    """A measure killed with SIGKILL leaves its hidden temporary arrays; the next run removes them (and
    nothing else hidden)."""
    data = tmp_path / "data"
    x = np.zeros((4, 100), np.float32)
    x[:, 10] = 0.5
    for split in ("train", "val", "test"):
        io.save_npy(data / f"{split}.npy", x)
    out = tmp_path / "meas"
    out.mkdir()
    stale = [out / ".val_x.npy.k3j9x0ab.npy", out / ".test_y.q1w2e3r4.npy", out / ".manifest.json.zz99aa00.json"]
    for f in stale:
        f.write_bytes(b"\0" * 1000)
    (out / ".keep_me").write_text("not ours")
    steps.measure(data, out, tau=0.1)
    assert not any(f.exists() for f in stale) and (out / ".keep_me").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".keep_me"]


def test_a_job_dies_with_the_shell_that_started_it(tmp_path):
    """Killing the job's shell wrapper (as Snakemake or Slurm may) ends the Python step too: it cannot
    write model.pt after the job was marked failed. SIGTERM unwinds: no temporary file is left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    data = tmp_path / "data"
    x = (0.3 * np.random.default_rng(0).standard_normal((16, 2048))).astype(np.float32)
    for split in ("train", "val", "test"):
        io.save_npy(data / f"{split}.npy", x)
    steps.measure(data, tmp_path / "meas", tau=0.1)
    spec = {"experiment": "e", "method": "self_supervised", "variant": "proposed", "seed": 0, "label": "P",
            "supervision": "measurements", "trains": True, "modality": "audio", "tau": 0.1, "sample_rate": 22050,
            "device": "cpu", "threads": 1, "progress": False,
            "params": {"network": {"channels": 4, "depth": 2},
                       "training": {"epochs": 1000, "steps_per_epoch": 5, "batch_size": 2, "crop": 256}}}
    job = json.dumps({"spec": spec, "measurements": str(tmp_path / "meas"), "out": str(tmp_path / "model")})
    cmd = f"{sys.executable} -m declipbench train --job '{job}' 2> {tmp_path / 'log'}; echo after"  # '; echo': bash stays the parent
    shell = subprocess.Popen(["bash", "-c", cmd], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 60
    while not (tmp_path / "model" / "checkpoint.pt").exists():  # training is under way
        assert time.time() < deadline and shell.poll() is None, (tmp_path / "log").read_text()
        time.sleep(0.2)
    (child,) = psutil.Process(shell.pid).children()
    os.kill(shell.pid, signal.SIGKILL)
    shell.wait()
    child.wait(timeout=10)  # raises if the Python step outlives its shell
    assert not (tmp_path / "model" / "model.pt").exists()
    assert not [p for p in (tmp_path / "model").iterdir() if p.name.startswith(".")]


def test_an_unusable_data_dir_is_named_with_its_config_key(tmp_path):
    """data_dir that is not a folder (the tests run as root, for whom read-only folders are writable): the
    error names the folder and the config key, no raw OSError traceback."""
    blocker = tmp_path / "data_dir_is_a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError) as info:
        steps.prepare("aesdd", {"sha256": "0" * 64, "url": "https://127.0.0.1:9/aesdd.zip"}, tmp_path / "out", blocker)
    text = str(info.value)
    assert "dataset module aesdd" in text and str(blocker) in text and "config key data_dir" in text


@pytest.mark.parametrize("fmt, keep", [("WAV", 0.5), ("OGG", 0.9)])
def test_an_audio_file_cut_short_is_corrupt_not_used(tmp_path, fmt, keep):
    """A WAV or Ogg file cut short still decodes in part; it is detected from its container (the WAV data
    chunk announces more bytes than the file holds, the Ogg stream has no end-of-stream page) and treated
    as corrupt: an error naming it (on_error: fail) or skipped and listed (on_error: skip)."""
    from declipbench.data.audio import probe, read_audio

    src = tmp_path / "src"
    src.mkdir()
    _write_folder(src, n=4, bad=False)
    full = tmp_path / f"full.{fmt.lower()}"
    sf.write(full, 0.3 * np.random.default_rng(0).standard_normal(22050 * 4).clip(-3, 3) / 3, 22050, format=fmt)
    data = full.read_bytes()
    cut = src / f"cut.{fmt.lower()}"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert probe(full) is None and "is truncated" in probe(cut)
    with pytest.raises(ValueError, match=f"{cut.name} is truncated"):
        read_audio(cut)
    af = load_dataset("audio_folder")
    with pytest.raises(ValueError, match=f"{cut.name} is truncated"):
        af.prepare(resolved(af, {"path": str(src)}), tmp_path / "out")
    m = af.prepare(resolved(af, {"path": str(src), "on_error": "skip"}), tmp_path / "out")
    assert [s["file"] for s in m["skipped"]] == [str(cut)] and "is truncated" in m["skipped"][0]["reason"]
    from declipbench.data.segments import stream_segments

    with pytest.raises(ValueError, match="is truncated"):
        next(stream_segments(cut, 22050))


def test_a_full_disk_is_named_and_leaves_no_temporary(tmp_path, monkeypatch):
    """On a full disk a memory-mapped output would die by SIGBUS at its first write, with nothing in the log:
    its blocks are reserved first, so the step fails with "no space left on device" naming the file, and
    its temporary is removed (the audio segments and the measured images alike)."""
    import errno
    import os

    from declipbench.data.segments import SegmentWriter

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(OSError, match=r"train\.npy: cannot reserve .* MB on disk \(no space left on device\)"):
        SegmentWriter(tmp_path / "train.npy", 1000, 256)
    assert list(tmp_path.iterdir()) == []
    x = np.random.default_rng(0).uniform(0, 2, size=(4, 3, 8, 8)).astype(np.float32)
    (tmp_path / "data").mkdir()
    for split in ("train", "val", "test"):
        io.save_npy(tmp_path / "data" / f"{split}.npy", x)
    with pytest.raises(OSError, match=r"train_x\.npy: cannot reserve .*no space left on device"):
        steps.measure(tmp_path / "data", tmp_path / "m", 1.0, modality="image")
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.startswith(".")]


@pytest.mark.full
def test_a_real_full_disk_is_named_and_the_workflow_keeps_nothing_of_the_step(tmp_path):
    """The same on a real file system that fills up (a small tmpfs: needs root, as in CI): the tiny run's
    data fit, its measurements do not. The measure job fails naming the file and "no space left on device" in
    its log, leaves no temporary, and Snakemake removes what the step had finished, so no partial
    measurement set stays for a later run to use."""
    import os
    import subprocess

    from conftest import ROOT, snakemake

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1900k", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        proc = snakemake("-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--cores", "1",
                         "--configfile", str(ROOT / "tests" / "configs" / "tiny.yaml"),
                         "--config", f"results_dir={disk / 'results'}", "--until", "measure", cwd=tmp_path, check=False)
        assert proc.returncode != 0
        run = disk / "results" / "tiny"
        assert (run / "data" / "synth_music" / "manifest.json").is_file()  # the data fitted
        log = (run / "logs" / "measure" / "table1.log").read_text()
        assert "cannot reserve" in log and "(no space left on device)" in log and str(run / "measurements" / "table1") in log
        assert not (run / "measurements" / "table1").exists() or not any((run / "measurements" / "table1").iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=False)
