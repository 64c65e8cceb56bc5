import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from declipbench.foundation.parameters import resolve
from declipbench.foundation.contracts import Context, PluginError
from declipbench.physics import Thresholds
from declipbench.pipeline.plugins import method_params
from declipbench.training import TrainSettings, fit, subset_indices
from declipbench.training.learned import NetworkMethod, build_model

ROOT = Path(__file__).resolve().parent.parent


def _setup(params: dict, seed: int = 0, n: int = 8, length: int = 256):
    """A learned method's pieces from (partial) parameters: context, model, losses, training settings."""
    p = resolve(NetworkMethod.declaration(), params, "test")
    ctx = Context(p, -0.1, 0.1, seed=seed)
    return ctx, build_model(p, ctx, (n, length)), NetworkMethod.losses(p), TrainSettings.from_params(p["training"])

SCRIPT = r"""
import os, signal, sys, json, logging
import numpy as np, torch
logging.basicConfig(level=logging.INFO)
sys.path.insert(0, {root!r})
from declipbench.foundation.parameters import resolve
from declipbench.foundation.contracts import Context
from declipbench.physics import Thresholds
from declipbench.training import TrainSettings, fit
from declipbench.training.learned import NetworkMethod, build_model
torch.set_num_threads(1)
rng = np.random.default_rng(0)
x = (rng.standard_normal((16, 512)) * 0.3).astype(np.float32)
y = np.clip(x, -0.1, 0.1)
params = resolve(NetworkMethod.declaration(), {{"network": {{"channels": 4, "depth": 2}}, "losses": {losses!r},
                  "training": {{"epochs": 3, "steps_per_epoch": 4, "batch_size": 4, "crop": 256}}}}, "test")
ctx = Context(params, -0.1, 0.1, seed=3)
model = build_model(params, ctx, y.shape)
s = TrainSettings.from_params(params["training"])
kill_after = {kill_after}
def hook(epoch):
    if epoch == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash right after a checkpoint was written
rows = fit(model, NetworkMethod.losses(params), Thresholds(ctx.tau_low, ctx.tau_high), s, {workdir!r}, y,
           x if "supervised" in {losses!r} else None, y[:4], x[:4], modality="audio", seed=3, threads=1,
           progress=False, on_epoch_end=hook)
torch.save(model.state_dict(), os.path.join({workdir!r}, "final.pt"))
print(json.dumps([r["train_loss"] for r in rows]))
"""


def _run(workdir, losses, kill_after=-1):
    code = SCRIPT.format(root=str(ROOT), workdir=str(workdir), losses=losses, kill_after=kill_after)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("losses", [["mc", "ei"], pytest.param(["supervised"], marks=pytest.mark.full)])
def test_resume_after_kill_gives_same_final_weights(tmp_path, losses):
    ref = _run(tmp_path / "ref", losses)
    assert ref.returncode == 0, ref.stderr
    crashed = _run(tmp_path / "crash", losses, kill_after=0)
    assert crashed.returncode != 0  # killed after epoch 1
    assert (tmp_path / "crash" / "checkpoint.pt").exists() and not (tmp_path / "crash" / "final.pt").exists()
    resumed = _run(tmp_path / "crash", losses)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "from epoch 2/3" in resumed.stderr
    a = torch.load(tmp_path / "ref" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "crash" / "final.pt", weights_only=True)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert json.loads(ref.stdout) == json.loads(resumed.stdout)  # the log carries over too
    log = (tmp_path / "crash" / "train_log.csv").read_text().splitlines()
    assert len(log) == 1 + 3 and "val_sdr" in log[0]


def test_changed_settings_start_over_and_keep_old_checkpoint(tmp_path):
    from declipbench.training.loop import fingerprint

    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    small = {"network": {"channels": 2, "depth": 1}, "losses": ["mc"],
             "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 128}}
    ctx, model, losses, s = _setup(small)
    fit(model, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path, y, modality="audio", threads=1, progress=False)
    ctx, model, losses2, s2 = _setup({**small, "training": {**small["training"], "lr": 0.01}})
    fit(model, losses2, Thresholds(ctx.tau_low, ctx.tau_high), s2, tmp_path, y, modality="audio", threads=1, progress=False)
    assert (tmp_path / f"checkpoint.{fingerprint(s, losses, 0)}.pt").exists()
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["fingerprint"] == fingerprint(s2, losses2, 0)
    # a loss parameter is part of the fingerprint too
    _, _, losses3, _ = _setup({**small, "losses": ["mc", "ei"], "ei": {"g_max": 3.0}})
    assert fingerprint(s, losses3, 0) != fingerprint(s, NetworkMethod.losses(resolve(
        NetworkMethod.declaration(), {**small, "losses": ["mc", "ei"]}, "t")), 0)


def test_self_supervised_loss_never_sees_clean_signals(tmp_path, monkeypatch):
    from declipbench.losses.ei import EILoss
    from declipbench.losses.mc import MCLoss

    seen = []
    for cls in (MCLoss, EILoss):
        def spy(self, x_hat, y, x=None, _real=cls.__call__, **kw):
            seen.append(x)
            return _real(self, x_hat, y, x, **kw)

        monkeypatch.setattr(cls, "__call__", spy)
    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    ctx, model, losses, s = _setup({"network": {"channels": 2, "depth": 1}, "losses": ["mc", "ei"],
                                    "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 128}})
    fit(model, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path, y, x_train=x, modality="audio", threads=1, progress=False)
    assert len(seen) == 4 and all(v is None for v in seen)


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)

    def train(seed, d):
        ctx, m, losses, s = _setup({"network": {"channels": 2, "depth": 1}, "losses": ["mc", "ei"],
                                    "training": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 2, "crop": 128}},
                                   seed=seed)
        fit(m, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path / d, y, modality="audio", seed=seed, threads=1, progress=False)
        return m.state_dict()

    a, b, c = train(0, "a"), train(0, "b"), train(1, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_zero_weight_term_is_skipped_with_its_draws(tmp_path):
    """``ei.weight: 0`` leaves the run exactly as MC alone: the term and its gain draws are skipped."""
    x = (np.random.default_rng(2).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    small = {"network": {"channels": 2, "depth": 1},
             "training": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 2, "crop": 128}}
    out = []
    for extra in ({"losses": ["mc"]}, {"losses": ["mc", "ei"], "ei": {"weight": 0.0}}):
        ctx, m, losses, s = _setup({**small, **extra})
        fit(m, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path / str(len(out)), y, modality="audio", threads=1, progress=False)
        out.append(m.state_dict())
    assert all(torch.equal(out[0][k], out[1][k]) for k in out[0])


def test_images_need_their_modality(tmp_path):
    x = np.random.default_rng(1).random((4, 3, 16, 16)).astype(np.float32)
    y = np.minimum(x, 0.8)
    p = resolve(NetworkMethod.declaration(), {"network": {"channels": 2, "depth": 1}, "losses": ["mc"],
                                              "training": {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2,
                                                           "crop": 16}}, "t")
    ctx = Context(p, -0.8, 0.8, modality="image")
    model = build_model(p, ctx, x.shape)
    with pytest.raises(ValueError, match="audio data must be items x samples"):
        fit(model, NetworkMethod.losses(p), Thresholds(ctx.tau_low, ctx.tau_high), TrainSettings.from_params(p["training"]), tmp_path,
            y, modality="audio", threads=1, progress=False)
    fit(model, NetworkMethod.losses(p), Thresholds(ctx.tau_low, ctx.tau_high), TrainSettings.from_params(p["training"]), tmp_path,
        y, modality="image", threads=1, progress=False)


def test_subset_is_fixed_and_sized():
    a = subset_indices(1000, 0.05, 0)
    assert len(a) == 50 and np.array_equal(a, subset_indices(1000, 0.05, 0))
    assert not np.array_equal(a, subset_indices(1000, 0.05, 1))
    assert len(subset_indices(10, 1.0, 0)) == 10


@pytest.mark.parametrize("field, value", [("epochs", 0), ("lr", -1.0), ("subset_fraction", 0.0),
                                          ("item_weighting", "loudness"), ("crop", 8)])
def test_bad_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"training.{field}"):
        TrainSettings.from_params({field: value})


def test_unknown_training_setting_is_named():
    with pytest.raises(ValueError, match="training.epoks: unknown parameter"):
        TrainSettings.from_params({"epoks": 3})


class _SelfSupervised(NetworkMethod):
    supervision = "measurements"
    default_losses = ("mc", "ei")


@pytest.mark.parametrize("params, message", [
    ({"losses": ["magic"]}, "where.losses: unknown loss 'magic'"),
    ({"losses": ["mc", "supervised"]}, "'supervised' needs clean signals, but the method declares supervision: measurements"),
    ({"losses": []}, "list at least one loss"),
    ({"ei": {"g_max": 0.5}}, "where.ei.g_max = 0.5: need g_min <= g_max"),
    ({"ei": {"core_weight": 1.5}}, r"where.ei.core_weight = 1.5: must be <= 1"),
    ({"ei": {"distribution": "normal"}}, "where.ei.distribution"),
    ({"network": {"arch": "hqs"}, "masking": {"reliable_channel": True}}, "not available with network.arch = 'hqs'"),
])
def test_bad_loss_and_network_parameters_name_the_field(params, message):
    with pytest.raises(PluginError, match=message):
        method_params(_SelfSupervised, params, "where")


def test_identical_trainings_write_identical_files(tmp_path):
    """model.pt is the same bytes for the same training (the temporary file's name is not stored inside),
    so a checksum proves a reproduction (checkpoint.pt also holds the epoch timings: not compared)."""
    import hashlib

    from declipbench.pipeline.plugins import load_method

    x = (np.random.default_rng(4).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    decl, method = load_method("self_supervised")
    params = method_params(type(method), {"network": {"channels": 2, "depth": 1}, "training": {
        "epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 128}}, "t")
    from declipbench.foundation.contracts import TrainData

    digests = []
    for run in ("a", "b"):
        ctx = Context(params, -0.1, 0.1, seed=1, workdir=tmp_path / run, threads=1, progress=False)
        (tmp_path / run).mkdir()
        method.fit(TrainData(y, None), ctx)
        digests.append(hashlib.sha256((tmp_path / run / "model.pt").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


class _Gain(torch.nn.Module):
    """x_hat = exp(a) * y: a one-parameter reconstructor whose amplitude a test can set."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.zeros(()))

    def forward(self, y):
        return torch.exp(self.a) * y


@pytest.mark.parametrize("bad, message", [(12.0, r"peak \|x_hat\| = .* times the measurements' peak"),
                                          (float("nan"), "the loss is not finite")])
def test_a_run_away_or_nan_stops_naming_step_and_terms_and_keeps_the_last_good_checkpoint(tmp_path, bad, message):
    from declipbench.losses import LOSSES
    from declipbench.physics import Thresholds
    from declipbench.training.loop import TrainingDiverged

    x = (np.random.default_rng(0).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    model = _Gain()
    s = TrainSettings.from_params({"epochs": 3, "steps_per_epoch": 4, "batch_size": 2, "crop": 64})

    def blow_up(epoch):
        if epoch == 0:
            with torch.no_grad():
                model.a.fill_(bad)  # e^12 = 1.6e5 times the peak: above the default limit of 1e4

    mc = LOSSES["mc"](weight=1.0)
    with pytest.raises(TrainingDiverged, match=message) as err:
        fit(model, [mc], Thresholds.symmetric(0.1), s, tmp_path, y, modality="audio", seed=0, threads=1,
            progress=False, on_epoch_end=blow_up)
    text = str(err.value)
    assert "epoch 2, step 1 of 4" in text and "mc = " in text
    assert f"last good checkpoint {tmp_path / 'checkpoint.pt'} (epoch 1) is kept" in text
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 0 and torch.isfinite(ckpt["model"]["a"])  # the good epoch, not the bad weights


def test_the_limit_on_amplitude_is_a_setting(tmp_path):
    """With ``max_amplitude: null`` the same run-away trains on (the loss stays finite), and the epoch log
    records the peak ratio that shows it."""
    from declipbench.losses import LOSSES
    from declipbench.physics import Thresholds

    x = (np.random.default_rng(0).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    model = _Gain()
    with torch.no_grad():
        model.a.fill_(12.0)
    s = TrainSettings.from_params({"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 64, "max_amplitude": None,
                                   "lr": 1e-6})
    rows = fit(model, [LOSSES["mc"](weight=1.0)], Thresholds.symmetric(0.1), s, tmp_path, y, modality="audio",
               seed=0, threads=1, progress=False)
    assert rows[0]["peak_ratio"] > 1e5


def test_bf16_and_compile_are_training_options(tmp_path, monkeypatch):
    """``precision: bf16`` trains under autocast (finite losses, float32 weights); ``compile: true`` trains
    through torch.compile(model) (replaced here by a recorder: compiling takes longer than this suite)."""
    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    ctx, model, losses, s = _setup({"network": {"channels": 4, "depth": 2}, "losses": ["mc", "ei"],
                                    "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 64,
                                                 "precision": "bf16", "compile": True}})
    x = (np.random.default_rng(0).standard_normal((8, 256)) * 0.3).astype(np.float32)
    rows = fit(model, losses, Thresholds(ctx.tau_low, ctx.tau_high), s, tmp_path, np.clip(x, -0.1, 0.1), modality="audio", seed=0,
               threads=1, progress=False)
    assert compiled == [model] and np.isfinite(rows[0]["train_loss"])
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_truncated_model_file_is_named_and_set_aside_so_the_next_run_retrains(tmp_path):
    """A ``model.pt`` cut short (a full disk, a broken copy): reconstruct names the file and moves it aside
    (nothing deleted), so the workflow's next run finds the model missing and trains it again."""
    from declipbench.training.state import UnreadableStateFile, load_state, save_state

    ctx, model, _, _ = _setup({"network": {"channels": 4, "depth": 2}})
    ctx.workdir = tmp_path
    save_state(model.state_dict(), tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(data[: len(data) // 2])
    method = NetworkMethod()
    with pytest.raises(UnreadableStateFile, match=r"model\.pt: cannot load it .*moved to model\.pt\.unreadable"):
        method.reconstruct(np.zeros((1, 256), np.float32), ctx)
    assert not (tmp_path / "model.pt").exists()
    assert (tmp_path / "model.pt.unreadable").read_bytes() == data[: len(data) // 2]
    (tmp_path / "c.pt").write_bytes(b"not a torch file")
    with pytest.raises(UnreadableStateFile, match="c.pt: cannot load it"):
        load_state(tmp_path / "c.pt")          # without set_aside the file stays where it is
    assert (tmp_path / "c.pt").exists()
