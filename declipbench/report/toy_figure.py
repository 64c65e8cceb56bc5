"""Figures 5 and 6: the toy experiment of Section 5.2.1 of the paper.

The signal set is one digit image ``x0`` (28 x 28) and its rescaled copies ``{a x0}``, ``a ~ Exp(mean mu)``;
the measurements are ``y = eta(A a x0)`` with a Haar-random orthogonal ``A`` (n x n, n = 784) and clipping
at ``tau = 1``.

* **Figure 5, why A is needed.** Without ``A`` the measurement ``eta(a x0)`` stops depending on ``a`` once
  every non-zero pixel clips (``a >= tau / min{x0_i > 0}``): every such ``a`` gives the same ``y``, so no
  method can tell them apart (non-uniqueness). With ``A`` every measurement mixes all pixels, and
  different amplitudes keep different measurements. The figure shows ``a x0`` and its measurement with
  and without ``A`` for a few amplitudes, and the distance between the measurements of consecutive
  amplitudes against ``a`` (zero without ``A`` from ``a*`` on).
* **Figure 6, MC alone against MC + EI.** Two networks trained on measurements alone, one with the MC
  loss (eq. 7), one with MC + EI (eq. 12, by default eq. 11 with gradients through both terms), on ``y = eta(A a
  x0)`` for training amplitudes ``a ~ Exp(mu)``; tested on a grid of amplitudes: the relative error
  ``||x_hat - a x0|| / ||a x0||`` against the dynamic range ``||a x0||``, with the back-projection ``A^T y``
  as the no-learning reference, and the reconstructions at a few amplitudes.

Choices the paper leaves open (configuration values, ``figures.toy``; docs/figures.md): the digit is
normalised to ``||x0|| = sqrt(n)``, so the entries of ``A x0`` have unit mean square and ``a = 1`` clips
about a third of them; ``mu``; the network (the paper: a bias-free U-Net with 4 down and 4 up blocks; here
the suite's bias-free U-Net, depth and width configurable) acting on the back-projection ``A^T y`` and
returning the image; no masking blend (the measurement domain is not the image domain); the training
length and rate; the test amplitudes. Training goes through the suite's own training loop and losses:
because ``A`` is orthogonal, MC and EI computed on ``u = A x_hat`` in the measurement domain, with the
reconstructor ``y -> A f(A^T y)``, are exactly the losses on the image (``||A v|| = ||v||``).
"""

from __future__ import annotations

import gzip
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from ..data.mnist import MNIST_TEST_IMAGES  # the file, its mirrors and checksum
from .formatting import write_values_csv

log = logging.getLogger("declipbench.figures")

SIDE = 28
N = SIDE * SIDE
FIELDS = ["a", "dynamic_range", "clipped_fraction", "backprojection_error", "mc_error", "mc_ei_error"]
UNIQUENESS_FIELDS = ["a", "a_next", "distance_without_A", "distance_with_A", "clipped_without_A", "clipped_with_A"]


# ------------------------------------------------------------------------------------------- the digit
def synthetic_digit() -> np.ndarray:
    """A digit-like 28 x 28 image made here (offline demo): a slanted zero, a ring with soft edges, grey
    levels from 0 to 1 like MNIST's strokes."""
    r, c = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64) - 13.5
    u, v = r * math.cos(0.25) - c * math.sin(0.25), r * math.sin(0.25) + c * math.cos(0.25)
    radius = np.hypot(u / 9.5, v / 6.5)
    img = np.exp(-((radius - 1.0) ** 2) / (2 * 0.12**2))
    img[img < 0.02] = 0.0
    return (img / img.max()).astype(np.float32)


def read_idx_images(path: Path) -> np.ndarray:
    """The images of an IDX file (``.gz`` or not) as ``count x rows x cols`` uint8; a short or malformed
    file is refused naming it."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or int.from_bytes(data[:4], "big") != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic number {int.from_bytes(data[:4], 'big')}, expected 2051)")
    count, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
    if len(data) != 16 + count * rows * cols:
        raise ValueError(f"{path}: {len(data) - 16} bytes of pixels, the header announces {count} x {rows} x {cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def mnist_digit(data_dir: Path, index: int, progress: bool = False) -> np.ndarray:
    """Test image ``index`` of MNIST in [0, 1], from ``<data_dir>/mnist/`` (downloaded there, checksummed and
    resumable, when absent; a file placed there by hand is used when its checksum is right)."""
    from ..data.download import fetch

    path = fetch(Path(data_dir) / "mnist" / MNIST_TEST_IMAGES["name"], urls=MNIST_TEST_IMAGES["urls"],
                 sha256=MNIST_TEST_IMAGES["sha256"], size=MNIST_TEST_IMAGES["size"], progress=progress)
    images = read_idx_images(path)
    if not 0 <= index < len(images):
        raise ValueError(f"figures.toy.index = {index}: MNIST has {len(images)} test images")
    return (images[index] / 255.0).astype(np.float32)


def normalised(x0: np.ndarray) -> np.ndarray:
    """The digit scaled to ``||x0|| = sqrt(n)`` (unit mean square entries of ``A x0``), flattened."""
    x = np.asarray(x0, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(x))
    if norm == 0:
        raise ValueError("the digit image is blank")
    return (x * math.sqrt(x.size) / norm).astype(np.float32)


# ------------------------------------------------------------------------------------ Figure 5's data
def uniqueness_rows(x0: np.ndarray, A: np.ndarray, amplitudes: list[float], tau: float = 1.0) -> list[dict]:
    """For consecutive amplitudes ``a < a'``: the distance between their measurements without ``A``
    (``||eta(a x0) - eta(a' x0)||``) and with it, and the clipped fractions."""
    x = normalised(x0).astype(np.float64)
    rows = []
    amps = sorted(float(a) for a in amplitudes)
    for a, b in zip(amps[:-1], amps[1:]):
        plain = [np.clip(s * x, -tau, tau) for s in (a, b)]
        mixed = [np.clip(A @ (s * x), -tau, tau) for s in (a, b)]
        rows.append({"a": a, "a_next": b, "distance_without_A": float(np.linalg.norm(plain[0] - plain[1])),
                     "distance_with_A": float(np.linalg.norm(mixed[0] - mixed[1])),
                     "clipped_without_A": float(np.mean(np.abs(a * x) >= tau)),
                     "clipped_with_A": float(np.mean(np.abs(A @ (a * x)) >= tau))})
    return rows


def saturation_amplitude(x0: np.ndarray, tau: float = 1.0) -> float:
    """``a*``: from this amplitude on every non-zero pixel of ``a x0`` clips (without ``A``)."""
    x = np.abs(normalised(x0))
    return float(tau / x[x > 0].min())


# ------------------------------------------------------------------------------------ Figure 6's data
class OperatorReconstructor:
    """Built lazily (torch): ``y -> A f(A^T y)`` for measurements ``y`` of shape ``N x 1 x n``, ``f`` a
    bias-free 2-D U-Net on the ``side x side`` back-projection."""

    @staticmethod
    def build(A: np.ndarray, channels: int, depth: int, seed: int):
        import torch
        from torch import nn

        from ..models.unet import UNet

        class _Model(nn.Module):
            def __init__(self):
                super().__init__()
                torch.manual_seed(seed)
                self.net = UNet(dim=2, in_channels=1, out_channels=1, channels=channels, depth=depth, bias=False)
                self.register_buffer("A", torch.as_tensor(A, dtype=torch.float32))

            def image(self, y: torch.Tensor) -> torch.Tensor:
                """The network's image estimate from measurements ``N x 1 x n``."""
                back = (y.reshape(len(y), -1) @ self.A).reshape(len(y), 1, SIDE, SIDE)  # A^T y, row-wise
                return self.net(back).reshape(len(y), -1)

            def forward(self, y: torch.Tensor) -> torch.Tensor:
                return (self.image(y) @ self.A.T).reshape(y.shape)  # A f(A^T y), row-wise

        return _Model()


def toy_data(x0: np.ndarray, A: np.ndarray, count: int, mu: float, seed: int, tau: float = 1.0):
    """``count`` amplitudes ``a ~ Exp(mu)`` and the measurements ``eta(A a x0)`` (rows)."""
    a = np.random.default_rng([seed, 5]).exponential(mu, size=count)
    x = normalised(x0).astype(np.float64)
    y = np.clip((a[:, None] * x[None, :]) @ A.T, -tau, tau).astype(np.float32)
    return a, y


def train_toy(x0: np.ndarray, A: np.ndarray, *, mu: float, train: int, epochs: int, steps: int, batch: int, lr: float,
              ei: dict | None, channels: int, depth: int, seed: int, threads: int | None = None):
    """One network trained on measurements alone: MC (eq. 7), plus EI when ``ei`` is given."""
    from ..losses import LOSSES
    from ..physics import Thresholds
    from ..pipeline.parameters import resolve
    from ..training import TrainSettings, fit

    _, y = toy_data(x0, A, train, mu, seed)
    losses = [LOSSES["mc"]()]
    if ei is not None:
        losses.append(LOSSES["ei"](**resolve(LOSSES["ei"].declaration(), ei, "figures.toy.ei")))
    settings = TrainSettings.from_params({"epochs": epochs, "steps_per_epoch": steps, "batch_size": batch,
                                          "crop": None, "lr": lr})
    model = OperatorReconstructor.build(A, channels, depth, seed)
    with tempfile.TemporaryDirectory() as work:
        rows = fit(model, losses, Thresholds.symmetric(1.0), settings, work, y, modality="audio", seed=seed,
                   threads=threads, progress=False)
    return model, sum(r["seconds"] for r in rows)


def reconstruct_images(model, y: np.ndarray) -> np.ndarray:
    """Image estimates (rows of n) of measurements ``y`` (rows)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model.image(torch.as_tensor(y, dtype=torch.float32)[:, None, :]).double().numpy()


def error_rows(x0: np.ndarray, A: np.ndarray, amplitudes: list[float], models: dict, tau: float = 1.0) -> list[dict]:
    """Per test amplitude: the dynamic range ``||a x0||``, the clipped fraction, and the relative error of
    the back-projection ``A^T y`` and of each model (``{"mc": model, "mc_ei": model}``)."""
    x = normalised(x0).astype(np.float64)
    a = np.asarray(sorted(float(v) for v in amplitudes))
    clean = a[:, None] * x[None, :]
    y = np.clip(clean @ A.T, -tau, tau)
    norms = np.linalg.norm(clean, axis=1)
    err = {"backprojection": np.linalg.norm(y @ A - clean, axis=1) / norms}
    for key, model in models.items():
        err[key] = np.linalg.norm(reconstruct_images(model, y.astype(np.float32)) - clean, axis=1) / norms
    return [{"a": float(a[i]), "dynamic_range": float(norms[i]), "clipped_fraction": float(np.mean(np.abs(clean[i] @ A.T) >= tau)),
             "backprojection_error": float(err["backprojection"][i]), "mc_error": float(err["mc"][i]),
             "mc_ei_error": float(err["mc_ei"][i])} for i in range(len(a))]


def write_rows(rows: list[dict], path: Path, fields: list[str]) -> None:
    write_values_csv(path, rows, fields)


# ------------------------------------------------------------------------------------------- drawing
def _img(ax, v, title, vmax=None):
    ax.imshow(np.asarray(v).reshape(SIDE, SIDE), cmap="gray", vmin=0 if vmax else None, vmax=vmax)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def figure5(x0: np.ndarray, A: np.ndarray, rows: list[dict], shown: list[float], out: Path, tau: float = 1.0) -> None:
    """Top: ``a x0``, ``eta(a x0)`` and ``A^T eta(A a x0)`` for the ``shown`` amplitudes; bottom: the distance
    between the measurements of consecutive amplitudes, with and without ``A``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import _finish

    x = normalised(x0).astype(np.float64)
    fig = plt.figure(figsize=(2.0 * len(shown) + 1, 7.6))
    grid = fig.add_gridspec(4, len(shown), height_ratios=[1, 1, 1, 1.6])
    for j, a in enumerate(shown):
        _img(fig.add_subplot(grid[0, j]), a * x, f"a x0, a = {a:g}")
        _img(fig.add_subplot(grid[1, j]), np.clip(a * x, -tau, tau), "eta(a x0), no A", vmax=tau)
        _img(fig.add_subplot(grid[2, j]), np.clip(A @ (a * x), -tau, tau) @ A, "A^T eta(A a x0)")
    ax = fig.add_subplot(grid[3, :])
    mid = [math.sqrt(r["a"] * r["a_next"]) for r in rows]
    ax.semilogx(mid, [r["distance_without_A"] for r in rows], "o-", color="tab:red", label="without A: ||eta(a x0) - eta(a' x0)||")
    ax.semilogx(mid, [r["distance_with_A"] for r in rows], "o-", color="tab:blue", label="with A: ||eta(A a x0) - eta(A a' x0)||")
    ax.axvline(saturation_amplitude(x0, tau), color="k", ls=":", lw=0.8, label="a*: every non-zero pixel clips")
    ax.set_xlabel("amplitude a (consecutive test amplitudes a < a')", fontsize=8)
    ax.set_ylabel("distance between measurements", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    _finish(fig, out, "Figure 5: without A, amplitudes above a* give the same measurement", title_size=10, dpi=110)


def figure6(x0: np.ndarray, A: np.ndarray, rows: list[dict], models: dict, shown: list[float], out: Path,
            mu: float, ei: dict | None = None, tau: float = 1.0) -> None:
    """Top: the relative error against the dynamic range; bottom: reconstructions at the ``shown``
    amplitudes (clean, back-projection, MC, MC + EI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import _finish

    x = normalised(x0).astype(np.float64)
    fig = plt.figure(figsize=(2.0 * len(shown) + 1, 10))
    grid = fig.add_gridspec(5, len(shown), height_ratios=[2.2, 1, 1, 1, 1])
    ax = fig.add_subplot(grid[0, :])
    from .subspace_figure import ei_description

    dr = [r["dynamic_range"] for r in rows]
    mc_ei = "MC + EI" + (f" ({ei_description(ei)})" if ei else "")
    for key, label, color in (("backprojection_error", "A^T y (no learning)", "0.5"), ("mc_error", "MC only", "tab:red"),
                              ("mc_ei_error", mc_ei, "tab:blue")):
        ax.semilogx(dr, [r[key] for r in rows], "o-", color=color, label=label, ms=3)
    ax.axvline(mu * math.sqrt(N), color="k", ls=":", lw=0.8, label="training mean ||a x0|| (a ~ Exp(mu))")
    ax.set_xlabel("dynamic range ||a x0||", fontsize=8)
    ax.set_ylabel("||x_hat - a x0|| / ||a x0||", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    y = np.clip((np.asarray(shown)[:, None] * x[None, :]) @ A.T, -tau, tau).astype(np.float32)
    recon = {k: reconstruct_images(m, y) for k, m in models.items()}
    for j, a in enumerate(shown):
        clip = float(np.mean(np.abs(A @ (a * x)) >= tau))
        _img(fig.add_subplot(grid[1, j]), a * x, f"a = {a:g}, {clip:.0%} clipped")
        _img(fig.add_subplot(grid[2, j]), y[j] @ A, "A^T y")
        _img(fig.add_subplot(grid[3, j]), recon["mc"][j], "MC only")
        _img(fig.add_subplot(grid[4, j]), recon["mc_ei"][j], mc_ei if j == 0 else "MC + EI")
    _finish(fig, out, "Figure 6: networks trained on eta(A a x0) alone, MC against MC + EI", title_size=10, dpi=110)
