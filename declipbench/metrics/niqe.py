"""NIQE no-reference image quality, matching the authors' official MATLAB release.

Reproduces the score computed by ``computequality.m`` (with ``computefeature.m`` and
``estimateaggdparam.m``) from the NIQE release of

    A. Mittal, R. Soundararajan, A. C. Bovik, "Making a 'completely blind' image quality
    analyzer", IEEE Signal Processing Letters 20(3):209-212, 2013,

called as ``computequality(im, 96, 96, 0, 0, mu_prisparam, cov_prisparam)`` on the image as read
by ``imread``. It is *not* the Image Processing Toolbox ``niqe`` (which has its own model and
feature code). Lower is better.

Pipeline (each step follows the MATLAB code; see the comments for the non-obvious parts):

1. ``rgb2gray`` for RGB input (uint8 in, uint8 out: the luma is rounded), then ``double``.
2. Crop to a multiple of the 96x96 block size (top-left part kept).
3. Two scales. At each: MSCN map ``(im - mu) / (sigma + 1)`` with a 7x7 Gaussian window
   (``fspecial('gaussian', 7, 7/6)``), ``imfilter`` = correlation with replicate padding.
   Per non-overlapping block (96 at scale 1, 48 at scale 2; ``blkproc``) 18 features: the
   asymmetric-GGD fit of the MSCN values ``[alpha, (betal + betar)/2]`` and, for the four
   neighbour shifts, the AGGD fit of the pairwise products ``[alpha, mean, betal, betar]``.
   The shift is a ``circshift`` of the *block*, so products wrap around inside the block.
   Between scales the image is shrunk with MATLAB's ``imresize(im, 0.5)`` (bicubic with
   antialiasing, see :func:`matlab_imresize`).
4. ``nanmean`` / ``nancov`` of the (nblocks x 36) features, then
   ``sqrt(d * pinv((cov_pris + cov_dist)/2) * d')`` with ``d = mu_pris - mu_dist``.
   No sharpness-based block selection: ``computequality.m`` computes a block sharpness but never
   uses it (the sharpness threshold only applies when training the pristine model).

Measured parity with the official MATLAB scores (``reference_niqe.csv`` fixtures, 512x384 uint8
RGB BMPs, pristine model ``niqe_pris_params.npz``):

    I04.bmp  3.654922  vs MATLAB 3.6549  relative error 5.9e-6
    I06.bmp  3.235715  vs MATLAB 3.2355  relative error 6.6e-5

The I06 residual comes from its flat (saturated) regions, where the MSCN values are pure
floating-point noise (|x| < 1e-9): whether such a value lands just below or just above zero
depends on the summation order inside ``imfilter`` and moves it between the left and right AGGD
samples (snapping them to exactly 0 gives 3.23433, making them all positive 3.23659).
Parity pitfalls, measured on the fixtures: skipping the uint8 rounding of ``rgb2gray`` -1.3 %
(I06); no antialiasing in ``imresize`` +66..89 %; mirror instead of replicate padding in
``imfilter`` up to +1.9 %; pair products without the in-block wrap-around of ``circshift``
-2.4..+6.8 %; BRISQUE's feature formulas instead of NIQE's more than doubles the score.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma as _gamma

from .base import Metric

METRICS = [Metric("niqe", "image", False, "NIQE ↓", r"NIQE $\downarrow$", "niqe", "niqe_scorer", factory=True)]

__all__ = [
    "niqe",
    "load_pristine_model",
    "matlab_imresize",
    "matlab_imresize_half",
    "mscn",
    "estimate_aggd_param",
    "block_features",
    "niqe_features",
    "gaussian_window",
]

log = logging.getLogger("declipbench.niqe")
BLOCK_SIZE = 96  # blocksizerow = blocksizecol = 96, no overlap (the official example call)
N_FEATURES = 36  # 18 per scale, two scales

# MATLAB rgb2gray: first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]) (NTSC luma)
RGB2GRAY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


# --------------------------------------------------------------------------------------------
# MATLAB imresize (bicubic, antialiased)
# --------------------------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize's bicubic kernel (Keys, a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _contributions(in_len: int, out_len: int, scale: float, antialiasing: bool = True):
    """Weights and 0-based source indices of one dimension, as MATLAB imresize's ``contributions``.

    Returns ``(weights, indices)``, both ``(out_len, taps)``; ``out[i] = sum_k w[i,k] * in[idx[i,k]]``.
    """
    kernel_width = 4.0
    if scale < 1 and antialiasing:
        # shrinking: the kernel is stretched by 1/scale (and scaled by `scale`) -> low-pass
        kernel = lambda x: scale * _cubic(scale * x)  # noqa: E731
        kernel_width = kernel_width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)  # 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # matching input coordinate (1-based)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may fall outside [1, in_len]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # out-of-range indices are mirrored *with* the edge sample repeated (0 -> 1, -1 -> 2, ...)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    indices = aux[np.mod(indices.astype(np.int64) - 1, aux.size)]
    # MATLAB drops tap columns whose weight is zero for every output sample
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep] - 1


def _resize_along(a: np.ndarray, axis: int, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    a = np.moveaxis(a, axis, 0)
    out = np.einsum("ok,ok...->o...", weights, a[indices])
    return np.moveaxis(out, 0, axis)


def matlab_imresize(image: np.ndarray, scale: float, antialiasing: bool = True) -> np.ndarray:
    """Reproduce MATLAB ``imresize(image, scale)`` with its defaults ('bicubic', 'Antialiasing' true).

    Behaviour reproduced, for a float (double) image, no clipping or rounding of the result:

    * output size ``ceil(scale * size)`` for each of the first two dimensions;
    * Keys cubic kernel with a = -0.5 (``1.5|x|^3 - 2.5|x|^2 + 1`` on [0,1],
      ``-0.5|x|^3 + 2.5|x|^2 - 4|x| + 2`` on (1,2]);
    * when shrinking (scale < 1) with antialiasing the kernel is ``scale * cubic(scale * x)`` and
      its support widened to ``4 / scale`` taps (8 taps at scale 0.5), so it low-pass filters;
    * output sample ``i`` (1-based) sits at input coordinate ``u = i/scale + 0.5*(1 - 1/scale)``
      (``2i - 0.5`` at scale 0.5), taps ``floor(u - width/2) + (0 .. ceil(width)+1)``;
      the weights of each output sample are normalised to sum to 1;
    * boundary: symmetric mirroring with the edge sample repeated (index 0 -> 1, -1 -> 2);
    * separable: rows (dimension 1) first, then columns (MATLAB's order for equal scales).

    Extra trailing dimensions (colour channels) are resized independently.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim < 2:
        raise ValueError(f"matlab_imresize needs an array with at least 2 dimensions, got shape {a.shape}")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"matlab_imresize needs a positive finite scale, got {scale}")
    for axis in (0, 1):
        in_len = a.shape[axis]
        out_len = int(math.ceil(scale * in_len))
        w, idx = _contributions(in_len, out_len, scale, antialiasing)
        a = _resize_along(a, axis, w, idx)
    return a


def matlab_imresize_half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(image, 0.5)``: bicubic, antialiased, symmetric boundary.

    See :func:`matlab_imresize` for the full list of reproduced behaviour.

    For an even length each output sample is ``[-3, -9, 29, 111, 111, 29, -9, -3] / 256`` applied to
    input samples ``2i-4 .. 2i+3`` (1-based), the out-of-range ones mirrored with the edge repeated.
    """
    return matlab_imresize(image, 0.5)


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------
def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)`` normalised to sum 1 (NIQE's MSCN window)."""
    r = (size - 1) / 2.0
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0  # as fspecial
    return h / h.sum()


def mscn(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(im - mu) / (sigma + 1)`` (the C = 1 of NIQE).

    ``mu = imfilter(im, window, 'replicate')``: correlation, replicate padding, same size
    (scipy's ``mode='nearest'``). ``sigma = sqrt(|imfilter(im.^2) - mu.^2|)``.
    """
    im = np.asarray(image, dtype=np.float64)
    mu = correlate(im, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(im * im, window, mode="nearest") - mu * mu))
    return (im - mu) / (sigma + 1.0)


def _matlab_colon(start: float, step: float, stop: float) -> np.ndarray:
    """``start:step:stop`` as MATLAB builds it (first half counted from start, second half from stop)."""
    n = int(math.floor((stop - start) / step + 1e-10))
    k = np.arange(n + 1, dtype=np.float64)
    out = start + k * step
    half = k > n / 2.0
    out[half] = stop - (n - k[half]) * step
    return out


@lru_cache(maxsize=1)
def _gamma_grid() -> tuple[np.ndarray, np.ndarray]:
    gam = _matlab_colon(0.2, 0.001, 10.0)
    r_gam = _gamma(2.0 / gam) ** 2 / (_gamma(1.0 / gam) * _gamma(3.0 / gam))
    return gam, r_gam


def _mean_or_nan(x: np.ndarray) -> float:
    # MATLAB mean([]) is NaN (numpy would also warn)
    return float(np.mean(x)) if x.size else math.nan


def estimate_aggd_param(vec: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit ``(alpha, betal, betar)`` as ``estimateaggdparam.m``.

    Moment matching: ``gammahat = leftstd/rightstd``, ``rhat = mean(|x|)^2 / mean(x^2)``,
    ``rhatnorm = rhat (gammahat^3+1)(gammahat+1) / (gammahat^2+1)^2``; alpha is the point of the
    grid ``0.2:0.001:10`` whose ``r(alpha) = Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))`` is closest
    (first one on ties); ``beta_{l,r} = {left,right}std * sqrt(Gamma(1/a)/Gamma(3/a))``.
    ``leftstd``/``rightstd`` are the RMS of the strictly negative / strictly positive samples
    (zeros count in ``rhat`` only). With no samples on one side the betas are NaN, like MATLAB.
    """
    v = np.asarray(vec, dtype=np.float64).ravel()
    leftstd = math.sqrt(_mean_or_nan(v[v < 0] ** 2))
    rightstd = math.sqrt(_mean_or_nan(v[v > 0] ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        gammahat = np.float64(leftstd) / np.float64(rightstd)
        rhat = np.float64(np.mean(np.abs(v))) ** 2 / np.float64(np.mean(v * v))
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    gam, r_gam = _gamma_grid()
    diff = (r_gam - rhatnorm) ** 2
    # MATLAB min skips NaNs and returns index 1 when everything is NaN; np.argmin gives 0 then too
    pos = int(np.nanargmin(diff)) if np.any(np.isfinite(diff)) else 0
    alpha = float(gam[pos])
    scale = math.sqrt(_gamma(1.0 / alpha) / _gamma(3.0 / alpha))
    return alpha, leftstd * scale, rightstd * scale


# circshift shifts of computefeature.m: horizontal, vertical, main diagonal, anti-diagonal
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def block_features(block: np.ndarray) -> np.ndarray:
    """The 18 features of ``computefeature.m`` for one block of MSCN coefficients.

    ``[alpha, (betal+betar)/2]`` of the coefficients, then for each shift of :data:`_SHIFTS`
    ``[alpha, (betar-betal) * Gamma(2/alpha)/Gamma(1/alpha), betal, betar]`` of the products of
    the block with its ``circshift`` (wrapping inside the block, not into the neighbours).
    """
    feat = []
    alpha, betal, betar = estimate_aggd_param(block)
    feat += [alpha, (betal + betar) / 2.0]
    for shift in _SHIFTS:
        pair = block * np.roll(block, shift, axis=(0, 1))  # == MATLAB circshift(block, shift)
        alpha, betal, betar = estimate_aggd_param(pair)
        meanparam = (betar - betal) * (_gamma(2.0 / alpha) / _gamma(1.0 / alpha))
        feat += [alpha, meanparam, betal, betar]
    return np.asarray(feat, dtype=np.float64)


def _blockwise_features(structdis: np.ndarray, bs: int) -> np.ndarray:
    """``blkproc`` over non-overlapping ``bs x bs`` blocks -> (nblocks, 18).

    Blocks are listed column-major (MATLAB's reshape of the blkproc output); the order is the same
    at both scales so rows of the two scales describe the same image region.
    """
    nr, nc = structdis.shape[0] // bs, structdis.shape[1] // bs
    return np.stack(
        [
            block_features(structdis[r * bs : (r + 1) * bs, c * bs : (c + 1) * bs])
            for c in range(nc)
            for r in range(nr)
        ]
    )


# --------------------------------------------------------------------------------------------
# Model and score
# --------------------------------------------------------------------------------------------
def _normalise_pristine(pristine: dict) -> dict:
    def pick(*names):
        for name in names:
            if name in pristine:
                return np.asarray(pristine[name], dtype=np.float64)
        return None

    mu = pick("mu_pris_param", "mu_prisparam")
    cov = pick("cov_pris_param", "cov_prisparam")
    if mu is None or cov is None:
        raise ValueError(
            "pristine model needs 'mu_pris_param'/'mu_prisparam' and 'cov_pris_param'/'cov_prisparam'; "
            f"got keys {sorted(pristine)}"
        )
    mu = mu.reshape(-1)
    if mu.shape != (N_FEATURES,) or cov.shape != (N_FEATURES, N_FEATURES):
        raise ValueError(
            f"pristine model has the wrong shapes: mu {mu.shape} (want 36 values), "
            f"cov {cov.shape} (want 36x36)"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov))):
        raise ValueError("pristine model contains non-finite values")
    window = pick("gaussian_window")
    if window is None:
        window = gaussian_window()
    elif window.ndim != 2 or window.shape[0] != window.shape[1] or window.shape[0] % 2 == 0:
        raise ValueError(f"gaussian_window must be a square odd-sized 2-D array, got shape {window.shape}")
    return {"mu_pris_param": mu, "cov_pris_param": cov, "gaussian_window": window}


def load_pristine_model(path) -> dict:
    """Load the NIQE pristine MVG model.

    Accepts an ``.npz`` with ``mu_pris_param`` (1x36), ``cov_pris_param`` (36x36) and optionally
    ``gaussian_window`` (7x7), or the official ``modelparameters.mat`` (``mu_prisparam``,
    ``cov_prisparam``; the window is then built as ``fspecial('gaussian', 7, 7/6)``).
    Returns a dict with keys ``mu_pris_param`` (36,), ``cov_pris_param``, ``gaussian_window``.
    """
    path = Path(path)
    if path.suffix.lower() == ".mat":
        from scipy.io import loadmat

        raw = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    else:
        with np.load(path) as data:
            raw = {k: data[k] for k in data.files}
    return _normalise_pristine(raw)


def _to_gray(image) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"image must be an integer or real floating array, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 3:
        if not np.all(np.isfinite(a)):
            raise ValueError("image contains non-finite values (NaN or Inf)")
        gray = a.astype(np.float64) @ RGB2GRAY_WEIGHTS
        if a.dtype == np.uint8:
            # MATLAB rgb2gray keeps the class: uint8 in -> luma rounded (half away from zero) and
            # saturated to uint8. The official scores are computed on this rounded image.
            gray = np.clip(np.floor(gray + 0.5), 0, 255)
        return gray
    if a.ndim != 2:
        raise ValueError(f"image must be 2-D grayscale or HxWx3 RGB, got shape {a.shape}")
    gray = a.astype(np.float64)
    if not np.all(np.isfinite(gray)):
        raise ValueError("image contains non-finite values (NaN or Inf)")
    return gray


def _nanmean_nancov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``nanmean`` (per column, NaNs skipped) and ``nancov`` (rows with any NaN dropped, N-1)."""
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(x), axis=0)
        mean = np.where(counts > 0, np.nansum(x, axis=0) / np.maximum(counts, 1), np.nan)
    complete = x[~np.any(np.isnan(x), axis=1)]
    if complete.shape[0] < 2:
        raise ValueError(
            f"only {complete.shape[0]} image block(s) gave finite NIQE features; at least 2 are needed "
            "(flat blocks fail: the AGGD fit needs both negative and positive MSCN values)"
        )
    return mean, np.cov(complete, rowvar=False, ddof=1)


def niqe_features(image: np.ndarray, window: np.ndarray | None = None) -> np.ndarray:
    """Per-block NIQE features (nblocks x 36) of ``computequality.m``, before the MVG fit."""
    im = _to_gray(image)
    window = gaussian_window() if window is None else np.asarray(window, dtype=np.float64)
    nr, nc = im.shape[0] // BLOCK_SIZE, im.shape[1] // BLOCK_SIZE
    if nr * nc < 2:
        raise ValueError(
            f"image of {im.shape[0]}x{im.shape[1]} pixels is too small for NIQE: it needs at least 2 "
            f"blocks of {BLOCK_SIZE}x{BLOCK_SIZE} (2 blocks of {BLOCK_SIZE // 2}x{BLOCK_SIZE // 2} at the "
            f"coarse scale), e.g. {BLOCK_SIZE}x{2 * BLOCK_SIZE}"
        )
    im = im[: nr * BLOCK_SIZE, : nc * BLOCK_SIZE]  # im(1:floor(row/96)*96, 1:floor(col/96)*96)
    feats = []
    for scale in (1, 2):
        feats.append(_blockwise_features(mscn(im, window), BLOCK_SIZE // scale))
        if scale == 1:
            im = matlab_imresize_half(im)
    return np.concatenate(feats, axis=1)


def niqe(image: np.ndarray, pristine: dict) -> float:
    """NIQE score of ``image`` (lower is better) as the official MATLAB ``computequality.m``.

    ``image``: 2-D grayscale or HxWx3 RGB, uint8 or float in [0, 255] (not [0, 1]: the MSCN
    stabiliser C = 1 assumes 8-bit range). uint8 RGB is converted exactly like MATLAB ``rgb2gray``
    (rounded to uint8); float RGB uses the same weights without rounding.
    ``pristine``: dict from :func:`load_pristine_model` (or with the same keys, or the .mat names).
    """
    model = _normalise_pristine(pristine)
    feat = niqe_features(image, model["gaussian_window"])
    mu_dist, cov_dist = _nanmean_nancov(feat)
    if not np.all(np.isfinite(mu_dist)):
        raise ValueError("NIQE features are NaN for every block (e.g. a constant image)")
    d = model["mu_pris_param"] - mu_dist
    avg_cov = (model["cov_pris_param"] + cov_dist) / 2.0
    # MATLAB pinv tolerance: max(size(A)) * norm(A) * eps (relative: max(size) * eps)
    inv = np.linalg.pinv(avg_cov, rcond=max(avg_cov.shape) * np.finfo(np.float64).eps)
    return float(math.sqrt(max(float(d @ inv @ d), 0.0)))


# --------------------------------------------------------------------------------------------
# The metric in the pipeline: the pristine model, and the score of one reconstruction
# --------------------------------------------------------------------------------------------
NIQE_URL = "https://live.ece.utexas.edu/research/quality/niqe_release.zip"
NIQE_MEMBER = "modelparameters.mat"


def fetch_niqe_model(cache_dir, sha256: str | None = None, progress: bool = True):
    """The NIQE pristine model (``modelparameters.mat`` of the official release, :data:`NIQE_URL`),
    converted once to ``niqe_pris_params.npz`` in ``cache_dir`` and loaded from there afterwards.

    The release zip has no published checksum, so a download needs its sha256 from the user
    (``sha256=`` or ``DECLIPBENCH_NIQE_SHA256``); a ``niqe_pris_params.npz`` or ``modelparameters.mat``
    already in ``cache_dir`` (placed by hand) is used without network. The model is checked (36 means,
    a symmetric 36x36 covariance, finite) before it is cached. Returns the model dict of
    :func:`declipbench.niqe.load_pristine_model`.
    """
    import os
    from pathlib import Path

    from ..data import io

    cache = Path(cache_dir)
    npz = cache / "niqe_pris_params.npz"
    if npz.is_file():
        return load_pristine_model(npz)
    mat = cache / NIQE_MEMBER
    if not mat.is_file():
        sha256 = sha256 or os.environ.get("DECLIPBENCH_NIQE_SHA256")
        if not sha256:
            raise ValueError(
                f"NIQE pristine model not found in {cache} and no checksum is published for {NIQE_URL}: "
                f"download the release, place {NIQE_MEMBER} (or niqe_pris_params.npz) in {cache}, or pass "
                "the zip's sha256 (sha256= or DECLIPBENCH_NIQE_SHA256) to let the suite download it")
        import zipfile

        from ..data.download import fetch, safe_extract  # imported only when a download is needed

        archive = fetch(cache / "niqe_release.zip", urls=[NIQE_URL], sha256=sha256, progress=progress)
        with zipfile.ZipFile(archive) as zf:
            members = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == NIQE_MEMBER]
        if not members:
            raise ValueError(f"{archive}: no {NIQE_MEMBER} in the NIQE release archive")
        safe_extract(archive, cache / "niqe_release", members=members[:1])
        (cache / "niqe_release" / members[0]).replace(mat)
    model = load_pristine_model(mat)
    cov = model["cov_pris_param"]
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-9 * float(np.max(np.abs(cov)))):
        raise ValueError(f"{mat}: the pristine covariance is not symmetric; not the official model")
    io.save_arrays(npz, mu_pris_param=model["mu_pris_param"][None, :], cov_pris_param=cov,
                   gaussian_window=gaussian_window())
    return load_pristine_model(npz)



#: The pristine model of the official release, shipped with the package (its licence allows it, with the
#: notice in NIQE_NOTICE.txt beside it): 36 means and a 36 x 36 covariance (``modelparameters.mat``) and the
#: 7 x 7 window of ``computefeature.m``.
PACKAGED_MODEL = Path(__file__).with_name("niqe_pris_params.npz")


def niqe_model() -> tuple[dict | None, str]:
    """The NIQE pristine model and where it came from, or ``None`` and why not. Looked up at
    ``$DECLIPBENCH_NIQE_MODEL`` (a ``.npz`` or the official ``modelparameters.mat``), then in the cache
    ``data/niqe/`` of the repository (a file placed there, or downloaded by :func:`fetch_niqe_model` when
    ``DECLIPBENCH_NIQE_SHA256`` gives the release's checksum: none is published), then the copy shipped
    with the package (:data:`PACKAGED_MODEL`), so NIQE works offline."""
    import os

    from ..foundation.contracts import ROOT

    tried = []
    env = os.environ.get("DECLIPBENCH_NIQE_MODEL")
    if env:
        try:
            return load_pristine_model(env), env
        except (OSError, ValueError) as exc:
            tried.append(f"DECLIPBENCH_NIQE_MODEL={env}: {exc}")
    cache = ROOT / "data" / "niqe"
    if any((cache / name).is_file() for name in ("niqe_pris_params.npz", NIQE_MEMBER)) \
            or os.environ.get("DECLIPBENCH_NIQE_SHA256"):
        try:
            return fetch_niqe_model(cache, progress=False), str(cache)
        except (OSError, ValueError) as exc:
            tried.append(str(exc))
    try:
        return load_pristine_model(PACKAGED_MODEL), f"{PACKAGED_MODEL} (shipped with the package)"
    except (OSError, ValueError) as exc:
        tried.append(f"{PACKAGED_MODEL}: {exc}")
    log.warning("no NIQE pristine model: %s", " | ".join(tried))
    return None, "NIQE pristine model not available: " + " | ".join(tried)


def niqe_of(x_hat, pristine: dict, curve=None) -> tuple[float, str]:
    """NIQE (lower is better) of a reconstruction ``x_hat`` (``3 x H x W`` linear radiance) after the
    display tone map :func:`declipbench.physics.camera.display` (camera curve over its asymptote, 8 bits; uint8
    RGB to NIQE as MATLAB ``imread`` would give it). Unscorable images are recorded with the reason."""
    if not np.all(np.isfinite(x_hat)):
        return math.nan, "nonfinite reconstruction"
    from ..physics.camera import display

    img = display(np.moveaxis(np.asarray(x_hat), 0, -1), curve)
    try:
        return float(niqe(img, pristine)), ""
    except ValueError as exc:  # too small, flat
        return math.nan, f"niqe failed: {exc}"[:200]


def niqe_scorer():
    """The table metric ``niqe`` as a per-item score ``(x, x_hat, y, sample_rate) -> (value, note)``, the
    pristine model looked up once (:func:`niqe_model`); without a model every item is missing, with the
    reason (never a crash)."""
    pristine, source = niqe_model()
    log.info("NIQE pristine model: %s", source if pristine is not None else f"none: {source}")

    def score(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
        if pristine is None:
            return math.nan, source
        return niqe_of(x_hat, pristine)

    return score
