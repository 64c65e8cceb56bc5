"""The one training loop shared by every learned method.

Seeded (one ``torch.Generator`` drives batches, crops and the losses' draws), Adam, a checkpoint after every
epoch (model, optimiser, generator state, log) so an interrupted run resumes where it stopped and ends with
the same weights, validation SDR each epoch, a tqdm progress bar, a CSV log, CUDA when present.

The loss is the weighted sum of loss objects (:mod:`declipbench.losses`), each giving one value per item;
the loop never looks at their names. Clean training signals reach it only when a loss declares
``needs_clean``; validation SDR is logged to monitor training and never used to select weights (the final
epoch's weights are kept), so a self-supervised run never learns from clean signals.

Items are ``N x T`` (audio: random crops of ``crop`` samples, a channel axis added) or ``N x C x H x W``
(images: random ``crop x crop`` patches), as the data's declared modality says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..data import io
from ..foundation.paths import CHECKPOINT, TRAIN_LOG
from ..losses import Loss
from ..metrics.sdr import sdr_db_items
from ..physics.clipping import Thresholds
from ..foundation.parameters import resolve
from .device import pick_device, set_threads
from .settings import TRAINING
from .state import load_state, save_state

log = logging.getLogger("declipbench.training")

class TrainSettings(SimpleNamespace):
    """The resolved ``training`` section as attributes (``s.lr``, ``s.epochs``, ...)."""

    @classmethod
    def from_params(cls, training: dict | None = None, where: str = "training") -> "TrainSettings":
        return cls(**resolve(TRAINING, training, where))


def subset_indices(n: int, fraction: float, seed: int) -> np.ndarray:
    """A fixed subset of ``ceil(fraction * n)`` training items, chosen by seed (sorted)."""
    if fraction >= 1:
        return np.arange(n)
    k = max(1, int(math.ceil(fraction * n)))
    rng = np.random.default_rng([seed, 5])
    return np.sort(rng.choice(n, size=k, replace=False))


def _check_items(data, modality: str, what: str) -> None:
    rank = {"audio": 2, "image": 4}.get(modality)
    if rank is None:
        raise ValueError(f"unknown modality {modality!r}; expected 'audio' or 'image'")
    if np.ndim(data) != rank:
        want = "items x samples" if modality == "audio" else "items x C x H x W"
        raise ValueError(f"{what}: {modality} data must be {want}, got shape {tuple(np.shape(data))}")


@torch.no_grad()
def predict(model: torch.nn.Module, y: np.ndarray, batch_size: int = 16, device=None, *,
            modality: str) -> np.ndarray:
    """Run ``model`` over items ``y`` (``N x T`` audio or ``N x C x H x W`` images), returning float32."""
    _check_items(y, modality, "predict")
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    audio = modality == "audio"
    for i in range(0, len(y), batch_size):
        yb = torch.as_tensor(np.array(y[i : i + batch_size], dtype=np.float32), device=device)  # a copy: y may be a read-only memmap
        xb = model(yb.unsqueeze(1) if audio else yb)
        out.append((xb.squeeze(1) if audio else xb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros_like(y, dtype=np.float32)


def _lr_at(s: TrainSettings, epoch: int) -> float:
    if s.lr_schedule == "constant" or s.epochs == 1:
        return s.lr
    t = epoch / (s.epochs - 1)
    return s.lr * (s.lr_final_factor + (1 - s.lr_final_factor) * 0.5 * (1 + math.cos(math.pi * t)))


def _crop_starts(n: int, length: int, crop: int | None, gen: torch.Generator) -> torch.Tensor | None:
    """Random start of a crop for each of ``n`` items (``None``: whole items)."""
    if crop is None or crop >= length:
        return None
    return torch.randint(0, length - crop + 1, (n,), generator=gen)


def _take(data: torch.Tensor, idx: torch.Tensor, starts: torch.Tensor | None, crop: int | None) -> torch.Tensor:
    rows = data[idx.to(data.device)]
    if starts is None:
        return rows
    return torch.gather(rows, 1, (starts[:, None] + torch.arange(crop)[None, :]).to(data.device))


def _crop_corners(n: int, height: int, width: int, crop: int | None,
                  gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Random top-left corner of a ``crop x crop`` patch for each of ``n`` images (``None``: whole images)."""
    if crop is None or (crop >= height and crop >= width):
        return None
    ch, cw = min(crop, height), min(crop, width)
    return (torch.randint(0, height - ch + 1, (n,), generator=gen), torch.randint(0, width - cw + 1, (n,), generator=gen))


def _take2d(data: torch.Tensor, idx: torch.Tensor, corners, crop: int | None) -> torch.Tensor:
    """Images ``idx`` of ``data`` (``N x C x H x W``), cropped at ``corners`` to ``crop x crop``."""
    rows = data[idx.to(data.device)]
    if corners is None:
        return rows
    ch, cw = min(crop, data.shape[2]), min(crop, data.shape[3])
    return torch.stack([r[:, t : t + ch, l : l + cw] for r, t, l in zip(rows, corners[0].tolist(), corners[1].tolist())])


def _draw_batch(y_tr, x_tr, s: TrainSettings, gen: torch.Generator, modality: str):
    """One training batch ``B x C x ...`` of measurements (and clean signals, or ``None``): random items,
    then a random crop of each (audio: a channel axis is added; images keep theirs)."""
    idx = torch.randint(0, len(y_tr), (s.batch_size,), generator=gen)
    if modality == "image":
        corners = _crop_corners(len(idx), y_tr.shape[2], y_tr.shape[3], s.crop, gen)
        take = lambda data: _take2d(data, idx, corners, s.crop)  # noqa: E731
    else:
        starts = _crop_starts(len(idx), y_tr.shape[-1], s.crop, gen)
        take = lambda data: _take(data, idx, starts, s.crop).unsqueeze(1)  # noqa: E731
    return take(y_tr), (take(x_tr) if x_tr is not None else None)


def fingerprint(s: TrainSettings, losses: list[Loss], seed: int) -> str:
    """What decides the training run (settings, losses and their parameters, seed), for resuming."""
    d = {"training": vars(s), "losses": [[loss.name, loss.params] for loss in losses], "seed": int(seed)}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class TrainingDiverged(FloatingPointError):
    """A training run stopped because its loss became non-finite or its estimates ran away in amplitude."""


def _check_step(loss: float, values: dict[str, float], peak: float, y_peak: float, max_amplitude: float | None,
                epoch: int, step: int, steps: int, ckpt_path: Path, completed: int) -> None:
    """Stop before an optimiser step on a non-finite loss or a run-away estimate, naming the step and the loss
    terms; nothing is saved, so the checkpoint of the last completed epoch (if any) stays the last good one."""
    finite = math.isfinite(loss) and math.isfinite(peak)
    runaway = max_amplitude is not None and peak > max_amplitude * y_peak
    if finite and not runaway:
        return
    terms = ", ".join(f"{name} = {v:.4g}" for name, v in values.items())
    why = ("the loss is not finite" if not finite else
           f"the estimate's peak |x_hat| = {peak:.4g} is {peak / y_peak:.3g} times the measurements' peak "
           f"{y_peak:.4g} (training.max_amplitude = {max_amplitude:g})")
    kept = (f"the last good checkpoint {ckpt_path} (epoch {completed}) is kept" if completed > 0 and ckpt_path.exists()
            else "no epoch had completed, so no checkpoint is kept")
    raise TrainingDiverged(f"training diverged at epoch {epoch + 1}, step {step + 1} of {steps}: {why}; loss "
                           f"{loss:.4g} ({terms}); {kept}, and no model is written")


def _training_items(y_train, x_train, s: TrainSettings, seed: int, device: torch.device):
    """The training subset as tensors (``s.subset_fraction``, seeded), on the device when ``s.data_on_device``
    and it fits in half its free memory; and the peak of the measurements (the divergence check's scale)."""
    keep = subset_indices(len(y_train), s.subset_fraction, seed)
    y_tr = torch.as_tensor(np.asarray(y_train, dtype=np.float32)[keep])
    y_peak = float(y_tr.abs().max()) or 1.0
    x_tr = torch.as_tensor(np.asarray(x_train, dtype=np.float32)[keep]) if x_train is not None else None
    if s.data_on_device and device.type != "cpu":
        nbytes = y_tr.nbytes + (x_tr.nbytes if x_tr is not None else 0)
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else nbytes * 4
        if nbytes < free / 2:
            y_tr, x_tr = y_tr.to(device), (x_tr.to(device) if x_tr is not None else None)
        else:
            log.info("training items (%.1f GB) stay in host memory: the device has %.1f GB free", nbytes / 1e9, free / 1e9)
    return y_tr, x_tr, y_peak


def _resume(ckpt_path: Path, fp: str, model, opt, gen: torch.Generator, device, epochs: int) -> tuple[list[dict], int]:
    """The log rows and the first epoch to run: from ``checkpoint.pt`` when it was written with the same
    settings (``fp``; model, optimizer and generator restored), else from scratch (a checkpoint of other
    settings is kept aside under its fingerprint's name)."""
    if not ckpt_path.exists():
        return [], 0
    try:
        ckpt = load_state(ckpt_path, map_location=device)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {ckpt_path}: {exc}; move it away to start over") from exc
    if ckpt.get("fingerprint") != fp:
        stale = ckpt_path.with_name(f"checkpoint.{ckpt.get('fingerprint')}.pt")
        ckpt_path.replace(stale)  # other settings: keep it, but start over
        log.warning("%s was written with other training settings; kept as %s, starting over", ckpt_path, stale.name)
        return [], 0
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    gen.set_state(ckpt["generator"])
    start_epoch = int(ckpt["epoch"]) + 1
    log.info("resuming %s from epoch %d/%d", ckpt_path, start_epoch + 1, epochs)
    return [dict(r) for r in json.loads(ckpt["log"])], start_epoch


def _loss(step_model, active: list[Loss], yb, xb, s: TrainSettings, physics, gen, device):
    """One batch's estimate and weighted loss (under autocast with ``precision: bf16``): the sum of the
    active terms, each a mean over items (weighted by inverse energy with ``item_weighting: energy``)."""
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=s.precision == "bf16"):
        x_hat = step_model(yb)
        if s.item_weighting == "energy":
            w = 1.0 / yb.pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)
            w = w / w.mean()
        else:
            w = torch.ones(len(yb), device=device)
        loss = 0
        values = {}
        for term in active:
            value = term(x_hat, yb, xb, model=step_model, physics=physics, generator=gen)
            values[term.name] = (w * value.float()).mean()
            loss = loss + term.weight * values[term.name]
    return x_hat, loss, values


def _update(opt, loss, model, s: TrainSettings) -> None:
    """One optimiser step on ``loss`` (gradient norm clipped at ``s.grad_clip`` when set)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if s.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
    opt.step()


def _epoch(model, step_model, opt, active: list[Loss], physics, s: TrainSettings, y_tr, x_tr, y_peak: float,
           gen, device, modality: str, epoch: int, ckpt_path: Path, progress: bool) -> dict:
    """One epoch of ``s.steps_per_epoch`` steps at its learning rate; its log row (time, throughput, mean
    loss and terms, peak ratio). Each step is checked for divergence before the update."""
    lr = _lr_at(s, epoch)
    for group in opt.param_groups:
        group["lr"] = lr
    model.train()
    t0 = time.time()
    sums = {"loss": 0.0, **{l.name: 0.0 for l in active}}
    # a live bar on a terminal; in a job's log file one line every 30 s
    bar = tqdm(total=s.steps_per_epoch, desc=f"epoch {epoch + 1}/{s.epochs}", disable=not progress,
               leave=False, mininterval=2.0 if sys.stderr.isatty() else 30.0)
    peak = 0.0
    for step in range(s.steps_per_epoch):
        yb, xb = _draw_batch(y_tr, x_tr, s, gen, modality)
        yb = yb.to(device)
        xb = xb.to(device) if xb is not None else None
        x_hat, loss, values = _loss(step_model, active, yb, xb, s, physics, gen, device)
        step_peak = float(x_hat.detach().abs().max())
        loss_value = loss.item() if torch.is_tensor(loss) else float(loss)  # 0 when no term is active
        term_values = {name: value.item() for name, value in values.items()}
        _check_step(loss_value, term_values, step_peak, y_peak, s.max_amplitude, epoch, step, s.steps_per_epoch,
                    ckpt_path, completed=epoch)
        _update(opt, loss, model, s)
        peak = max(peak, step_peak)
        for name, value in term_values.items():
            sums[name] += value
        sums["loss"] += loss_value
        bar.update()
        bar.set_postfix(loss=f"{loss_value:.3g}", refresh=False)
    bar.close()
    row = {"epoch": epoch + 1, "lr": lr, "seconds": round(time.time() - t0, 3),
           "items_per_s": round(s.steps_per_epoch * s.batch_size / max(time.time() - t0, 1e-9), 2)}
    row.update({f"train_{k}": v / s.steps_per_epoch for k, v in sums.items()})
    row["peak_ratio"] = round(peak / y_peak, 4)  # max |x_hat| over the epoch / max |y|: a run-away shows here
    return row


def _log_epoch(row: dict, rows: list[dict], active: list[Loss], s: TrainSettings, epoch: int) -> None:
    """The epoch's log line: loss (and terms), peak ratio, validation SDR, time, throughput, ETA (remaining
    epochs x the mean epoch time so far, resumed epochs included)."""
    eta_s = round((s.epochs - epoch - 1) * sum(r["seconds"] for r in rows) / len(rows))
    terms = " ".join(f"{l.name} {row['train_' + l.name]:.4g}" for l in active) if len(active) > 1 else ""
    log.info("epoch %d/%d loss %.4g%s peak |x_hat|/|y| %.3g%s (%.1f s, %.1f items/s, ETA %d:%02d:%02d)", epoch + 1,
             s.epochs, row["train_loss"], f" ({terms})" if terms else "", row["peak_ratio"],
             f" val SDR {row['val_sdr']:.2f} dB" if "val_sdr" in row else "", row["seconds"],
             row["items_per_s"], eta_s // 3600, eta_s % 3600 // 60, eta_s % 60)


def _save_epoch(model, opt, gen, epoch: int, fp: str, rows: list[dict], ckpt_path: Path, workdir: Path) -> None:
    """The checkpoint to resume from and the log so far (``train_log.csv``), both written atomically."""
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
            "epoch": epoch, "fingerprint": fp, "log": json.dumps(rows)}
    save_state(ckpt, ckpt_path)
    fieldnames = list(dict.fromkeys(k for r in rows for k in r))
    io.write_csv(workdir / TRAIN_LOG, rows, fieldnames)


def fit(model: torch.nn.Module, losses: list[Loss], physics: Thresholds, s: TrainSettings, workdir: str | Path,
        y_train: np.ndarray, x_train: np.ndarray | None = None,
        y_val: np.ndarray | None = None, x_val: np.ndarray | None = None, *, modality: str, seed: int = 0,
        device: str = "auto", threads: int | None = None, progress: bool = True,
        on_epoch_end: Callable[[int], None] | None = None) -> list[dict]:
    """Train ``model`` (a reconstructor ``y -> x_hat``) in place on the weighted sum of ``losses``;
    returns the per-epoch log rows.

    Files in ``workdir``: ``checkpoint.pt`` (after each epoch, for resume), ``train_log.csv``. The steps:
    check the data and the losses, place model and items (:func:`_training_items`), resume
    (:func:`_resume`), then per epoch train (:func:`_epoch`), validate, log (:func:`_log_epoch`) and save
    (:func:`_save_epoch`).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not losses:
        raise ValueError("training needs at least one loss")
    _check_items(y_train, modality, "training measurements")
    needs_x = any(loss.needs_clean for loss in losses)
    if needs_x and x_train is None:
        raise ValueError(f"loss {[l.name for l in losses if l.needs_clean]} needs clean training signals")
    if not needs_x:
        x_train = None  # a self-supervised loss never sees ground truth
    set_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = pick_device(device)
    model.to(device)
    y_tr, x_tr, y_peak = _training_items(y_train, x_train, s, seed, device)
    step_model = torch.compile(model) if s.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    gen = torch.Generator().manual_seed(seed)
    active = [loss for loss in losses if loss.weight > 0]
    ckpt_path = workdir / CHECKPOINT
    fp = fingerprint(s, losses, seed)
    rows, start_epoch = _resume(ckpt_path, fp, model, opt, gen, device, s.epochs)

    log.info("training on %s: %d items (of %d), device %s, %d epochs x %d steps, batch %d",
             " + ".join(f"{l.weight:g} {l.name}" for l in active), len(y_tr), len(y_train), device, s.epochs,
             s.steps_per_epoch, s.batch_size)
    for epoch in range(start_epoch, s.epochs):
        row = _epoch(model, step_model, opt, active, physics, s, y_tr, x_tr, y_peak, gen, device, modality, epoch,
                     ckpt_path, progress)
        if y_val is not None and x_val is not None:
            x_hat_val = predict(model, y_val, s.val_batch_size, device, modality=modality)
            row["val_sdr"] = float(np.mean(sdr_db_items(np.asarray(x_val), x_hat_val)))
        rows.append(row)
        _log_epoch(row, rows, active, s, epoch)
        _save_epoch(model, opt, gen, epoch, fp, rows, ckpt_path, workdir)
        if on_epoch_end:
            on_epoch_end(epoch)
    return rows
