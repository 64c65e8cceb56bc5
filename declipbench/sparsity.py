"""Social-sparsity declipping (Siedenburg et al. 2014, as run by the survey of Zaviska et al. 2021).

PAPER.md section 6. Synthesis model on a tight (Parseval) Gabor frame, FISTA-like iterations with
lambda continuation and (P)EW shrinkage.

Choices made here (PAPER.md is silent on them):

* **Frame.** Periodic Hann window of length ``w``, hop ``a``, ``M >= w`` frequency channels (``M`` even).
  Frame ``n`` covers samples ``n*a - w/2 ... n*a + w/2 - 1`` (centred on ``n*a``), circularly on the
  signal zero-padded to ``L`` = the smallest multiple of ``a`` that is ``>= max(T, w)``; the output is
  cropped back to ``T``. The window is made canonical-tight in the painless case (``M >= w``):
  ``g_t[l] = g[l] / sqrt(M * sum_j g[l + j*a]^2)``, so the *complex* Gabor frame with ``M`` channels has
  frame bound 1 (``S(A(x)) = x`` and ``sum_m |c_m|^2 = ||x||^2``).
* **Real signals.** Audio is real, so only channels ``0 .. M/2`` are stored (``rfft``), *unweighted*:
  they are exactly the first ``M/2 + 1`` coefficients of the complex frame (like LTFAT's ``dgtreal``),
  so ``lambda`` means the same as on the full complex frame (the survey's setting). Synthesis is the
  full complex frame's synthesis of the Hermitian extension (``irfft``), i.e. ``S = A^H`` for the
  inner product that counts channels ``1 .. M/2-1`` twice; in that norm (:meth:`GaborFrame.norm2`) the
  frame is Parseval on real signals. The iteration is then identical to running the survey's loop on
  the full complex frame.
* **PEW neighbourhood.** 3 frequency bins x 7 frames, centred, padded by mirror *with* the edge sample
  repeated (numpy/MATLAB ``'symmetric'``: ``[a b c] -> b a | a b c | c b``), at both ends of both axes.
  ``E = 0`` gives ``c = 0``.
* **Loop.** ``z`` starts at ``A(y)``; the momentum counter ``k`` restarts at 1 for every lambda (so the first
  step of every lambda has no momentum), ``z`` is warm-started across lambdas, and the stopping test of
  the first inner iteration compares with the last ``x`` of the previous lambda (``S(A(y)) = y`` at the
  very start).
* A signal without a clipped sample is returned unchanged. Reliable samples are *not* forced to equal
  ``y`` in the output (the survey does not).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

__all__ = ["GaborFrame", "default_frame", "default_lambdas", "shrink_ew", "shrink_pew",
           "declip_plain", "declip"]

SURVEY_RATE = 44100
SURVEY_FRAME = (8192, 2048, 16384)  # window, hop, channels at 44.1 kHz


def default_frame(sample_rate: int = SURVEY_RATE) -> tuple[int, int, int]:
    """The survey's (window, hop, channels) scaled to ``sample_rate``: the window is the power of two
    nearest to ``8192 * sample_rate / 44100``, hop = window / 4, channels = 2 * window
    (44.1 kHz: 8192/2048/16384; 22,050 Hz: 4096/1024/8192)."""
    w = 2 ** int(round(math.log2(SURVEY_FRAME[0] * sample_rate / SURVEY_RATE)))
    w = max(w, 8)
    return w, w // 4, 2 * w


def default_lambdas(start: float = -1.0, stop: float = -4.0, num: int = 20) -> list[float]:
    """``logspace(start, stop, num)`` (survey: -1, -4, 20)."""
    return [float(v) for v in np.logspace(start, stop, num)]


def _sym_index(n: int, pad: int, device) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``pad`` on both sides, mirror with edge repeated."""
    i = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


class GaborFrame:
    """Tight Gabor frame for real signals of length ``length`` (see the module docstring).

    ``analysis``: (N, T) real -> (N, M/2+1, frames) complex; ``synthesis`` its adjoint (and inverse).
    """

    def __init__(self, length: int, window: int, hop: int, channels: int,
                 dtype=torch.float64, device="cpu"):
        if not (0 < hop < window <= channels):
            raise ValueError(f"need 0 < hop < window <= channels, got {hop}, {window}, {channels}")
        if channels % 2:
            raise ValueError(f"channels must be even, got {channels}")
        self.T, self.w, self.a, self.M = int(length), int(window), int(hop), int(channels)
        self.K = self.M // 2 + 1
        self.L = -(-max(self.T, self.w) // self.a) * self.a
        self.F = self.L // self.a
        self.dtype, self.device = dtype, torch.device(device)
        g = torch.hann_window(self.w, periodic=True, dtype=torch.float64)
        s = torch.zeros(self.a, dtype=torch.float64)
        s.index_add_(0, torch.arange(self.w) % self.a, g ** 2)
        if not bool((s > 0).all()):
            raise ValueError("window and hop do not give a frame (zero in the sum of shifted windows)")
        gt = g / torch.sqrt(self.M * s[torch.arange(self.w) % self.a])
        self.g = gt.to(dtype=dtype, device=self.device)          # analysis window
        self.gs = (self.M * gt).to(dtype=dtype, device=self.device)  # synthesis window (irfft has 1/M)
        idx = (torch.arange(self.F)[:, None] * self.a + torch.arange(self.w)[None, :] - self.w // 2) % self.L
        self.idx = idx.to(self.device)
        self.idx_flat = self.idx.reshape(-1)
        self._wts = None

    # internal layout (N, frames, channels): contiguous along channels for the FFT
    def _analysis_fk(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.L:
            x = F.pad(x, (0, self.L - x.shape[-1]))
        seg = x[:, self.idx] * self.g
        return torch.fft.rfft(seg, n=self.M, dim=-1)

    def _synthesis_fk(self, z: torch.Tensor) -> torch.Tensor:
        seg = torch.fft.irfft(z, n=self.M, dim=-1)[..., : self.w] * self.gs
        out = torch.zeros(z.shape[0], self.L, dtype=seg.dtype, device=seg.device)
        out.index_add_(1, self.idx_flat, seg.reshape(z.shape[0], -1))
        return out[:, : self.T]

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T) -> (N, M/2+1, frames)."""
        return self._analysis_fk(x).transpose(1, 2)

    def synthesis(self, z: torch.Tensor) -> torch.Tensor:
        """(N, M/2+1, frames) -> (N, T)."""
        return self._synthesis_fk(z.transpose(1, 2).contiguous())

    def norm2(self, z: torch.Tensor) -> torch.Tensor:
        """Squared norm of (N, M/2+1, frames) coefficients in the full complex frame (channels
        1..M/2-1 counted twice): equals ||x||^2 for z = analysis(x). Returns (N,)."""
        wts = torch.full((self.K,), 2.0, dtype=torch.float64, device=z.device)
        wts[0] = wts[-1] = 1.0
        return ((z.abs().double() ** 2) * wts[:, None]).sum(dim=(1, 2))


# ---------------------------------------------------------------------------------------------------
# shrinkage (coefficients (..., freq, time))

def shrink_ew(z: torch.Tensor, lam) -> torch.Tensor:
    """Empirical Wiener: ``z * max(1 - lam^2/|z|^2, 0)`` (0 where z = 0)."""
    e = z.real ** 2 + z.imag ** 2
    return z * _gain(e, lam)


def _gain(e: torch.Tensor, lam) -> torch.Tensor:
    """``max(1 - lam^2/e, 0)``, 0 where ``e = 0`` (e is clamped to the smallest normal number, so the
    ratio is huge or inf and the gain 0; where e = 0 the coefficient itself is 0 anyway)."""
    lam2 = torch.as_tensor(lam, dtype=e.dtype, device=e.device) ** 2
    g = torch.clamp(e, min=torch.finfo(e.dtype).tiny)
    g = torch.div(lam2, g).neg_().add_(1).clamp_(min=0)
    return g


def _sym_pad(e: torch.Tensor, dim: int, p: int) -> torch.Tensor:
    n = e.shape[dim]
    if p == 0:
        return e
    if n >= p:
        left = e.narrow(dim, 0, p).flip(dim)
        right = e.narrow(dim, n - p, p).flip(dim)
        return torch.cat([left, e, right], dim)
    return e.index_select(dim, _sym_index(n, p, e.device))


def _box_sum(e: torch.Tensor, dim: int, k: int) -> torch.Tensor:
    """Sum over a centred window of ``k`` (odd) along ``dim``, symmetric mirror padding."""
    n = e.shape[dim]
    ep = _sym_pad(e, dim, k // 2)
    out = ep.narrow(dim, 0, n).clone()
    for j in range(1, k):
        out += ep.narrow(dim, j, n)
    return out


def _box_mean(e: torch.Tensor, kf: int, kt: int, f_dim: int) -> torch.Tensor:
    """Mean of ``e`` (N, A, B) over a centred (kf freq x kt time) box, symmetric mirror padding;
    ``f_dim`` (1 or 2) says which of the two axes is frequency (separable: two 1-D box sums)."""
    t_dim = 3 - f_dim
    return _box_sum(_box_sum(e, f_dim, kf), t_dim, kt).mul_(1.0 / (kf * kt))


def shrink_pew(z: torch.Tensor, lam, kf: int = 3, kt: int = 7) -> torch.Tensor:
    """Persistent empirical Wiener on (N, freq, time) coefficients: ``z * max(1 - lam^2/E, 0)`` with
    ``E`` the mean of ``|z|^2`` over the kf x kt neighbourhood (symmetric mirror padding)."""
    e = z.real ** 2 + z.imag ** 2
    return z * _gain(_box_mean(e, kf, kt, f_dim=1), lam)


def _shrink_fk(z: torch.Tensor, lam: torch.Tensor, kind: str) -> torch.Tensor:
    """Shrinkage on the internal (N, frames, channels) layout; ``lam`` broadcastable (N, 1, 1)."""
    e = z.real ** 2 + z.imag ** 2
    if kind == "pew":
        e = _box_mean(e, 3, 7, f_dim=2)
    elif kind != "ew":
        raise ValueError(f"unknown shrinkage {kind!r}; use 'pew' or 'ew'")
    return z * _gain(e, lam)


# ---------------------------------------------------------------------------------------------------
# helpers

def _to_torch(y):
    is_np = not isinstance(y, torch.Tensor)
    t = torch.from_numpy(np.asarray(y)) if is_np else y
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"expected float32 or float64 input, got {t.dtype}")
    squeeze = t.ndim == 1
    if squeeze:
        t = t[None]
    if t.ndim != 2:
        raise ValueError(f"expected (N, T) or (T,), got shape {tuple(t.shape)}")
    return t, is_np, squeeze


def _from_torch(x: torch.Tensor, is_np: bool, squeeze: bool):
    if squeeze:
        x = x[0]
    return x.cpu().numpy() if is_np else x


def _frame_args(window, hop, channels, sample_rate):
    """Missing sizes: all three from :func:`default_frame` when ``window`` is None, else hop = window/4
    and channels = 2 * window."""
    if window is None:
        window, hop0, ch0 = default_frame(sample_rate)
    else:
        window = int(window)
        hop0, ch0 = window // 4, 2 * window
    return window, int(hop or hop0), int(channels or ch0)


# ---------------------------------------------------------------------------------------------------
# the oracle: a literal transcription of PAPER.md section 6, one signal at a time

def declip_plain(y, tau: float, *, window: int | None = None, hop: int | None = None,
                 channels: int | None = None, sample_rate: int = SURVEY_RATE, lambdas=None,
                 max_iter: int = 500, tol: float = 1e-4, shrinkage: str = "pew", device="cpu"):
    """Readable reference implementation (slow). Same arguments and result as :func:`declip`."""
    yt, is_np, squeeze = _to_torch(y)
    window, hop, channels = _frame_args(window, hop, channels, sample_rate)
    lambdas = default_lambdas() if lambdas is None else list(lambdas)
    shrink = {"pew": shrink_pew, "ew": shrink_ew}[shrinkage]
    yt = yt.to(device)
    out = yt.clone()
    frame = GaborFrame(yt.shape[1], window, hop, channels, dtype=yt.dtype, device=device)
    for i in range(yt.shape[0]):
        y_i = yt[i : i + 1]
        R = (y_i > -tau) & (y_i < tau)
        H = y_i >= tau
        Lo = y_i <= -tau
        if not bool((H | Lo).any()):
            continue  # nothing clipped: y comes back unchanged
        z = frame.analysis(y_i)
        c = z.clone()
        x = frame.synthesis(c)
        for lam in lambdas:
            for k in range(1, max_iter + 1):
                u = frame.synthesis(z)
                r = torch.zeros_like(u)
                r[R] = (y_i - u)[R]
                r[H] = (tau - u)[H]
                r[Lo] = (-tau - u)[Lo]
                r[(H | Lo) & (u.abs() > tau)] = 0
                z = z + frame.analysis(r)
                c_new = shrink(z, lam)
                z = c_new + (k - 1) / (k + 5) * (c_new - c)
                x_new = frame.synthesis(c_new)
                step = torch.linalg.vector_norm(x_new - x).item()
                c, x = c_new, x_new
                if step < tol:
                    break
        out[i] = x[0]
    return _from_torch(out, is_np, squeeze)


# ---------------------------------------------------------------------------------------------------
# the fast path

def declip(y, tau: float, *, window: int | None = None, hop: int | None = None,
           channels: int | None = None, sample_rate: int = SURVEY_RATE, lambdas=None,
           max_iter: int = 500, tol: float = 1e-4, shrinkage: str = "pew", device="cpu",
           return_info: bool = False):
    """Social-sparsity declipping of ``y`` (N, T) or (T,), numpy or torch, float32/float64, with
    symmetric threshold ``tau``. Output: same shape, dtype and kind as ``y``.

    Frame sizes default to :func:`default_frame` at ``sample_rate``; ``lambdas`` to
    ``logspace(-1, -4, 20)``; ``max_iter`` inner iterations per lambda at most, an inner loop stops when
    ``||x_k - x_{k-1}||_2 < tol``. Batched: every signal has its own lambda index and inner counter and
    stops on its own; a finished signal is no longer computed. Uses ``S(z_k) = x_k + b_k (x_k - x_{k-1})``
    (linearity) so one analysis and one synthesis per iteration. ``return_info``: also return a dict
    with the number of iterations run per signal.
    """
    yt, is_np, squeeze = _to_torch(y)
    window, hop, channels = _frame_args(window, hop, channels, sample_rate)
    lambdas = default_lambdas() if lambdas is None else list(lambdas)
    if shrinkage not in ("pew", "ew"):
        raise ValueError(f"unknown shrinkage {shrinkage!r}; use 'pew' or 'ew'")
    N, T = yt.shape
    clipped = (yt >= tau) | (yt <= -tau)
    active0 = clipped.any(dim=1)
    iters = torch.zeros(N, dtype=torch.long)
    if not bool(active0.any()) or not lambdas:
        out = yt.clone()
        return (_from_torch(out, is_np, squeeze), {"iterations": iters.tolist()}) if return_info \
            else _from_torch(out, is_np, squeeze)

    dev = torch.device(device)
    dtype = yt.dtype
    yd = yt.to(dev)
    frame = GaborFrame(T, window, hop, channels, dtype=dtype, device=dev)
    # only the signals that have clipping take part
    sel = active0.nonzero().squeeze(1).to(dev)
    yc = yd[sel]
    n = yc.shape[0]
    clip_c = clipped.to(dev)[sel]
    target = torch.where(clip_c, torch.sign(yc) * tau, yc)  # y on R, +tau on H, -tau on L
    lam_table = torch.tensor(lambdas, dtype=dtype, device=dev)
    nl = len(lambdas)

    z = frame._analysis_fk(yc)            # (n, F, K)
    c = z.clone()
    x = yc.clone()                        # S(A(y)) = y
    u = x.clone()                         # S(z)
    lam_idx = torch.zeros(n, dtype=torch.long, device=dev)
    k = torch.ones(n, dtype=dtype, device=dev)
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    it = torch.zeros(n, dtype=torch.long, device=dev)

    while True:
        act = (~done).nonzero().squeeze(1)
        m = act.numel()
        if m == 0:
            break
        full = m == n
        if full:
            z_a, c_a, x_a, u_a, tg, cl = z, c, x, u, target, clip_c
        else:
            z_a, c_a, x_a, u_a = z[act], c[act], x[act], u[act]
            tg, cl = target[act], clip_c[act]
        lam = lam_table[lam_idx[act]].view(m, 1, 1)
        beta = ((k[act] - 1) / (k[act] + 5)).view(m, 1)

        r = tg - u_a
        r.masked_fill_(cl & (u_a.abs() > tau), 0)
        z_a.add_(frame._analysis_fk(r))
        c_new = _shrink_fk(z_a, lam, shrinkage)
        # z <- c_new + beta (c_new - c)
        z_a = torch.sub(c_new, c_a).mul_(beta.view(m, 1, 1)).add_(c_new)
        x_new = frame._synthesis_fk(c_new)
        dx = x_new - x_a
        step = torch.linalg.vector_norm(dx, dim=1)
        u_new = dx.mul_(beta).add_(x_new)

        if full:
            z, c, x, u = z_a, c_new, x_new, u_new
        else:
            z[act], c[act], x[act], u[act] = z_a, c_new, x_new, u_new
        it[act] += 1
        finished = (step < tol) | (k[act] >= max_iter)
        lam_idx[act] += finished.long()
        k[act] = torch.where(finished, torch.ones_like(k[act]), k[act] + 1)
        done[act] = lam_idx[act] >= nl

    out = yd.clone()
    out[sel] = x
    iters[active0] = it.cpu()
    res = _from_torch(out, is_np, squeeze)
    return (res, {"iterations": iters.tolist()}) if return_info else res
