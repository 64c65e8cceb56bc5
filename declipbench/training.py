"""The one training loop shared by every learned method.

Seeded (one ``torch.Generator`` drives batches, crops and gains), Adam, a checkpoint after every epoch
(model, optimiser, generator state, log) so an interrupted run resumes where it stopped and ends with the
same weights, validation SDR each epoch, a tqdm progress bar, a CSV log, CUDA when present.

Ground truth reaches the loop only for losses that need it (``supervised*``); validation SDR is logged to
monitor training and never used to select weights (the final epoch's weights are kept), so a
self-supervised run never learns from clean signals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from . import io
from .losses import ei_loss, ei_target_weights, mc_loss, sample_gains, supervised_loss
from .physics import Thresholds

LOSSES = ("supervised", "supervised_ei", "mc", "mc_ei")
log = logging.getLogger("declipbench.training")


@dataclass
class TrainSettings:
    loss: str = "mc_ei"
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # constant | cosine (decays to lr * lr_final_factor at the last epoch)
    lr_final_factor: float = 0.05
    crop: int | None = 8192  # random crop length in samples for training (None: whole segments)
    alpha: float = 1.0  # weight of the EI term
    g_min: float = 1.0
    g_max: float = 2.0
    g_distribution: str = "uniform"  # uniform | log_uniform
    ei_stop_gradient: bool = False
    # none: plain means over samples (the paper); energy: each item's loss divided by the mean energy of
    # its measurement y (observed, so still self-supervised), making the loss scale-invariant like SDR
    item_weighting: str = "none"
    # weight of the EI residual on samples clipped in y, whose target is the network's own estimate
    # (1: eq. 11 as published; 0: only targets that are measured data)
    ei_core_weight: float = 1.0
    subset_fraction: float = 1.0  # fraction of training pairs used (Supervised 5%: 0.05), fixed by seed
    grad_clip: float | None = 1.0
    val_batch_size: int = 16
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    @classmethod
    def from_dict(cls, d: dict, where: str = "training") -> "TrainSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{where}: unknown training setting(s) {unknown}; known: {sorted(known)}")
        s = cls(**d)
        s.validate(where)
        return s

    def validate(self, where: str = "training") -> None:
        def bad(name, why):
            raise ValueError(f"{where}.{name} = {getattr(self, name)!r}: {why}")

        if self.loss not in LOSSES:
            bad("loss", f"must be one of {LOSSES}")
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            if int(getattr(self, name)) < 1:
                bad(name, "must be >= 1")
        if not self.lr > 0:
            bad("lr", "must be > 0")
        if self.lr_schedule not in ("constant", "cosine"):
            bad("lr_schedule", "must be 'constant' or 'cosine'")
        if self.crop is not None and self.crop < 16:
            bad("crop", "must be >= 16 or null")
        if not 0 < self.subset_fraction <= 1:
            bad("subset_fraction", "must be in (0, 1]")
        if not (0 < self.g_min <= self.g_max):
            bad("g_max", f"need 0 < g_min <= g_max (g_min={self.g_min})")
        if self.alpha < 0:
            bad("alpha", "must be >= 0")
        if not 0 <= self.ei_core_weight <= 1:
            bad("ei_core_weight", "must be in [0, 1]")
        if self.item_weighting not in ("none", "energy"):
            bad("item_weighting", "must be 'none' or 'energy'")

    def fingerprint(self) -> str:
        d = asdict(self)
        d.pop("device"), d.pop("threads")  # where it runs does not change what is computed
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def subset_indices(n: int, fraction: float, seed: int) -> np.ndarray:
    """A fixed subset of ``ceil(fraction * n)`` training items, chosen by seed (sorted)."""
    if fraction >= 1:
        return np.arange(n)
    k = max(1, int(math.ceil(fraction * n)))
    rng = np.random.default_rng([seed, 5])
    return np.sort(rng.choice(n, size=k, replace=False))


@torch.no_grad()
def predict(model: torch.nn.Module, y: np.ndarray, batch_size: int = 16, device=None) -> np.ndarray:
    """Run ``model`` over items ``y`` of shape (N, T) (or (N, C, ...)), returning a float32 array."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    for i in range(0, len(y), batch_size):
        yb = torch.as_tensor(np.array(y[i : i + batch_size], dtype=np.float32), device=device)  # a copy: y may be a read-only memmap
        squeeze = yb.ndim == 2
        if squeeze:
            yb = yb.unsqueeze(1)
        xb = model(yb)
        out.append((xb.squeeze(1) if squeeze else xb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros_like(y, dtype=np.float32)


def mean_sdr(x: np.ndarray, x_hat: np.ndarray) -> float:
    x = x.reshape(len(x), -1).astype(np.float64)
    e = x - x_hat.reshape(len(x), -1)
    return float(np.mean(10 * np.log10(np.sum(x**2, 1) / np.maximum(np.sum(e**2, 1), 1e-30))))


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
    rows = data[idx]
    if starts is None:
        return rows
    return torch.gather(rows, 1, starts[:, None] + torch.arange(crop)[None, :])


def _crop_corners(n: int, height: int, width: int, crop: int | None,
                  gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Random top-left corner of a ``crop x crop`` patch for each of ``n`` images (``None``: whole images)."""
    if crop is None or (crop >= height and crop >= width):
        return None
    ch, cw = min(crop, height), min(crop, width)
    return (torch.randint(0, height - ch + 1, (n,), generator=gen), torch.randint(0, width - cw + 1, (n,), generator=gen))


def _take2d(data: torch.Tensor, idx: torch.Tensor, corners, crop: int | None) -> torch.Tensor:
    """Images ``idx`` of ``data`` (``N x C x H x W``), cropped at ``corners`` to ``crop x crop``."""
    rows = data[idx]
    if corners is None:
        return rows
    ch, cw = min(crop, data.shape[2]), min(crop, data.shape[3])
    return torch.stack([r[:, t : t + ch, l : l + cw] for r, t, l in zip(rows, corners[0].tolist(), corners[1].tolist())])


def _batch(data: torch.Tensor, idx: torch.Tensor, where, crop: int | None) -> torch.Tensor:
    """A training batch ``B x C x ...``: 1-D items (``N x T``) get a channel axis; images keep theirs."""
    if data.ndim == 4:
        return _take2d(data, idx, where, crop)
    return _take(data, idx, where, crop).unsqueeze(1)


def fit(model: torch.nn.Module, th: Thresholds, s: TrainSettings, workdir: str | Path,
        y_train: np.ndarray, x_train: np.ndarray | None = None,
        y_val: np.ndarray | None = None, x_val: np.ndarray | None = None,
        progress: bool = True, on_epoch_end: Callable[[int], None] | None = None) -> list[dict]:
    """Train ``model`` (a reconstructor ``y -> x_hat``) in place; returns the per-epoch log rows.

    Files in ``workdir``: ``checkpoint.pt`` (after each epoch, for resume), ``train_log.csv``.
    1-D signals ``y_train`` of shape (N, T) with random crops of ``crop`` samples, or images
    (N, C, H, W) with random ``crop x crop`` patches.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    needs_x = s.loss.startswith("supervised")
    if needs_x and x_train is None:
        raise ValueError(f"loss {s.loss!r} needs clean training signals")
    if not needs_x:
        x_train = None  # a self-supervised loss never sees ground truth
    if s.threads:
        torch.set_num_threads(int(s.threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = pick_device(s.device)
    model.to(device)

    keep = subset_indices(len(y_train), s.subset_fraction, s.seed)
    y_tr = torch.as_tensor(np.asarray(y_train, dtype=np.float32)[keep])
    x_tr = torch.as_tensor(np.asarray(x_train, dtype=np.float32)[keep]) if x_train is not None else None
    if y_tr.ndim not in (2, 4):
        raise ValueError(f"training data must be items x samples or items x C x H x W, got shape {tuple(y_tr.shape)}")
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    gen = torch.Generator().manual_seed(s.seed)
    rows: list[dict] = []
    start_epoch = 0
    ckpt_path = workdir / "checkpoint.pt"
    fp = s.fingerprint()
    ckpt = None
    if ckpt_path.exists():
        try:
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception as exc:
            raise ValueError(f"cannot read checkpoint {ckpt_path}: {exc}; move it away to start over") from exc
        if ckpt.get("fingerprint") != fp:
            stale = ckpt_path.with_name(f"checkpoint.{ckpt.get('fingerprint')}.pt")
            ckpt_path.replace(stale)  # other settings: keep it, but start over
            log.warning("%s was written with other training settings; kept as %s, starting over", ckpt_path, stale.name)
            ckpt = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        gen.set_state(ckpt["generator"])
        rows = [dict(r) for r in json.loads(ckpt["log"])]
        start_epoch = int(ckpt["epoch"]) + 1
        log.info("resuming %s from epoch %d/%d", ckpt_path, start_epoch + 1, s.epochs)

    log.info("training %s: %d items (of %d), device %s, %d epochs x %d steps, batch %d",
             s.loss, len(y_tr), len(y_train), device, s.epochs, s.steps_per_epoch, s.batch_size)
    for epoch in range(start_epoch, s.epochs):
        lr = _lr_at(s, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        t0 = time.time()
        sums = {"loss": 0.0, "mc": 0.0, "ei": 0.0, "sup": 0.0}
        # a live bar on a terminal; in a job's log file one line every 30 s
        bar = tqdm(range(s.steps_per_epoch), desc=f"epoch {epoch + 1}/{s.epochs}", disable=not progress,
                   leave=False, mininterval=2.0 if sys.stderr.isatty() else 30.0)
        for _ in bar:
            idx = torch.randint(0, len(y_tr), (s.batch_size,), generator=gen)
            if y_tr.ndim == 4:
                starts = _crop_corners(len(idx), y_tr.shape[2], y_tr.shape[3], s.crop, gen)
            else:
                starts = _crop_starts(len(idx), y_tr.shape[-1], s.crop, gen)
            yb = _batch(y_tr, idx, starts, s.crop).to(device)
            x_hat = model(yb)
            if s.item_weighting == "energy":
                w = 1.0 / yb.pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)
                w = w / w.mean()
            else:
                w = torch.ones(len(yb), device=device)
            terms = {}
            if needs_x:
                xb = _batch(x_tr, idx, starts, s.crop).to(device)
                terms["sup"] = (w * supervised_loss(x_hat, xb, reduction="item")).mean()
            else:
                terms["mc"] = (w * mc_loss(x_hat, yb, th, reduction="item")).mean()
            loss = sum(terms.values())
            if s.loss.endswith("_ei") and s.alpha > 0:
                g = sample_gains(len(idx), s.g_min, s.g_max, s.g_distribution, gen, device=device)
                sw = None if s.ei_core_weight == 1.0 else ei_target_weights(yb, th, s.ei_core_weight)
                ei = ei_loss(x_hat, model, th, g, stop_gradient=s.ei_stop_gradient, reduction="item", sample_weight=sw)
                terms["ei"] = (w * ei).mean()
                loss = loss + s.alpha * terms["ei"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
            opt.step()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at epoch {epoch + 1}: loss is {loss.item()}")
            sums["loss"] += loss.item()
            for k, v in terms.items():
                sums[k] += v.item()
            bar.set_postfix(loss=f"{loss.item():.3g}", refresh=False)
        row = {"epoch": epoch + 1, "lr": lr, "seconds": round(time.time() - t0, 3),
               "items_per_s": round(s.steps_per_epoch * s.batch_size / max(time.time() - t0, 1e-9), 2)}
        row.update({f"train_{k}": v / s.steps_per_epoch for k, v in sums.items()})
        if y_val is not None and x_val is not None:
            row["val_sdr"] = mean_sdr(np.asarray(x_val), predict(model, y_val, s.val_batch_size, device))
        rows.append(row)
        log.info("epoch %d/%d loss %.4g%s (%.1f s, %.1f items/s)", epoch + 1, s.epochs, row["train_loss"],
                 f" val SDR {row['val_sdr']:.2f} dB" if "val_sdr" in row else "", row["seconds"], row["items_per_s"])
        ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                "epoch": epoch, "fingerprint": fp, "log": json.dumps(rows)}
        with io.atomic_path(ckpt_path) as tmp:
            torch.save(ckpt, tmp)
        fieldnames = list(dict.fromkeys(k for r in rows for k in r))
        io.write_csv(workdir / "train_log.csv", rows, fieldnames)
        if on_epoch_end:
            on_epoch_end(epoch)
    return rows
