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
import sys
import tempfile
from pathlib import Path

import numpy as np

from declipbench import Param
from declipbench.data.mnist import MNIST_TEST_IMAGES  # the file, its mirrors and checksum
from declipbench.physics.operators import haar_orthogonal
from declipbench.report.formatting import write_values_csv
from declipbench.report.toy_figure import N, SIDE, figure5, figure6, normalised, saturation_amplitude  # noqa: F401

log = logging.getLogger("declipbench.figures")

OUTPUTS = {"fig5_uniqueness": "Figure 5: why the operator A is needed",
           "fig6_toy": "Figure 6: MC against MC + EI on one digit"}
ENV = "torch"
THREADS = True
FIELDS = ["a", "dynamic_range", "clipped_fraction", "backprojection_error", "mc_error", "mc_ei_error"]
UNIQUENESS_FIELDS = ["a", "a_next", "distance_without_A", "distance_with_A", "clipped_without_A", "clipped_with_A"]
PARAMETERS = {
    "digit": Param("synthetic", choices=("synthetic", "mnist"),
                   help="synthetic: a digit-like image made offline; mnist: MNIST test image `index`, downloaded "
                        "into <data_dir>/mnist/ (checksummed, resumable; a file placed there by hand is used)"),
    "index": Param(0, int, min=0, help="the MNIST test image (digit mnist)"),
    "mu": Param(1.0, float, above=0, help="mean of the training amplitudes a"),
    "train": Param(2000, int, min=1, help="training measurements"),
    "epochs": Param(10, int, min=1),
    "steps_per_epoch": Param(100, int, min=1),
    "batch_size": Param(32, int, min=1),
    "lr": Param(0.003, float, above=0),
    "channels": Param(8, int, min=1, help="first-level channels of the bias-free U-Net"),
    "depth": Param(2, int, min=1, max=4, help="down / up blocks (the paper: 4)"),
    "seed": Param(0, int, min=0),
    "amplitudes": {"min": Param(0.05, float, above=0), "max": Param(50.0, float, above=0),
                   "num": Param(16, int, min=2, help="test amplitudes, log-spaced from min to max")},
    "shown": Param([0.5, 2.0, 8.0, 32.0], list, items=float, help="amplitudes whose images the figures show"),
    "ei": Param({}, dict, help="the EI loss's parameters (default eq. 11 with gradients through both terms, g_max 2)"),
}


def external_inputs(params: dict, data_dir: Path) -> list:
    """What the figure reads from outside the repository (``declipbench check-data``): MNIST's test images
    with ``digit: mnist``."""
    from declipbench.data.mnist import mnist_inputs

    return mnist_inputs(data_dir) if params["digit"] == "mnist" else []


def check(params: dict, config: dict, where: str) -> None:
    from declipbench.losses import LOSSES

    amps = params["amplitudes"]
    if amps["max"] <= amps["min"]:
        raise ValueError(f"{where}.amplitudes: max = {amps['max']} is not above min = {amps['min']}")
    if not params["shown"] or not all(a > 0 for a in params["shown"]):
        raise ValueError(f"{where}.shown = {params['shown']}: at least one amplitude, each > 0")
    params["ei"] = LOSSES["ei"].resolve(params["ei"], f"{where}.ei")


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
    from declipbench.data.download import fetch

    path = fetch(Path(data_dir) / "mnist" / MNIST_TEST_IMAGES["name"], urls=MNIST_TEST_IMAGES["urls"],
                 sha256=MNIST_TEST_IMAGES["sha256"], size=MNIST_TEST_IMAGES["size"], progress=progress)
    images = read_idx_images(path)
    if not 0 <= index < len(images):
        raise ValueError(f"figures.toy.index = {index}: MNIST has {len(images)} test images")
    return (images[index] / 255.0).astype(np.float32)


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


# ------------------------------------------------------------------------------------ Figure 6's data
class OperatorReconstructor:
    """Built lazily (torch): ``y -> A f(A^T y)`` for measurements ``y`` of shape ``N x 1 x n``, ``f`` a
    bias-free 2-D U-Net on the ``side x side`` back-projection."""

    @staticmethod
    def build(A: np.ndarray, channels: int, depth: int, seed: int):
        import torch
        from torch import nn

        from declipbench.models.unet import UNet

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
    from declipbench.losses import LOSSES
    from declipbench.physics import Thresholds
    from declipbench.training import TrainSettings, fit

    _, y = toy_data(x0, A, train, mu, seed)
    losses = [LOSSES["mc"]()]
    if ei is not None:
        losses.append(LOSSES["ei"](**LOSSES["ei"].resolve(ei, "figures.toy.ei")))
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


def make(job) -> None:
    p = job.params
    x0 = synthetic_digit() if p["digit"] == "synthetic" else mnist_digit(job.data_dir or Path("data"), p["index"])
    A = haar_orthogonal(N, np.random.default_rng([p["seed"], 7]))
    a = p["amplitudes"]
    amps = list(np.geomspace(a["min"], a["max"], int(a["num"])))
    unique = uniqueness_rows(x0, A, amps)
    write_rows(unique, job.csv("fig5_uniqueness"), UNIQUENESS_FIELDS)
    figure5(x0, A, unique, p["shown"], job.png("fig5_uniqueness"))
    models = {}
    for key, ei in (("mc", None), ("mc_ei", p["ei"])):
        models[key], seconds = train_toy(x0, A, mu=p["mu"], train=p["train"], epochs=p["epochs"],
                                         steps=p["steps_per_epoch"], batch=p["batch_size"], lr=p["lr"], ei=ei,
                                         channels=p["channels"], depth=p["depth"], seed=p["seed"], threads=job.threads)
        print(f"{key}: trained in {seconds:.1f} s", file=sys.stderr)
    rows = error_rows(x0, A, amps, models)
    write_rows(rows, job.csv("fig6_toy"), FIELDS)
    x = normalised(x0).astype(np.float64)
    y = np.clip((np.asarray(p["shown"])[:, None] * x[None, :]) @ A.T, -1.0, 1.0).astype(np.float32)
    figure6(x0, A, rows, {k: reconstruct_images(m, y) for k, m in models.items()}, p["shown"], job.png("fig6_toy"),
            p["mu"], p["ei"])
    for r in rows:
        print(f"a {r['a']:.3g}: ||a x0|| {r['dynamic_range']:.3g}, {r['clipped_fraction']:.0%} clipped, relative error "
              f"A^T y {r['backprojection_error']:.3f}, MC {r['mc_error']:.3f}, MC + EI {r['mc_ei_error']:.3f}",
              file=sys.stderr)
