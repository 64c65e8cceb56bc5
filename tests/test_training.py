import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from declipbench.training import TrainSettings, subset_indices

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import os, signal, sys, json, logging
import numpy as np, torch
logging.basicConfig(level=logging.INFO)
sys.path.insert(0, {root!r})
from declipbench.learned import build_model
from declipbench.plugins import Context
from declipbench.training import TrainSettings, fit
torch.set_num_threads(1)
rng = np.random.default_rng(0)
x = (rng.standard_normal((16, 512)) * 0.3).astype(np.float32)
y = np.clip(x, -0.1, 0.1)
params = {{"network": {{"channels": 4, "depth": 2}}}}
ctx = Context(params, -0.1, 0.1, seed=3)
model = build_model(params, ctx)
s = TrainSettings(loss={loss!r}, epochs=3, steps_per_epoch=4, batch_size=4, crop=256, seed=3, threads=1)
kill_after = {kill_after}
def hook(epoch):
    if epoch == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash right after a checkpoint was written
rows = fit(model, ctx.thresholds, s, {workdir!r}, y, x if {loss!r}.startswith("supervised") else None,
           y[:4], x[:4], progress=False, on_epoch_end=hook)
torch.save(model.state_dict(), os.path.join({workdir!r}, "final.pt"))
print(json.dumps([r["train_loss"] for r in rows]))
"""


def _run(workdir, loss, kill_after=-1):
    code = SCRIPT.format(root=str(ROOT), workdir=str(workdir), loss=loss, kill_after=kill_after)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("loss", ["mc_ei", "supervised"])
def test_resume_after_kill_gives_same_final_weights(tmp_path, loss):
    ref = _run(tmp_path / "ref", loss)
    assert ref.returncode == 0, ref.stderr
    crashed = _run(tmp_path / "crash", loss, kill_after=0)
    assert crashed.returncode != 0  # killed after epoch 1
    assert (tmp_path / "crash" / "checkpoint.pt").exists() and not (tmp_path / "crash" / "final.pt").exists()
    resumed = _run(tmp_path / "crash", loss)
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
    from declipbench.learned import build_model
    from declipbench.plugins import Context
    from declipbench.training import fit

    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    ctx = Context({"network": {"channels": 2, "depth": 1}}, -0.1, 0.1)
    s = TrainSettings(loss="mc", epochs=1, steps_per_epoch=2, batch_size=2, crop=128, threads=1)
    fit(build_model(ctx.params, ctx), ctx.thresholds, s, tmp_path, y, progress=False)
    s2 = TrainSettings(loss="mc", epochs=1, steps_per_epoch=2, batch_size=2, crop=128, lr=0.01, threads=1)
    fit(build_model(ctx.params, ctx), ctx.thresholds, s2, tmp_path, y, progress=False)
    assert (tmp_path / f"checkpoint.{s.fingerprint()}.pt").exists()
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["fingerprint"] == s2.fingerprint()


def test_self_supervised_loss_never_sees_clean_signals(tmp_path, monkeypatch):
    from declipbench import training
    from declipbench.learned import build_model
    from declipbench.plugins import Context

    seen = []
    real = training.supervised_loss
    monkeypatch.setattr(training, "supervised_loss", lambda *a: seen.append(1) or real(*a))
    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)
    ctx = Context({"network": {"channels": 2, "depth": 1}}, -0.1, 0.1)
    s = TrainSettings(loss="mc_ei", epochs=1, steps_per_epoch=2, batch_size=2, crop=128, threads=1)
    training.fit(build_model(ctx.params, ctx), ctx.thresholds, s, tmp_path, y, x_train=x, progress=False)
    assert not seen


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    from declipbench.learned import build_model
    from declipbench.plugins import Context
    from declipbench.training import fit

    x = (np.random.default_rng(1).standard_normal((8, 256)) * 0.3).astype(np.float32)
    y = np.clip(x, -0.1, 0.1)

    def train(seed, d):
        ctx = Context({"network": {"channels": 2, "depth": 1}}, -0.1, 0.1, seed=seed)
        m = build_model(ctx.params, ctx)
        fit(m, ctx.thresholds, TrainSettings(loss="mc_ei", epochs=1, steps_per_epoch=3, batch_size=2, crop=128,
                                             seed=seed, threads=1), tmp_path / d, y, progress=False)
        return m.state_dict()

    a, b, c = train(0, "a"), train(0, "b"), train(1, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_subset_is_fixed_and_sized():
    a = subset_indices(1000, 0.05, 0)
    assert len(a) == 50 and np.array_equal(a, subset_indices(1000, 0.05, 0))
    assert not np.array_equal(a, subset_indices(1000, 0.05, 1))
    assert len(subset_indices(10, 1.0, 0)) == 10


@pytest.mark.parametrize("field, value", [("loss", "magic"), ("epochs", 0), ("lr", -1.0), ("subset_fraction", 0.0),
                                          ("g_max", 0.5), ("ei_core_weight", 1.5), ("item_weighting", "loudness")])
def test_bad_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"training.{field}"):
        TrainSettings.from_dict({field: value})


def test_unknown_training_setting_is_named():
    with pytest.raises(ValueError, match="epoks"):
        TrainSettings.from_dict({"epoks": 3})
