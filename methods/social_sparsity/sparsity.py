"""Social-sparsity declipping (Siedenburg et al. 2014, as run by the survey of Zaviska et al. 2021).

The declipping survey's algorithm (Zaviška et al. 2021). Synthesis model on a tight (Parseval) Gabor frame, FISTA-like iterations with
lambda continuation and (P)EW shrinkage.

Choices made here (the survey's text is silent on them):

* **Frame.** Periodic Hann window of length ``w``, hop ``a``, ``M >= w`` frequency channels (``M`` even).
  Frame ``n`` covers samples ``n*a - w/2 ... n*a + w/2 - 1`` (centred on ``n*a``), circularly on the
  signal zero-padded to ``L`` = the smallest multiple of ``lcm(a, M)`` that is ``>= max(T, w)`` (LTFAT's
  ``dgtlength``, what the survey's ``dgtreal`` does); the output is cropped back to ``T``, so the padded
  tail is unconstrained, as in the survey. The window is made canonical-tight in the painless case (``M >= w``):
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
* **Loop** (as the survey's ``main_Social_Sparsity_SQAM.m``). The coefficients start at zero (``z = c = 0``,
  so the first ``u`` is 0) and the reconstruction used by the first stopping test is ``y``; the momentum
  counter ``k`` restarts at 1 for every lambda (so the first step of every lambda has no momentum),
  ``z`` is warm-started across lambdas, and the stopping test of the first inner iteration of a lambda
  compares with the last ``x`` of the previous one.
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
        step = self.a * self.M // math.gcd(self.a, self.M)
        self.L = -(-max(self.T, self.w) // step) * step
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

    # internal layout (N, frames, channels): contiguous along channels for the FFT
    def _analysis_fk(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.L:
            x = F.pad(x, (0, self.L - x.shape[-1]))
        seg = x[:, self.idx] * self.g
        return torch.fft.rfft(seg, n=self.M, dim=-1)

    def _synthesis_fk(self, z: torch.Tensor) -> torch.Tensor:
        return self._overlap_add(torch.fft.irfft(z, n=self.M, dim=-1)[..., : self.w] * self.gs)

    def _overlap_add(self, seg: torch.Tensor) -> torch.Tensor:
        """Windowed frames (m, F, w) -> signal (m, T), by index (any window and hop)."""
        out = torch.zeros(seg.shape[0], self.L, dtype=seg.dtype, device=seg.device)
        out.index_add_(1, self.idx_flat, seg.reshape(seg.shape[0], -1))
        return out[:, : self.T]

    # fast framing for the batched path: strided frames into a zero-padded FFT buffer (no gather, no
    # internal padding copy), overlap-add by block rolls when the window is a whole number of hops
    def _analysis_into(self, x: torch.Tensor, buf: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """rfft of the windowed frames of ``x`` (m, T); ``buf`` (>= m, F, M) real, zero beyond column w;
        written into ``out`` (m, F, M/2+1) complex when given."""
        m, h = x.shape[0], self.w // 2
        xp = F.pad(x, (0, self.L - x.shape[-1])) if x.shape[-1] != self.L else x
        ext = torch.cat([xp[:, self.L - h:], xp, xp[:, : self.w - h]], dim=1)   # circular extension
        frames = ext.unfold(1, self.w, self.a)[:, : self.F]                      # (m, F, w) view
        b = buf[:m]
        torch.mul(frames, self.g, out=b[..., : self.w])
        if out is None:
            return torch.fft.rfft(b, dim=-1)
        return torch.fft.rfft(b, dim=-1, out=out)

    def _synthesis_fast(self, z: torch.Tensor, buf: torch.Tensor | None = None) -> torch.Tensor:
        m = z.shape[0]
        if buf is None:
            seg = torch.fft.irfft(z, n=self.M, dim=-1)[..., : self.w]
        else:
            seg = torch.fft.irfft(z, n=self.M, dim=-1, out=buf[:m])[..., : self.w]
        seg.mul_(self.gs)
        if self.w % self.a == 0 and (self.w // 2) % self.a == 0:
            R, h = self.w // self.a, (self.w // 2) // self.a
            blocks = seg.reshape(m, self.F, R, self.a)
            out = torch.roll(blocks[:, :, 0], shifts=-h, dims=1)
            for j in range(1, R):
                out += torch.roll(blocks[:, :, j], shifts=j - h, dims=1)
            return out.reshape(m, self.L)[:, : self.T]
        return self._overlap_add(seg)

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
# the oracle: a literal transcription of the survey's algorithm, one signal at a time

def declip_plain(y, tau: float, *, window: int | None = None, hop: int | None = None,
                 channels: int | None = None, sample_rate: int = SURVEY_RATE, lambdas=None,
                 max_iter: int = 500, tol: float = 1e-4, shrinkage: str = "pew", device="cpu"):
    """Readable reference implementation (slow). Same arguments and result as :func:`declip`."""
    yt, is_np, squeeze = _to_torch(y)
    window, hop, channels = _frame_args(window, hop, channels, sample_rate)
    lambdas = default_lambdas() if lambdas is None else list(lambdas)
    shrink = {"pew": shrink_pew, "ew": shrink_ew}[shrinkage]
    yt = yt.to(device)
    taus = _taus(tau, yt.shape[0], yt.dtype, device)
    out = yt.clone()
    frame = GaborFrame(yt.shape[1], window, hop, channels, dtype=yt.dtype, device=device)
    for i in range(yt.shape[0]):
        y_i = yt[i : i + 1]
        tau = taus[i]
        R = (y_i > -tau) & (y_i < tau)
        H = y_i >= tau
        Lo = y_i <= -tau
        if not bool((H | Lo).any()):
            continue  # nothing clipped: y comes back unchanged
        z = torch.zeros_like(frame.analysis(y_i))
        c = z.clone()
        x = y_i.clone()
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

def _taus(tau, n: int, dtype, device) -> torch.Tensor:
    """``tau`` (scalar or one per signal) as an (n, 1) tensor in the signals' dtype (so that a sample
    clipped at ``tau`` and then rounded to that dtype still compares equal to it)."""
    t = torch.as_tensor(np.asarray(tau, dtype=np.float64)).to(dtype=dtype, device=device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"tau: expected a scalar or one threshold per signal ({n}), got {t.numel()}")
    if not bool((t > 0).all()) or not bool(torch.isfinite(t).all()):
        raise ValueError(f"tau must be positive and finite, got {t.tolist()}")
    return t.reshape(n, 1).contiguous()


def _box_sum_fast(e: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of ``e`` (m, frames, freq) over the 3 (freq) x 7 (frames) centred box, symmetric mirror padding
    (edge repeated), without padded copies: shifted in-place adds plus the mirrored edge terms. The
    result overwrites ``e``; ``s`` is a scratch buffer of the same shape (allocated when None)."""
    m, nf, nk = e.shape
    if nf < 4 or nk < 2:
        e.copy_(_box_sum(_box_sum(e, 2, 3), 1, 7))
        return e
    s = torch.empty_like(e) if s is None else s
    s.copy_(e)
    s[:, :, 1:] += e[:, :, :-1]
    s[:, :, :-1] += e[:, :, 1:]
    s[:, :, :1] += e[:, :, :1]
    s[:, :, -1:] += e[:, :, -1:]
    out = e
    out.copy_(s)
    for d in (1, 2, 3):
        if d < nf:
            out[:, d:] += s[:, :-d]
            out[:, :-d] += s[:, d:]
    # mirrored terms: frame f - d < 0 reads frame d - f - 1, frame f + d > nf - 1 reads 2 nf - 1 - f - d
    for f in range(3):
        for d in range(f + 1, 4):
            j = min(d - f - 1, nf - 1)
            out[:, f] += s[:, j]
            out[:, nf - 1 - f] += s[:, nf - 1 - j]
    return out


#: CPU chunking: signals are processed in groups whose per-iteration temporaries stay below glibc's
#: largest dynamic mmap threshold (32 MiB); above it every large temporary is mmap'ed and page-faulted
#: afresh at every iteration (measured: 4 SQAM excerpts in one batch ran 1.4x slower per case than one
#: at a time on 2 CPU cores). On CUDA all signals form one batch (the caching allocator reuses memory).
CPU_CHUNK_BYTES = 24 * 2**20


def declip(y, tau, *, window: int | None = None, hop: int | None = None,
           channels: int | None = None, sample_rate: int = SURVEY_RATE, lambdas=None,
           max_iter: int = 500, tol: float = 1e-4, shrinkage: str = "pew", device="cpu",
           return_info: bool = False, progress: bool = False):
    """Social-sparsity declipping of ``y`` (N, T) or (T,), numpy or torch, float32/float64, with
    symmetric threshold ``tau`` (a scalar, or one per signal). Output: same shape, dtype and kind as ``y``.

    Frame sizes default to :func:`default_frame` at ``sample_rate``; ``lambdas`` to
    ``logspace(-1, -4, 20)``; ``max_iter`` inner iterations per lambda at most, an inner loop stops when
    ``||x_k - x_{k-1}||_2 < tol``. The result equals :func:`declip_plain` (same arithmetic up to rounding).

    How it is fast (BENCHMARKS.md, "Social sparsity"):

    * batched: every signal has its own lambda index, inner counter and momentum and stops on its own;
      a finished signal leaves the batch (one compaction), so no work is spent on it;
    * one analysis and one synthesis per iteration, by linearity: ``S(z_k) = x_k + b_k (x_k - x_{k-1})``
      (the survey's loop does two syntheses and two analyses);
    * strided framing into a preallocated, zero-padded FFT buffer; overlap-add by block rolls;
    * shrinkage and momentum in place on preallocated buffers: ``|z|^2`` as ``Re^2 + Im^2``, the 3 x 7
      box sum by shifted adds with the mirrored edge terms added explicitly, the PEW normalisation folded
      into ``lambda^2``, momentum as one ``lerp``.

    ``return_info``: also return a dict with the iterations run per signal; ``progress``: a tqdm bar
    over lambda stages.
    """
    yt, is_np, squeeze = _to_torch(y)
    window, hop, channels = _frame_args(window, hop, channels, sample_rate)
    lambdas = default_lambdas() if lambdas is None else list(lambdas)
    if shrinkage not in ("pew", "ew"):
        raise ValueError(f"unknown shrinkage {shrinkage!r}; use 'pew' or 'ew'")
    N, T = yt.shape
    dtype = yt.dtype
    taus = _taus(tau, N, dtype, yt.device)
    clipped = (yt >= taus) | (yt <= -taus)
    active0 = clipped.any(dim=1)
    iters = torch.zeros(N, dtype=torch.long)
    if not bool(active0.any()) or not lambdas:
        out = yt.clone()
        return (_from_torch(out, is_np, squeeze), {"iterations": iters.tolist()}) if return_info \
            else _from_torch(out, is_np, squeeze)

    dev = torch.device(device)
    yd = yt.to(dev)
    frame = GaborFrame(T, window, hop, channels, dtype=dtype, device=dev)
    orig = active0.nonzero().squeeze(1).tolist()           # signals that take part, in batch order
    lam2 = np.asarray(lambdas, dtype=np.float64) ** 2
    if shrinkage == "pew":
        lam2 = lam2 * 21.0                                   # box *mean*: lambda^2 / (sum / 21)
    if dev.type == "cpu":
        per_signal = frame.F * frame.M * torch.finfo(dtype).bits // 8
        chunk = max(1, CPU_CHUNK_BYTES // per_signal)
    else:
        chunk = len(orig)
    out = yd.clone()
    taus_d = taus.to(dev)
    clipped_d = clipped.to(dev)
    bar = _progress(progress, len(orig) * len(lambdas))
    for start in range(0, len(orig), chunk):
        part = orig[start : start + chunk]
        sel = torch.tensor(part, device=dev)
        x_part, it_part = _run(frame, yd[sel], taus_d[sel], clipped_d[sel], lam2, max_iter, tol, shrinkage, bar)
        out[sel] = x_part
        iters[part] = torch.as_tensor(it_part)
    if bar is not None:
        bar.close()
    res = _from_torch(out, is_np, squeeze)
    return (res, {"iterations": iters.tolist()}) if return_info else res


def _run(frame: GaborFrame, yc: torch.Tensor, tau_c: torch.Tensor, clip_c: torch.Tensor, lam2: np.ndarray,
         max_iter: int, tol: float, shrinkage: str, bar) -> tuple[torch.Tensor, np.ndarray]:
    """The batched loop on signals that all have clipping; returns their reconstructions and iterations."""
    n, dev, dtype = yc.shape[0], yc.device, yc.dtype
    nl = len(lam2)
    target = torch.where(clip_c, torch.sign(yc) * tau_c, yc)  # y on R, +tau on H, -tau on L
    buf = torch.zeros(n, frame.F, frame.M, dtype=dtype, device=dev)      # windowed frames, zero-padded
    seg = torch.empty(n, frame.F, frame.M, dtype=dtype, device=dev)      # synthesis frames
    spec = torch.empty(n, frame.F, frame.K, dtype=_complex_of(dtype), device=dev)
    e_buf = torch.empty(n, frame.F, frame.K, dtype=dtype, device=dev)
    s_buf = torch.empty_like(e_buf)
    z = torch.zeros(n, frame.F, frame.K, dtype=_complex_of(dtype), device=dev)
    c = torch.zeros_like(z)
    x = yc.clone()                     # the first stopping test compares with y (survey)
    u = torch.zeros_like(yc)           # S(z) = 0: coefficients start at zero (survey)
    lam_idx = np.zeros(n, dtype=np.int64)
    k = np.ones(n, dtype=np.int64)
    it = np.zeros(n, dtype=np.int64)
    idx = list(range(n))               # position in the current batch -> signal index in this call
    out = torch.empty_like(yc)
    out_it = np.zeros(n, dtype=np.int64)

    while idx:
        m = len(idx)
        lam2_t = torch.as_tensor(lam2[lam_idx], dtype=dtype, device=dev).view(m, 1, 1)
        beta = torch.as_tensor((k - 1) / (k + 5), dtype=dtype, device=dev)

        r = target - u
        r.masked_fill_(clip_c & (u.abs() > tau_c), 0)
        z.add_(frame._analysis_into(r, buf, spec[:m]))
        e = torch.square(z.real, out=e_buf[:m]).addcmul_(z.imag, z.imag)   # |z|^2
        if shrinkage == "pew":
            e = _box_sum_fast(e, s_buf[:m])
        # gain max(1 - lam^2/E, 0), 0 where E = 0 (1/0 = inf -> -inf -> 0)
        gain = e.reciprocal_().mul_(-lam2_t).add_(1).clamp_(min=0)
        c_new = z.mul_(gain)                                  # z's buffer now holds c_k
        # momentum z_{k+1} = c_k + b (c_k - c_{k-1}) = lerp(c_k, c_{k-1}, -b), into c_{k-1}'s buffer
        cr, cnr = torch.view_as_real(c), torch.view_as_real(c_new)
        torch.lerp(cnr, cr, (-beta).view(m, 1, 1, 1), out=cr)
        z, c = c, c_new
        x_new = frame._synthesis_fast(c, seg)
        dx = x_new - x
        step = torch.linalg.vector_norm(dx, dim=1)
        u = dx.mul_(beta.view(m, 1)).add_(x_new)             # S(z_{k+1}) by linearity
        x = x_new

        it += 1
        finished = (step < tol).cpu().numpy() | (k >= max_iter)
        lam_idx += finished
        k = np.where(finished, 1, k + 1)
        if bar is not None and finished.any():
            bar.update(int(finished.sum()))
        done = lam_idx >= nl
        if done.any():
            for j in np.flatnonzero(done):
                out[idx[j]] = x[j]
                out_it[idx[j]] = it[j]
            keep_np = ~done
            if keep_np.any():
                keep = torch.as_tensor(keep_np, device=dev)
                z, c, x, u = z[keep], c[keep], x[keep], u[keep]
                target, clip_c, tau_c = target[keep], clip_c[keep], tau_c[keep]
                m_new = int(keep_np.sum())
                buf, seg, spec, e_buf, s_buf = buf[:m_new], seg[:m_new], spec[:m_new], e_buf[:m_new], s_buf[:m_new]
            idx = [i for i, kp in zip(idx, keep_np) if kp]
            lam_idx, k, it = lam_idx[keep_np], k[keep_np], it[keep_np]
    return out, out_it


def _complex_of(dtype):
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="social sparsity (lambda stages)", unit="stage")
