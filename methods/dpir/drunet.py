"""DRUNet, the denoiser of DPIR (Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-play image
restoration with deep denoiser prior", IEEE TPAMI 2021).

Architecture of the official release: a U-Net of 4 scales with 64/128/256/512 channels, 4 residual
blocks (conv 3x3, ReLU, conv 3x3, identity skip) per scale, 2x2 stride-2 convolutions down and 2x2
stride-2 transposed convolutions up, additive skips between scales, no bias anywhere and no
normalisation. The input is the image concatenated with a constant noise-level map ``sigma`` (so 4
input channels for colour, 2 for grey). Sizes are padded to a multiple of 8 by edge replication and
cropped back.

Module names follow the official checkpoints (``m_head``, ``m_down1..3``, ``m_body``, ``m_up3..1``,
``m_tail``; ``res.0`` / ``res.2`` inside a residual block), so ``drunet_color.pth`` and
``drunet_gray.pth`` load with ``strict=True`` and no renaming (tests/test_pnp.py compares every name and
shape with ``fixtures/drunet/state_dict_manifest.json``).

Official weights: the KAIR release assets (:data:`WEIGHT_URLS`). The owners publish no checksum for
them, so none is pinned here: :func:`fetch_weights` needs the sha256 from the user (``sha256=`` or the
``DECLIPBENCH_DRUNET_SHA256`` environment variable), or a file already placed by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from declipbench.training.state import load_state, save_state

from .release import PUBLISHED_SHA256, RELEASE, WEIGHT_URLS  # noqa: F401  (torch-free, read at start-up)


class ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))``, bias-free; children ``res.0`` (conv), ``res.1`` (ReLU), ``res.2``."""

    def __init__(self, channels: int):
        super().__init__()
        self.res = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.ReLU(inplace=True),
                                 nn.Conv2d(channels, channels, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res(x)


class DRUNet(nn.Module):
    """DRUNet denoiser ``D(x, sigma)``. ``forward(x, sigma)``: ``x`` is ``B x C x H x W`` (C = ``channels``),
    ``sigma`` the noise standard deviation (float, or a tensor of one value per item) on the scale of
    ``x`` (official weights: images in [0, 1], ``sigma`` in [0, 1], e.g. 15/255).

    ``widths`` and ``blocks`` default to the official 64/128/256/512 and 4; smaller values build the
    same architecture at a smaller size (the stand-in denoiser trained where the weights are absent).
    """

    def __init__(self, channels: int = 3, widths: tuple[int, int, int, int] = (64, 128, 256, 512), blocks: int = 4):
        super().__init__()
        if len(widths) != 4 or min(widths) < 1 or blocks < 1:
            raise ValueError(f"DRUNet needs 4 positive widths and blocks >= 1, got widths={widths}, blocks={blocks}")
        self.channels, self.widths, self.blocks = int(channels), tuple(int(w) for w in widths), int(blocks)
        w1, w2, w3, w4 = self.widths

        def stage(width):
            return [ResBlock(width) for _ in range(blocks)]

        self.m_head = nn.Conv2d(channels + 1, w1, 3, padding=1, bias=False)
        self.m_down1 = nn.Sequential(*stage(w1), nn.Conv2d(w1, w2, 2, stride=2, bias=False))
        self.m_down2 = nn.Sequential(*stage(w2), nn.Conv2d(w2, w3, 2, stride=2, bias=False))
        self.m_down3 = nn.Sequential(*stage(w3), nn.Conv2d(w3, w4, 2, stride=2, bias=False))
        self.m_body = nn.Sequential(*stage(w4))
        self.m_up3 = nn.Sequential(nn.ConvTranspose2d(w4, w3, 2, stride=2, bias=False), *stage(w3))
        self.m_up2 = nn.Sequential(nn.ConvTranspose2d(w3, w2, 2, stride=2, bias=False), *stage(w2))
        self.m_up1 = nn.Sequential(nn.ConvTranspose2d(w2, w1, 2, stride=2, bias=False), *stage(w1))
        self.m_tail = nn.Conv2d(w1, channels, 3, padding=1, bias=False)

    def config(self) -> dict:
        return {"channels": self.channels, "widths": list(self.widths), "blocks": self.blocks}

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"DRUNet expects B x {self.channels} x H x W, got {tuple(x.shape)}")
        b, _, h, w = x.shape
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        if s.shape[0] not in (1, b):
            raise ValueError(f"sigma must be one value or one per item ({b}), got {s.shape[0]} values")
        level = s.expand(b, 1, h, w)
        h8, w8 = (-h) % 8, (-w) % 8
        inp = torch.cat([x, level], dim=1)
        if h8 or w8:
            inp = F.pad(inp, (0, w8, 0, h8), mode="replicate")
        x1 = self.m_head(inp)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        out = self.m_body(x4)
        out = self.m_up3(out + x4)
        out = self.m_up2(out + x3)
        out = self.m_up1(out + x2)
        out = self.m_tail(out + x1)
        return out[..., :h, :w]


def load_drunet(path, channels: int | None = None, map_location="cpu") -> DRUNet:
    """Build a DRUNet and load a checkpoint with ``strict=True`` (``torch.load(weights_only=True)``).

    Accepts an official checkpoint (a bare state dict; the architecture is the official one, colour or
    grey from the head's input channels) or a file saved by :func:`save_drunet` (``{"config", "state_dict"}``).
    """
    path = Path(path)
    try:
        obj = load_state(path, map_location=map_location)
    except Exception as exc:
        raise ValueError(f"cannot read DRUNet checkpoint {path}: {exc}") from exc
    if isinstance(obj, dict) and "state_dict" in obj and "config" in obj:
        cfg, state = obj["config"], obj["state_dict"]
        model = DRUNet(channels=int(cfg["channels"]), widths=tuple(cfg["widths"]), blocks=int(cfg["blocks"]))
    elif isinstance(obj, dict) and "m_head.weight" in obj:
        state = obj
        in_ch = int(state["m_head.weight"].shape[1])
        model = DRUNet(channels=in_ch - 1)
    else:
        raise ValueError(f"{path}: not a DRUNet checkpoint (no 'm_head.weight' and no config/state_dict)")
    if channels is not None and model.channels != channels:
        raise ValueError(f"{path}: a {model.channels}-channel DRUNet, but {channels} channels are needed")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: state dict does not match the DRUNet architecture: {exc}") from exc
    return model.eval()


def save_drunet(model: DRUNet, path) -> None:
    """Save weights and the architecture (atomically) for :func:`load_drunet`."""
    save_state({"config": model.config(), "state_dict": model.state_dict()}, path)


def fetch_weights(kind: str, cache_dir, sha256: str | None = None, progress: bool = True) -> Path:
    """The official ``drunet_<kind>.pth`` (kind ``color`` or ``gray``) in ``cache_dir``, downloaded if absent.

    The owners publish no checksum, so the expected sha256 must come from the user: ``sha256=`` or the
    environment variable ``DECLIPBENCH_DRUNET_SHA256`` (the hash of the file you trust, e.g. computed
    once with ``sha256sum``). A file already in ``cache_dir`` (placed by hand) is used as is when no
    sha256 is given.
    """
    if kind not in WEIGHT_URLS:
        raise ValueError(f"DRUNet weights: kind must be one of {sorted(WEIGHT_URLS)}, got {kind!r}")
    dest = Path(cache_dir) / f"drunet_{kind}.pth"
    sha256 = sha256 or os.environ.get("DECLIPBENCH_DRUNET_SHA256") or PUBLISHED_SHA256.get(kind)
    if sha256 is None:
        if dest.is_file():
            return dest
        raise ValueError(
            f"DRUNet weights {dest} are absent and no checksum is published for {WEIGHT_URLS[kind]}: "
            f"download it yourself and place it at {dest}, or pass its sha256 (sha256= or "
            "DECLIPBENCH_DRUNET_SHA256) to let the suite download and verify it")
    from declipbench.data.download import fetch  # imported only when a download is needed

    return fetch(dest, urls=[WEIGHT_URLS[kind]], sha256=sha256, progress=progress)


def train_denoiser(model: DRUNet, clean: np.ndarray, workdir, *, steps: int = 200, batch_size: int = 8,
                   crop: int = 48, lr: float = 1e-3, sigma_max: float = 50 / 255, seed: int = 0,
                   device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train a DRUNet as a Gaussian denoiser on clean images (``N x C x H x W``), in place.

    The stand-in for the official weights: random ``crop x crop`` patches, noise std ``sigma`` drawn
    uniformly in ``[0, sigma_max]`` per patch and given as the noise-level map, L1 loss (as DPIR's
    training), Adam with cosine decay, seeded. Writes ``denoiser_log.csv`` (loss, patches/s) to ``workdir``.
    """
    import math
    import sys
    import time

    from tqdm import tqdm

    from declipbench.data import io

    data = torch.from_numpy(np.array(clean, dtype=np.float32))  # a copy: memory-mapped input is read-only
    if data.ndim != 4 or data.shape[1] != model.channels:
        raise ValueError(f"denoiser training data must be N x {model.channels} x H x W, got {tuple(data.shape)}")
    if len(data) == 0:
        raise ValueError("denoiser training: no clean training images")
    crop = min(int(crop), data.shape[2], data.shape[3])
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rows, t0, t_log, run_loss = [], time.time(), time.time(), 0.0
    bar = tqdm(range(int(steps)), desc="denoiser", disable=not progress, leave=False,
               mininterval=2.0 if sys.stderr.isatty() else 30.0)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max(int(steps) - 1, 1))))
        idx = torch.randint(0, len(data), (batch_size,), generator=gen)
        tops = torch.randint(0, data.shape[2] - crop + 1, (batch_size,), generator=gen)
        lefts = torch.randint(0, data.shape[3] - crop + 1, (batch_size,), generator=gen)
        xb = torch.stack([data[i, :, t : t + crop, l : l + crop] for i, t, l in zip(idx, tops, lefts)]).to(device)
        sig = (torch.rand(batch_size, generator=gen) * sigma_max).to(device)
        noisy = xb + sig.view(-1, 1, 1, 1) * torch.randn(xb.shape, generator=gen).to(device)
        loss = (model(noisy, sig) - xb).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"denoiser training diverged at step {step + 1}: loss {loss.item()}")
        run_loss += loss.item()
        if (step + 1) % 50 == 0 or step + 1 == steps:
            n = (step % 50) + 1
            now = time.time()
            rows.append({"step": step + 1, "l1": run_loss / n, "patches_per_s": round(n * batch_size / max(now - t_log, 1e-9), 2)})
            run_loss, t_log = 0.0, now
    rows.append({"step": int(steps), "l1": rows[-1]["l1"] if rows else float("nan"),
                 "patches_per_s": round(int(steps) * batch_size / max(time.time() - t0, 1e-9), 2), "total": 1})
    io.write_csv(Path(workdir) / "denoiser_log.csv", rows, ["step", "l1", "patches_per_s", "total"])
    model.eval()
    return rows
