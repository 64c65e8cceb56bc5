"""The plug-in contracts, one generic test for every method and every dataset module (benchopt's model).

Every method (the template included) runs through the steps the rules call on tiny synthetic data of
each modality it declares: ``fit`` when it trains, then ``reconstruct`` returns the input's shape, float32,
finite values; a method that does not declare ``pairs`` never sees a clean training or test signal (the
files are removed before it runs, and ``fit`` is checked to get none). Every dataset module passes the
dataset contract on tiny data (generators, made-up files) or on the tiny archives of
``tests/test_audio_datasets.py`` (GTZAN, MAESTRO, AESDD); a module with no such case fails here.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import FIXTURES, ROOT, assert_prepared
from declipbench.data import hdrio, io
from declipbench.pipeline import plugins, steps
from declipbench.pipeline.config import deep_merge
from declipbench.foundation.contracts import Context, MethodError, PluginError, SymmetricClippingMethod
from declipbench.pipeline.plugins import (dataset_params, discover_datasets, discover_methods, load_dataset,
                                          method_class, method_params)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

METHODS = discover_methods(include_private=True)  # the template too
TAU = {"audio": 0.1, "image": 1.0}


@pytest.fixture(scope="module")
def tiny_measurements(tmp_path_factory):
    """Measurements of each modality, made by the prepare and measure steps: ``{modality: folder}``."""
    root = tmp_path_factory.mktemp("contract")
    steps.prepare("synthetic_music", {"segment_seconds": 0.1, "splits": {"train": 8, "val": 2, "test": 3}},
                  root / "data" / "audio")
    steps.measure(root / "data" / "audio", root / "audio", TAU["audio"], modality="audio")
    steps.prepare("synthetic_hdr", {"splits": {"train": 2, "val": 1, "test": 2}, "scene_size": 32, "size": 32,
                                    "patch": 16, "patches_per_image": 3}, root / "data" / "image")
    steps.measure(root / "data" / "image", root / "image", TAU["image"], modality="image")
    return {"audio": root / "audio", "image": root / "image"}


CASES = [(name, modality, variant) for name, decl in METHODS.items() for modality in decl.modalities
         for variant in decl.default_variants]


@pytest.mark.parametrize("name, modality, variant", CASES, ids=[f"{n}-{m}-{v}" for n, m, v in CASES])
def test_method_contract(name, modality, variant, tiny_measurements, tmp_path, monkeypatch):
    decl = METHODS[name]
    monkeypatch.setattr(plugins, "discover_methods", lambda *a, **k: METHODS)  # the steps see the template too
    cls = method_class(decl)
    params = method_params(cls, deep_merge(decl.variants[variant].get("params") or {}, decl.test_params),
                           f"{decl.path}: variants.{variant}.params + test_params")
    spec = {"experiment": "contract", "method": name, "variant": variant, "seed": 0,
            "label": decl.variant_label(variant), "supervision": decl.supervision, "trains": bool(decl.trains),
            "modality": modality, "tau": TAU[modality], "sample_rate": 22050, "params": params, "device": "cpu",
            "threads": 1, "progress": False}
    meas = tmp_path / "meas"
    shutil.copytree(tiny_measurements[modality], meas)
    if decl.supervision != "pairs":  # the clean training and test signals are out of reach
        (meas / "train_x.npy").unlink()
        (meas / "test_x.npy").unlink()
    model_dir = tmp_path / "model"
    if decl.trains:
        fit = cls.fit

        def checked_fit(self, data, ctx):
            assert (data.x_train is None) == (decl.supervision != "pairs"), "clean training data handed over"
            assert ctx.params == params and ctx.modality == modality and ctx.workdir == model_dir
            return fit(self, data, ctx)

        monkeypatch.setattr(cls, "fit", checked_fit)
        steps.train(spec, meas, model_dir)
        assert any(model_dir.iterdir())
    out = tmp_path / "rec.npz"
    steps.reconstruct(spec, meas, model_dir if decl.trains else None, out)
    y = np.load(meas / "test_y.npy")
    x_hat = io.load_arrays(out)["x_hat"]
    assert x_hat.shape == y.shape and x_hat.dtype == np.float32 and np.all(np.isfinite(x_hat))


def test_every_method_folder_is_covered():
    assert {n for n, _, _ in CASES} == set(METHODS) and "template" in METHODS


SYMMETRIC = sorted(n for n, d in METHODS.items() if issubclass(method_class(d), SymmetricClippingMethod))


@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_clipping_methods_refuse_asymmetric_thresholds_and_take_one_per_item(name):
    """Social sparsity and SPADE (the survey's declippers) handle symmetric clipping only: an asymmetric
    pair is refused, not silently treated as symmetric; a wrong count of per-item thresholds likewise."""
    cls = method_class(METHODS[name])
    method = cls()
    ctx = Context(method_params(cls, {}, name), tau_low=-0.2, tau_high=0.1, device="cpu", threads=1,
                          progress=False, sample_rate=22050)
    y = np.zeros((2, 64), np.float32)
    with pytest.raises(ValueError, match=r"needs symmetric thresholds, got \(-0.2, 0.1\)"):
        method.reconstruct(y, ctx)
    with pytest.raises(ValueError, match="3 thresholds for 2 items"):
        method.reconstruct_per_threshold(y, np.full(3, 0.1), ctx)


def test_a_method_returning_the_wrong_shape_is_named(tiny_measurements, tmp_path, monkeypatch):
    cls = method_class(METHODS["identity"])
    monkeypatch.setattr(cls, "reconstruct", lambda self, y, ctx: np.asarray(y)[:, :-1])
    spec = {"experiment": "c", "method": "identity", "variant": "default", "seed": 0, "params": {},
            "modality": "audio", "tau": 0.1, "device": "cpu", "threads": 1, "progress": False}
    with pytest.raises(MethodError, match=r"method 'identity' \(variant 'default', methods/identity/method.py\) "
                                          r"returned shape \(\d+, \d+\) for input"):
        steps.reconstruct(spec, tiny_measurements["audio"], None, tmp_path / "r.npz")
    assert not (tmp_path / "r.npz").exists()


def test_a_method_that_raises_is_named_with_its_variant_and_file(tiny_measurements, tmp_path, monkeypatch):
    """The error names the method, the variant and its file, keeps the method's traceback, and the step's
    command line says it in one line (exit status 2), not as a raw traceback only."""
    import subprocess
    import sys

    cls = method_class(METHODS["identity"])

    def broken(self, y, ctx):
        raise RuntimeError("division by zero somewhere")

    monkeypatch.setattr(cls, "reconstruct", broken)
    spec = {"experiment": "c", "method": "identity", "variant": "default", "seed": 0, "params": {},
            "modality": "audio", "tau": 0.1, "device": "cpu", "threads": 1, "progress": False}
    with pytest.raises(MethodError, match=r"method 'identity' \(variant 'default', methods/identity/method.py\) "
                                          r"failed in reconstruct: RuntimeError: division by zero somewhere") as info:
        steps.reconstruct(spec, tiny_measurements["audio"], None, tmp_path / "r.npz")
    assert isinstance(info.value.__cause__, RuntimeError)
    # through the command line the rules call: a method.py that does not even import
    root = tmp_path / "repo"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__",
                                                              "data", "*.egg-info", ".pytest_cache"))
    (root / "methods" / "identity" / "method.py").write_text("import numpy\ndef broken(:\n")
    job = __import__("json").dumps({"spec": spec, "measurements": str(tiny_measurements["audio"]),
                                    "out": str(tmp_path / "r.npz")})
    proc = subprocess.run([sys.executable, "-m", "declipbench", "reconstruct", "--job", job], cwd=root,
                          capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 2
    assert "error (reconstruct): " in proc.stderr and "methods/identity/method.py: syntax error at line 2" in proc.stderr


# ------------------------------------------------------------------------------------------ datasets
def _audio_folder(tmp_path):
    root = tmp_path / "clips"
    root.mkdir()
    t = np.arange(int(22050 * 2.2)) / 22050
    for i in range(5):
        sf.write(root / f"c{i}.wav", 0.4 * np.sin(2 * np.pi * (150 + 70 * i) * t), 22050)
    return {"path": str(root), "file_fractions": {"test": 0.2, "val": 0.2}}, None


def _hdr_folder(tmp_path):
    scene = load_dataset("synthetic_hdr").synthetic_scene
    root = tmp_path / "photos"
    for i in range(4):
        hdrio.write_radiance(root / f"p{i}.hdr", scene([5, i], 40, 48))
    return {"path": str(root), "size": 32, "patch": 16, "patches_per_image": 2, "train_downscale": 1,
            "split": "hash", "file_fractions": {"test": 0.25, "val": 0.25}}, None


# tiny inputs of the modules that read real data (the generators need none)
TINY_DATA = {
    "audio_folder": _audio_folder,
    "hdr": _hdr_folder,
    "synthetic_hdr": lambda tmp_path: ({"splits": {"train": 2, "val": 1, "test": 1}, "scene_size": 32, "size": 32,
                                        "patch": 16, "patches_per_image": 2}, None),
}
# modules whose contract runs on the tiny archives built in tests/test_audio_datasets.py (assert_prepared)
CHECKED_WITH_ARCHIVES = {"gtzan", "maestro", "aesdd"}
SURVEY_SETS = {"sqam"}  # survey data sets: whole signals, checked below


@pytest.mark.parametrize("module", discover_datasets())
def test_dataset_contract(module, tmp_path):
    mod = load_dataset(module)  # checks MODALITY, PARAMETERS, generate xor prepare (plugins.check_dataset_module)
    if module in SURVEY_SETS or module in CHECKED_WITH_ARCHIVES:
        assert module in SURVEY_SETS or mod.MODALITY == "audio"
        return
    if callable(getattr(mod, "generate", None)):
        params = {"splits": {"train": 3, "val": 1, "test": 2}}
        if "segment_seconds" in mod.PARAMETERS:
            params["segment_seconds"] = 0.1
        data_dir = None
    else:
        assert module in TINY_DATA, f"datasets/{module}.py reads data: give it a tiny case in TINY_DATA"
        params, data_dir = TINY_DATA[module](tmp_path)
    manifest = steps.prepare(module, params, tmp_path / "out", data_dir)
    assert_prepared(tmp_path / "out", mod.MODALITY, manifest)
    again = steps.prepare(module, params, tmp_path / "again", data_dir)  # deterministic
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"{split}.npy"),
                                      np.load(tmp_path / "again" / f"{split}.npy"))
    assert manifest["splits"]["test"]["items"] == again["splits"]["test"]["items"]
    with pytest.raises(PluginError, match=r"\.colour: unknown parameter"):
        steps.prepare(module, {**params, "colour": 1}, tmp_path / "bad", data_dir)


def test_survey_set_contract(tmp_path):
    sqam = FIXTURES / "sqam"
    if not (sqam / "a25_harp.wav").is_file():
        pytest.skip(f"SQAM fixtures not found at {sqam}")
    mod = load_dataset("sqam")
    shutil.copy(sqam / "a25_harp.wav", tmp_path / "a25_harp.wav")
    p = dataset_params(mod, {"path": str(tmp_path), "signals": ["a25_harp"]}, "t")
    assert mod.selected(p) == ["a25_harp"]
    x = mod.load(p, progress=False)["a25_harp"]
    assert x.ndim == 1 and x.dtype == np.float64 and np.all(np.isfinite(x)) and np.abs(x).max() <= 1


def test_every_dataset_module_is_covered():
    covered = set(TINY_DATA) | CHECKED_WITH_ARCHIVES | SURVEY_SETS
    for module in discover_datasets():
        mod = load_dataset(module)
        assert callable(getattr(mod, "generate", None)) or module in covered, module
