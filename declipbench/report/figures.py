"""Figures: for one test item, clean / clipped / reconstructed waveform and a spectrogram per method
(audio), or the images with a zoomed inset on the most saturated region (HDR, Figure 8)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from ..data import io
from ..metrics.sdr import sdr_db, sdr_db_items


def pick_item(x: np.ndarray, y: np.ndarray, item: int | None) -> int:
    """The configured item, or the one with the median input SDR (a typical case, not a cherry-pick)."""
    if item is not None:
        if not 0 <= item < len(x):
            raise ValueError(f"figure.item = {item} is outside the {len(x)} test items")
        return item
    return int(np.argsort(sdr_db_items(x, y))[len(x) // 2])


def example_figure(modality: str, x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray]], tau: float,
                   sample_rate: int, out: Path, seconds: float = 0.05, title: str = "") -> None:
    """The example figure of an experiment: waveforms and spectrograms (audio), or Figure 8 (images)."""
    if modality == "image":
        return image_figure(x, y, recons, out, title=title)
    if modality != "audio":
        raise ValueError(f"unknown modality {modality!r}; expected 'audio' or 'image'")
    return waveform_figure(x, y, recons, tau, sample_rate, out, seconds, title)


def waveform_figure(x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray]], tau: float,
                    sample_rate: int, out: Path, seconds: float = 0.05, title: str = "") -> None:
    """For one audio item: clean, clipped and reconstructed waveform around the deepest clipping, and the
    reconstruction's spectrogram, one row per method."""
    from .plotting import pyplot

    plt = pyplot()

    n = len(recons)
    # a window centred on the deepest clipping
    depth = np.abs(x) - tau
    centre = int(np.argmax(depth))
    half = int(seconds * sample_rate / 2)
    lo, hi = max(0, centre - half), min(len(x), centre + half)
    t = np.arange(lo, hi) / sample_rate
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.2 * n + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    for row, (label, xh) in enumerate(recons):
        ax = axes[row, 0]
        ax.plot(t, x[lo:hi], color="0.55", lw=2.2, label="clean")
        ax.plot(t, y[lo:hi], color="tab:red", lw=1.0, label="clipped")
        ax.plot(t, xh[lo:hi], color="tab:blue", lw=1.0, ls="--", label="reconstruction")
        ax.axhline(tau, color="k", lw=0.5, ls=":")
        ax.axhline(-tau, color="k", lw=0.5, ls=":")
        ok = np.all(np.isfinite(xh))
        s = sdr_db(x, xh) if ok else math.nan
        ax.set_title(f"{label}: SDR {s:.2f} dB", fontsize=9, loc="left")
        ax.set_ylabel("amplitude", fontsize=8)
        if row == 0:
            ax.legend(fontsize=7, loc="upper right", ncol=3)
        ax2 = axes[row, 1]
        if ok:
            ax2.specgram(xh, NFFT=512, Fs=sample_rate, noverlap=384, cmap="magma", vmin=-120)
        ax2.set_ylabel("Hz", fontsize=8)
        ax2.tick_params(labelsize=7)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    axes[-1, 1].set_xlabel("time (s)", fontsize=8)
    _finish(fig, out, title, title_size=10, dpi=110)


def _finish(fig, out, title: str | None, title_size: int, dpi: int) -> None:
    """Title, layout, atomic save (temp file, then rename), close."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=title_size)
    fig.tight_layout()
    with io.atomic_path(out, suffix=Path(out).suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def saturated_window(y: np.ndarray, size: int, level: float = 1.0) -> tuple[int, int]:
    """Top-left corner of the ``size x size`` window holding the most saturated pixels of ``y``
    (``C x H x W``; a pixel is saturated when any channel reaches ``level``); ties: the first."""
    sat = np.any(np.asarray(y) >= level, axis=0).astype(np.float64)
    h, w = sat.shape
    size = min(size, h, w)
    c = np.pad(np.cumsum(np.cumsum(sat, 0), 1), ((1, 0), (1, 0)))
    counts = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return int(top), int(left)


def image_figure(x: np.ndarray, y: np.ndarray, recons: list[tuple[str, np.ndarray]], out: Path,
                 title: str = "", zoom: float = 0.3, stops: float = 2.0) -> None:
    """Figure 8: clean image, measurement and each reconstruction (display tone map of
    :func:`declipbench.physics.camera.display`), with a zoomed inset on the most saturated window (``zoom`` of the
    short side) below each, titled with PSNR (peak = max of the clean image). The insets are shown
    ``stops`` stops darker through the camera curve (``f(x / 2^stops)``, clipped to [0, 1]) so that
    what lies above the saturation level is visible; the measurement is flat there."""
    from matplotlib.patches import Rectangle

    from ..metrics.psnr import psnr_db
    from ..physics.camera import CameraCurve, display
    from .plotting import pyplot

    plt = pyplot()

    panels = [("Clean", x), ("Measurement", y)] + list(recons)
    size = max(8, int(round(zoom * min(x.shape[1:]))))
    top, left = saturated_window(y, size)
    fig, axes = plt.subplots(2, len(panels), figsize=(2.3 * len(panels), 4.9), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1]})
    for k, (label, img) in enumerate(panels):
        ok = np.all(np.isfinite(img))
        rgb = display(np.moveaxis(np.asarray(img), 0, -1))
        ax = axes[0, k]
        ax.imshow(rgb, interpolation="nearest")
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, ec="tab:red", lw=1.2))
        name = textwrap.fill(label, 30)
        sub = "" if k == 0 else (f"PSNR {psnr_db(x, img):.2f} dB" if ok else "non-finite")
        ax.set_title(f"{name}\n{sub}" if sub else name, fontsize=7)
        crop = np.moveaxis(np.asarray(img)[:, top : top + size, left : left + size], 0, -1)
        dark = np.clip(CameraCurve()(np.nan_to_num(crop, nan=0.0, posinf=1e30) / 2.0**stops), 0, 1)
        axes[1, k].imshow(dark, interpolation="nearest", vmin=0, vmax=1)
        for a in (ax, axes[1, k]):
            a.set_xticks([])
            a.set_yticks([])
    axes[1, 0].set_ylabel(f"most saturated region, -{stops:g} stops", fontsize=7)
    _finish(fig, out, title, title_size=9, dpi=130)


def most_clipped_item(y: np.ndarray, tau: float) -> int:
    """The test item with the most clipped samples (the first of equals)."""
    return int(np.argmax((np.asarray(y) >= tau).reshape(len(y), -1).sum(axis=1)))


def hdr_mask_rows(y_item: np.ndarray, tau: float) -> list[dict]:
    """The clipped mask of eq. 13 of one image (``C x H x W``): per channel, and per pixel with any / every
    channel clipped, how many samples the masking blend lets the network change."""
    m = np.asarray(y_item) >= tau
    names = ["R", "G", "B"] if m.shape[0] == 3 else [f"channel {c}" for c in range(m.shape[0])]
    parts = [(n, m[c]) for c, n in enumerate(names)] + [("any channel", m.any(axis=0)), ("every channel", m.all(axis=0))]
    return [{"channel": n, "pixels": int(a.size), "clipped": int(a.sum()), "fraction": f"{a.mean():.6f}"} for n, a in parts]


def hdr_mask_figure(x: np.ndarray, y: np.ndarray, tau: float, out: Path, item: int, title: str = "") -> None:
    """Figure 4: a test image (display tone map), its measurement, and the mask ``m`` of eq. 13 (white:
    every channel clipped; coloured: the clipped channels; black: reliable, returned exactly)."""
    from .plotting import pyplot

    plt = pyplot()

    from ..physics.camera import display

    m = np.asarray(y) >= tau
    any_px = m.any(axis=0)
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.6))
    panels = [("Clean (tone-mapped)", display(np.moveaxis(x, 0, -1))),
              ("Measurement", display(np.moveaxis(y, 0, -1))),
              (f"Mask m of eq. 13: {any_px.mean():.1%} of the pixels\nhave a clipped channel",
               (np.moveaxis(m, 0, -1) * 255).astype(np.uint8) if m.shape[0] == 3 else m.any(axis=0))]
    for ax, (label, img) in zip(axes, panels):
        ax.imshow(img, interpolation="nearest", cmap=None if img.ndim == 3 else "gray")
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    _finish(fig, out, title or f"Figure 4: test item {item}, saturation level {tau:g}", title_size=9, dpi=130)
