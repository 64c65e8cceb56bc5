"""Per-item metrics (PAPER.md section 7).

Every function scores one item and returns ``(value, note)``: ``value`` is a float or ``nan`` with
``note`` saying why the item could not be scored (PESQ refuses silence or very short input; a
reconstruction with NaN/Inf is flagged, never averaged). Tables count and report such items.
"""

from __future__ import annotations

import math

import numpy as np

from .io import resample
from .physics import sdr_db

PESQ_RATE = 16000


def _finite(x_hat) -> str | None:
    return None if np.all(np.isfinite(x_hat)) else "nonfinite reconstruction"


def sdr(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    return sdr_db(x, x_hat), ""


def delta_sdr(x, x_hat, y, sample_rate=None) -> tuple[float, str]:
    """``SDR(x_hat) - SDR(y)``: the improvement over the clipped input."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    return sdr_db(x, x_hat) - sdr_db(x, y), ""


def pesq_score(x, x_hat, y=None, sample_rate: int = 22050) -> tuple[float, str]:
    """Wide-band PESQ (ITU-T P.862.2) after resampling to 16 kHz; reference is the clean signal."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    from pesq import pesq as _pesq

    ref = resample(np.asarray(x, dtype=np.float64), sample_rate, PESQ_RATE)
    deg = resample(np.asarray(x_hat, dtype=np.float64), sample_rate, PESQ_RATE)
    try:
        return float(_pesq(PESQ_RATE, ref, deg, "wb")), ""
    except Exception as exc:  # pesq raises on silent or too-short input: record why, never crash a table
        return math.nan, f"pesq failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:200]


# ------------------------------------------------------------------------------------ images (HDR)
def psnr_db(x, x_hat, peak: float | None = None) -> float:
    """PSNR (eq. 14) in dB, ``10 log10(peak^2 / MSE)``, over all pixels and channels of one image.

    Peak (HDR radiance has no natural one): ``peak=None`` takes the **maximum of the clean image**
    ``max(x)`` (in the suite's linear, exposure-normalised domain, where the saturation level is 1 and
    the clean maximum is the brightest light source). ``inf`` for a perfect reconstruction.
    """
    x = np.asarray(x, dtype=np.float64)
    mse = float(np.mean((x - np.asarray(x_hat, dtype=np.float64)) ** 2))
    peak = float(np.max(x)) if peak is None else float(peak)
    if not peak > 0:
        raise ValueError(f"PSNR peak must be > 0, got {peak}")
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


def psnr(x, x_hat, y=None, sample_rate=None) -> tuple[float, str]:
    """PSNR of one image with peak ``max(x)`` (the clean image's maximum, linear domain): see :func:`psnr_db`."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    return psnr_db(x, x_hat), ""


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

    from . import io
    from .niqe import gaussian_window, load_pristine_model

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

        from .download import fetch, safe_extract  # imported only when a download is needed

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


def niqe_of(x_hat, pristine: dict, curve=None) -> tuple[float, str]:
    """NIQE (lower is better) of a reconstruction ``x_hat`` (``3 x H x W`` linear radiance) after the
    display tone map :func:`declipbench.hdr.display` (camera curve over its asymptote, 8 bits; uint8
    RGB to NIQE as MATLAB ``imread`` would give it). Unscorable images are recorded with the reason."""
    bad = _finite(x_hat)
    if bad:
        return math.nan, bad
    from .hdr import display
    from .niqe import niqe

    img = display(np.moveaxis(np.asarray(x_hat), 0, -1), curve)
    try:
        return float(niqe(img, pristine)), ""
    except ValueError as exc:  # too small, flat
        return math.nan, f"niqe failed: {exc}"[:200]


METRICS = {"sdr": sdr, "delta_sdr": delta_sdr, "pesq": pesq_score, "psnr": psnr}
# higher is better for every audio metric here; NIQE: lower is better
HIGHER_IS_BETTER = {"sdr": True, "delta_sdr": True, "pesq": True, "psnr": True, "niqe": False}
UNITS = {"sdr": "SDR (dB)", "delta_sdr": "ΔSDR (dB)", "pesq": "PESQ", "psnr": "PSNR (dB)", "niqe": "NIQE ↓"}
