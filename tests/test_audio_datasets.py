"""GTZAN, MAESTRO, AESDD and synthetic speech, on small archives built here from real recordings.

The archives are laid out like the real ones (``genres/<genre>/<genre>.000NN.wav`` in a tar.gz; a
MAESTRO-like zip with ``maestro-v3.0.0/maestro-v3.0.0.csv``) and served by a local HTTP server, so the
download, checksum, extraction and streaming paths all run. Uses ``tests/fixtures``.
"""

import csv
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from scipy.signal import resample_poly

from declipbench.pipeline import steps
from declipbench.data.download import ChecksumError
from declipbench.metrics.sdr import sdr_db
from declipbench.pipeline.plugins import load_dataset
from conftest import assert_prepared, corrupt_zip_member, resolved
from localserver import LocalServer

ROOT = Path(__file__).resolve().parent.parent
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
SR = 22050


@pytest.fixture(autouse=True)
def _allow_local_http(monkeypatch):
    monkeypatch.setenv("DECLIPBENCH_ALLOW_HTTP_LOCALHOST", "1")


@pytest.fixture(scope="module")
def clips():
    from conftest import FIXTURES

    d = FIXTURES / "audio"
    files = sorted(d.glob("*.ogg")) if d.is_dir() else []
    if not files:
        pytest.skip(f"real audio fixtures not found at {d}")
    out = {}
    for f in files:
        x, sr = sf.read(f, dtype="float32")
        assert sr == SR
        out[f.stem] = x
    return out


def _music(clips):
    return [x for k, x in clips.items() if not k[0].isdigit()]  # the LibriSpeech clips start with digits


def _wav_bytes(x, sr, fmt="WAV", subtype="PCM_16"):
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------- GTZAN
def _gtzan_archive(path: Path, clips) -> dict:
    """10 genres x 3 files of 3.5 s, plus jazz.00054.wav (garbage) and rock.00003.wav (cut in its header)."""
    music = _music(clips)
    n = int(3.5 * SR)
    originals = {}
    with tarfile.open(path, "w:gz") as tf:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        add("genres/input.mf", b"not audio, not extracted\n")
        for gi, g in enumerate(GENRES):
            for i in range(3):
                src = music[(gi + i) % len(music)]
                start = (gi * 3 + i) * SR % (len(src) - n)
                x = src[start: start + n] * 0.9
                originals[f"{g}/{g}.{i:05d}.wav"] = x
                add(f"genres/{g}/{g}.{i:05d}.wav", _wav_bytes(x, SR))
        add("genres/jazz/jazz.00054.wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
        add("genres/rock/rock.00003.wav", _wav_bytes(music[0][:n], SR)[:40])
    return originals


def _digests(path: Path):
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()


def test_gtzan_download_extract_prepare(tmp_path, clips):
    arc = tmp_path / "served" / "genres.tar.gz"
    arc.parent.mkdir()
    originals = _gtzan_archive(arc, clips)
    sha, md5 = _digests(arc)
    data_dir, out = tmp_path / "data", tmp_path / "out"
    with LocalServer({"/genres.tar.gz": arc.read_bytes()}) as srv:
        params = {"urls": [srv.url("/missing.tar.gz"), srv.url("/genres.tar.gz")], "sha256": sha, "md5": md5,
                  "progress": False}
        m = steps.prepare("gtzan", params, out, data_dir)
        assert [p for p, _ in srv.requests] == ["/missing.tar.gz", "/genres.tar.gz"]
    assert_prepared(out, "audio", m)  # the dataset contract (tests/test_contracts.py)
    assert (data_dir / "gtzan" / "genres.tar.gz").exists()
    assert not (data_dir / "gtzan" / "genres" / "input.mf").exists()  # only the audio members
    assert not (data_dir / "gtzan" / ".genres.extracting").exists()

    skipped = {s["file"]: s["reason"] for s in m["skipped"]}
    assert set(skipped) == {"jazz/jazz.00054.wav", "rock/rock.00003.wav"}
    assert "known-corrupt" in skipped["jazz/jazz.00054.wav"] and "rock.00003.wav" in skipped["rock/rock.00003.wav"]
    files = {s: [f["file"] for f in m["splits"][s]["files"]] for s in ("train", "val", "test")}
    assert sum(map(len, files.values())) == 30 and m["files_total"] == 32
    assert not (set(files["train"]) & set(files["test"])) and not (set(files["train"]) & set(files["val"]))
    for s in ("train", "val", "test"):
        x = np.load(out / f"{s}.npy", mmap_mode="r")
        assert x.shape == (3 * len(files[s]), SR) and x.dtype == np.float32 and m["splits"][s]["items"] == len(x)
        # segments are the decoded audio, in file order, 3 whole seconds of each 3.5-s file
        first = originals[files[s][0]]
        np.testing.assert_allclose(x[:3], first[: 3 * SR].reshape(3, SR), atol=1e-4)
        assert m["clipped_at"]["0.1"][s] == int(np.sum(np.any(np.abs(np.asarray(x)) >= 0.1, axis=1)))
    # per genre, one test and one validation file (split by file, per genre)
    assert sorted(f.split("/")[0] for f in files["test"]) == sorted(GENRES)
    assert m["source"]["sha256"] == sha and m["paper_train_segments"] == 21898
    assert json.loads((out / "manifest.json").read_text())["splits"]["train"]["items"] == m["splits"]["train"]["items"]

    # a second preparation finds the verified archive and the extracted folder: no network
    m2 = steps.prepare("gtzan", {**params, "urls": ["https://127.0.0.1:9/none"]}, tmp_path / "out2", data_dir)
    assert m2["splits"]["test"]["items"] == m["splits"]["test"]["items"]
    np.testing.assert_array_equal(np.load(out / "train.npy"), np.load(tmp_path / "out2" / "train.npy"))


def test_gtzan_hand_placed_archive_and_hand_placed_folder(tmp_path, clips):
    data_dir = tmp_path / "data"
    arc = data_dir / "gtzan" / "genres.tar.gz"
    arc.parent.mkdir(parents=True)
    _gtzan_archive(arc, clips)
    sha, md5 = _digests(arc)
    m = steps.prepare("gtzan", {"download": False, "sha256": sha, "md5": md5, "progress": False},
                      tmp_path / "out", data_dir)
    assert m["source"]["source"] == "archive" and sum(m["splits"][s]["items"] for s in m["splits"]) == 90
    # the extracted folder alone, placed by hand somewhere else (the pre-download way) still works
    folder = tmp_path / "elsewhere" / "genres"
    folder.parent.mkdir()
    (data_dir / "gtzan" / "genres").rename(folder)
    m2 = steps.prepare("gtzan", {"path": str(folder), "progress": False}, tmp_path / "out2", tmp_path / "nodata")
    assert m2["source"] == {"source": "params.path"} and m2["splits"]["train"]["items"] == m["splits"]["train"]["items"]


def test_gtzan_wrong_archive_is_refused_and_kept_aside(tmp_path, clips):
    data_dir = tmp_path / "data"
    arc = data_dir / "gtzan" / "genres.tar.gz"
    arc.parent.mkdir(parents=True)
    _gtzan_archive(arc, clips)  # not the published archive: its checksum differs from the pinned one
    with pytest.raises(ChecksumError) as info:
        steps.prepare("gtzan", {"download": False, "progress": False}, tmp_path / "out", data_dir)
    assert "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6" in str(info.value)
    assert not arc.exists() and arc.with_name("genres.tar.gz.bad").exists()
    assert not (data_dir / "gtzan" / "genres").exists()


def test_gtzan_missing_everything_names_both_places(tmp_path):
    with pytest.raises(ValueError) as info:
        steps.prepare("gtzan", {"download": False}, tmp_path / "out", tmp_path)
    assert str(tmp_path / "gtzan" / "genres") in str(info.value) and "genres.tar.gz" in str(info.value)


# ------------------------------------------------------------------------------------------- MAESTRO
MAESTRO_ROWS = [  # (split, year, audio file, rate, format, source clip index)
    ("train", 2004, "2004/MIDI-Unprocessed_a.wav", 44100, "WAV", 0),
    ("train", 2009, "2009/MIDI-Unprocessed_b.flac", 48000, "FLAC", 1),
    ("train", 2017, "2017/MIDI-Unprocessed_c.wav", 48000, "WAV", 2),      # year not selected
    ("validation", 2009, "2009/MIDI-Unprocessed_v.wav", 44100, "WAV", 3),
    ("test", 2009, "2009/MIDI-Unprocessed_t1.wav", 44100, "WAV", 0),
    ("test", 2009, "2009/MIDI-Unprocessed_t2.wav", 48000, "WAV", 1),
    ("test", 2011, "2011/MIDI-Unprocessed_t3.wav", 44100, "WAV", 2),      # test split, not 2009
    ("test", 2009, "2009/MIDI-Unprocessed_corrupt.wav", 44100, "WAV", 3),  # data corrupted in the zip
    ("train", 2004, "2004/MIDI-Unprocessed_missing.wav", 44100, "WAV", 0),  # in the CSV, not in the zip
]


def _maestro_zip(path: Path, clips, seconds=3.5) -> dict:
    music = _music(clips)
    originals = {}
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, (split, year, name, rate, fmt, ci) in enumerate(MAESTRO_ROWS):
            x = music[ci % len(music)][k * SR: k * SR + int(seconds * SR)]
            up = resample_poly(x, rate // 50, SR // 50).astype(np.float32)  # 22050 -> 44100 / 48000
            stereo = np.stack([up, 0.8 * up], axis=1) * 0.9
            rows.append({"canonical_composer": "C", "canonical_title": f"T{k}", "split": split, "year": year,
                         "midi_filename": name.rsplit(".", 1)[0] + ".midi", "audio_filename": name,
                         "duration": seconds})
            if "missing" in name:
                continue
            data = _wav_bytes(stereo, rate, fmt)
            originals[name] = (data, rate)
            zf.writestr(f"maestro-v3.0.0/{name}", data)
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        zf.writestr("maestro-v3.0.0/maestro-v3.0.0.csv", text.getvalue())
    corrupt_zip_member(path, "maestro-v3.0.0/2009/MIDI-Unprocessed_corrupt.wav", 5000, 400, 0x5A)
    return originals


def test_maestro_streams_selection_scales_test_to_input_sdr(tmp_path, clips):
    arc = tmp_path / "served.zip"
    originals = _maestro_zip(arc, clips)
    sha = hashlib.sha256(arc.read_bytes()).hexdigest()
    out, data_dir = tmp_path / "out", tmp_path / "data"
    with LocalServer({"/maestro-v3.0.0.zip": arc.read_bytes()}) as srv:
        m = steps.prepare("maestro", {"urls": [srv.url("/maestro-v3.0.0.zip")], "sha256": sha, "val_files": 1,
                                      "test_input_sdr_db": 5.0, "progress": False}, out, data_dir)
    assert (data_dir / "maestro" / "maestro-v3.0.0.zip").exists()
    assert_prepared(out, "audio", m)  # the dataset contract (tests/test_contracts.py)
    files = {s: [f["file"] for f in m["splits"][s]["files"]] for s in ("train", "val", "test")}
    assert files == {"train": ["2004/MIDI-Unprocessed_a.wav", "2009/MIDI-Unprocessed_b.flac"],
                     "val": ["2009/MIDI-Unprocessed_v.wav"],
                     "test": ["2009/MIDI-Unprocessed_t1.wav", "2009/MIDI-Unprocessed_t2.wav"]}
    skipped = {s["file"]: s["reason"] for s in m["skipped"]}
    assert set(skipped) == {"2009/MIDI-Unprocessed_corrupt.wav", "2004/MIDI-Unprocessed_missing.wav"}
    assert "not in the zip" in skipped["2004/MIDI-Unprocessed_missing.wav"]
    assert m["selection"] == {"train": 3, "val": 1, "test": 3}
    assert not (out / ".spool").exists()

    # training segments: the recording mixed to mono, resampled to 22,050 Hz, cut in whole seconds
    train = np.load(out / "train.npy", mmap_mode="r")
    assert train.shape == (6, SR) and m["splits"]["train"]["items"] == 6
    for j, name in enumerate(files["train"]):
        data, rate = originals[name]
        x, r = sf.read(io.BytesIO(data), dtype="float32")
        ref = resample_poly(x.mean(axis=1), 147 if rate == 48000 else 1, 320 if rate == 48000 else 2)
        np.testing.assert_allclose(train[3 * j: 3 * j + 3], ref[: 3 * SR].reshape(3, SR), atol=2e-5)

    # test segments: clipping at tau = 0.1 gives the requested input SDR, whatever the recording level
    test = np.asarray(np.load(out / "test.npy"))
    kept = m["splits"]["test"]["items"]
    assert kept == len(test) and kept + sum(m["splits"]["test"].get("dropped_segments", {}).values()) == 6
    assert kept >= 4
    sdrs = [sdr_db(x, np.clip(x, -0.1, 0.1)) for x in test]
    np.testing.assert_allclose(sdrs, 5.0, atol=0.02)
    meas = steps.measure(out, tmp_path / "meas", tau=0.1)
    assert meas["splits"]["test"]["items_kept"] == kept
    assert abs(meas["splits"]["test"]["input_sdr_median"] - 5.0) < 0.02


def test_maestro_requires_the_test_input_sdr(tmp_path):
    with pytest.raises(ValueError, match="test_input_sdr_db"):
        steps.prepare("maestro", {}, tmp_path / "out", tmp_path)


def test_maestro_on_error_fail_names_the_member(tmp_path, clips):
    data_dir = tmp_path / "data"
    arc = data_dir / "maestro" / "maestro-v3.0.0.zip"
    arc.parent.mkdir(parents=True)
    _maestro_zip(arc, clips, seconds=1.2)
    sha = hashlib.sha256(arc.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="MIDI-Unprocessed_corrupt.wav"):
        steps.prepare("maestro", {"download": False, "sha256": sha, "test_input_sdr_db": 10,
                                  "on_error": "fail", "progress": False}, tmp_path / "out", data_dir)
    assert not list((tmp_path / "out").glob("*.npy"))  # nothing half-written left behind


# --------------------------------------------------------------------------------------------- AESDD
def _aesdd_zip(path: Path, clips) -> None:
    speech = [x for k, x in sorted(clips.items()) if k[0].isdigit()]
    emotions = ("anger", "disgust", "fear", "happiness", "sadness")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for ei, e in enumerate(emotions):
            for u in range(2):
                x = speech[(ei + u) % len(speech)][(ei * 2 + u) * SR // 2:][: int(2.5 * SR)]
                x44 = resample_poly(x, 2, 1).astype(np.float32)
                zf.writestr(f"Acted Emotional Speech Dynamic Database/{e}/{e[0]}{u + 1:02d} ({ei % 5 + 1}).wav",
                            _wav_bytes(x44, 44100))
        zf.writestr("Acted Emotional Speech Dynamic Database/fear/f20 (3).wav", b"RIFF....WAVEbroken")


def test_aesdd_needs_a_pinned_checksum_then_downloads_and_prepares(tmp_path, clips):
    arc = tmp_path / "aesdd.zip"
    _aesdd_zip(arc, clips)
    sha = hashlib.sha256(arc.read_bytes()).hexdigest()
    data_dir = tmp_path / "data"
    with LocalServer({"/aesdd.zip": arc.read_bytes()}) as srv:
        with pytest.raises(ValueError, match="no checksum is published") as info:
            steps.prepare("aesdd", {"url": srv.url("/aesdd.zip")}, tmp_path / "out", data_dir)
        assert "params.sha256" in str(info.value) and srv.requests == []
        m = steps.prepare("aesdd", {"url": srv.url("/aesdd.zip"), "sha256": sha, "progress": False},
                          tmp_path / "out", data_dir)
    assert_prepared(tmp_path / "out", "audio", m)  # the dataset contract (tests/test_contracts.py)
    assert [s["file"] for s in m["skipped"]] == ["fear/f20 (3).wav"]
    files = {s: [f["file"] for f in m["splits"][s]["files"]] for s in ("train", "val", "test")}
    assert sum(map(len, files.values())) == 10 and len(files["test"]) == 2 and len(files["val"]) == 1
    assert not set(files["train"]) & set(files["test"])
    x = np.load(tmp_path / "out" / "test.npy")
    assert x.shape == (4, SR)  # two whole seconds of each 2.5-s utterance, at 22,050 Hz
    assert m["source"]["sha256"] == sha


# ---------------------------------------------------------------------------------- synthetic speech
def test_synthetic_speech_is_deterministic_and_speech_like():
    ss, sm = load_dataset("synthetic_speech"), load_dataset("synthetic_music")
    p = resolved(ss)
    a = ss.generate(p, "test", 40)
    np.testing.assert_array_equal(a[30:], ss.generate(p, "test", 10, start=30))
    assert not np.array_equal(a[:5], ss.generate(p, "train", 5)) and a.dtype == np.float32
    peaks = np.abs(a).max(axis=1)
    assert peaks.min() >= 0.15 * 0.999 and peaks.max() <= 0.6 * 1.001

    def quiet_frames(x):  # share of 10-ms frames 30 dB below the segment's loudest frame
        e = (x[:, : 100 * 220].reshape(len(x), 100, 220) ** 2).mean(-1)
        return float(np.mean(e < 1e-3 * e.max(axis=1, keepdims=True)))

    def centroid(x):
        s = np.abs(np.fft.rfft(x, axis=1))
        return float(np.mean((s * np.fft.rfftfreq(x.shape[1], 1 / SR)).sum(1) / s.sum(1)))

    music = sm.generate(resolved(sm), "test", 40)
    assert quiet_frames(a) > 0.1 > quiet_frames(music)  # pauses between syllables
    assert centroid(a) > 1.3 * centroid(music)           # fricatives and formants: brighter than the notes


def test_synthetic_speech_through_prepare(tmp_path):
    m = steps.prepare("synthetic_speech", {"splits": {"train": 3, "val": 1, "test": 2}}, tmp_path)
    assert m["splits"]["test"]["items"] == 2 and np.load(tmp_path / "train.npy").shape == (3, SR)


# ------------------------------------------------------------------------- Table 2: extra test sets
def test_test_sets_config_is_validated():
    from declipbench.pipeline.config import ConfigError, load_config, validate_config

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["experiments"]["table2"]["test_sets"] = ["nowhere"]
    with pytest.raises(ConfigError, match=r"experiments\.table2\.test_sets: unknown dataset 'nowhere'"):
        validate_config(cfg, "config.yaml")
    cfg["experiments"]["table2"]["test_sets"] = ["synth_music"]
    with pytest.raises(ConfigError, match="already the experiment's dataset"):
        validate_config(cfg, "config.yaml")
    from declipbench.pipeline.config import job_spec

    c = load_config(ROOT / "config" / "config.yaml")
    ssl = job_spec(c, "table2", "self_supervised", "proposed_detached_use_mask", 0)
    assert ssl["extra_train_measurements"] == ["results/demo/measurements/table2",
                                               "results/demo/measurements/table2/test_sets/synth_speech"]
    assert "extra_train_measurements" not in job_spec(c, "table2", "supervised", "full", 0)  # pairs: never


def test_gtzan_archive_with_an_escaping_member_is_refused(tmp_path, clips):
    arc = tmp_path / "served" / "genres.tar.gz"
    arc.parent.mkdir()
    originals = _gtzan_archive(arc, clips)
    # the same archive plus one member whose path climbs out of the extraction folder
    evil = tmp_path / "served" / "evil.tar.gz"
    with tarfile.open(arc) as src, tarfile.open(evil, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m))
        info = tarfile.TarInfo("genres/../../escaped.wav")
        data = _wav_bytes(next(iter(originals.values())), SR)
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    sha, md5 = _digests(evil)
    data_dir = tmp_path / "data"
    with LocalServer({"/genres.tar.gz": evil.read_bytes()}) as srv:
        with pytest.raises(ValueError, match=r"genres/\.\./\.\./escaped\.wav"):
            steps.prepare("gtzan", {"urls": [srv.url("/genres.tar.gz")], "sha256": sha, "md5": md5, "progress": False},
                          tmp_path / "out", data_dir)
    assert not list(tmp_path.rglob("escaped.wav"))
    assert not (data_dir / "gtzan" / "genres").exists() and not list((tmp_path / "out").glob("*.npy"))


@pytest.mark.full  # the paper's DAG is built in make test by tests/test_dry_runs.py too
def test_paper_dag_has_the_audio_tables():
    from conftest import snakemake

    out = snakemake("-n", "--forceall", "--configfile", "config/paper.yaml").stdout
    for target in ("results/paper/data/gtzan/manifest.json", "results/paper/data/maestro/manifest.json",
                   "results/paper/data/aesdd/manifest.json", "results/paper/tables/table2.md",
                   "results/paper/tables/table2/aesdd.md", "results/paper/tables/table3.md",
                   "results/paper/measurements/table2/test_sets/aesdd/test_y.npy",
                   "results/paper/models/table3/self_supervised/proposed_detached_use_mask/seed0/model.pt",
                   "results/paper/models/table2/self_supervised/proposed_detached_use_mask/seed0/model.pt",
                   "results/paper/models/table1/self_supervised/proposed_detached/seed2/model.pt",
                   "results/paper/models/table1/supervised/full/seed2/model.pt"):
        assert target in out, target
    # three seeds for what trains, one run for what does not
    assert "results/paper/reconstructions/table1/social_sparsity/pew/seed0.npz" in out
    assert "results/paper/reconstructions/table1/social_sparsity/pew/seed1" not in out
    # Table 2's supervised network is Table 1's (same data and settings): trained once, reconstructs both
    assert "results/paper/models/table2/supervised" not in out
    assert "input: results/paper/measurements/table2/test_sets/aesdd/test_y.npy, " \
           "results/paper/models/table1/supervised/full/seed0/model.pt" in out
    # an extra test set goes through the same rules as an experiment's own data (no *_test_set copies)
    assert not re.search(r"^\w+_test_set\s+\d+", out, re.M)
    for rule, wildcards in (("measure", "measured=table2/test_sets/aesdd"),
                            ("reconstruct", "measured=table2/test_sets/aesdd, method=supervised"),
                            ("evaluate", "measured=table2/test_sets/aesdd, method=self_supervised"),
                            ("table", "table=table2/aesdd")):
        assert re.search(rf"rule {rule}:\n(    .*\n)*?    wildcards: {re.escape(wildcards)}", out), (rule, wildcards)


def test_a_file_name_that_is_not_utf8_is_named_and_skipped_or_stops_the_run(tmp_path):
    """A name with bytes that are not UTF-8 (a file copied from an old archive): ``on_error: skip`` leaves it
    out and lists it in the manifest, ``fail`` stops naming it, its bytes shown as \\xNN."""
    import os

    src = tmp_path / "src"
    src.mkdir()
    x = (np.random.default_rng(0).standard_normal(22050 * 2) * 0.1).astype(np.float32)
    for i in range(6):
        sf.write(src / f"ok{i}.wav", x, 22050)
    sf.write(src / "tmp.wav", x, 22050)
    os.rename(os.fsencode(src / "tmp.wav"), os.fsencode(src) + b"/bad\xff.wav")
    manifest = steps.prepare("audio_folder", {"path": str(src), "on_error": "skip"}, tmp_path / "skip")
    assert manifest["skipped"] == [{"file": f"{src}/bad\\xff.wav", "split": None,
                                    "reason": "the file name is not valid UTF-8: rename the file"}]
    assert sum(len(s["files"]) for s in manifest["splits"].values()) == 6
    assert json.loads((tmp_path / "skip" / "manifest.json").read_text())["skipped"] == manifest["skipped"]
    with pytest.raises(ValueError, match=r"bad\\xff\.wav: the file name is not valid UTF-8"):
        steps.prepare("audio_folder", {"path": str(src), "on_error": "fail"}, tmp_path / "fail")


def test_an_audio_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    """FLAC codes silence in a few bytes per block, so a small file can decode to gigabytes (the decoder's
    output is allocated from the header's frame count): the header is checked against the reader's
    budget first, naming the file; the data sets' on_error setting then skips or stops on it."""
    from declipbench.data import audio

    bomb = tmp_path / "silence.flac"
    sf.write(bomb, np.zeros((400_000, 2), np.float32), 22050, subtype="PCM_16")
    assert bomb.stat().st_size * 100 < 400_000 * 2 * 4  # over 100 times smaller than what it decodes to
    assert audio.read_audio(bomb)[0].shape == (400_000,)
    monkeypatch.setattr(audio, "MAX_DECODED_SAMPLES", 799_999)
    with pytest.raises(ValueError, match=r"silence.flac declares 400,000 frames x 2 channels, more than the reader's "
                                         r"budget of 799,999 samples; refused"):
        audio.read_audio(bomb)
