"""A-SPADE and S-SPADE declipping (Kitic et al. 2015; Zaviska et al. 2019), as run by the declipping survey.

Zaviska, Rajmic, Ozerov, Rencker, *A survey and an extensive evaluation of popular audio declipping
methods*, IEEE JSTSP 15(1), 2021. Every choice below is read from the survey's public toolbox,
``rajmic/declipping2020_codes`` at commit ``9b6c0e32c345e14fbda1a1b98b57c0c30507506c``, folder
``Methods/SPADE/`` (the settings of its SQAM experiment, ``main_spade_SQAM.m``); the code here is our
own, written from those facts.

Settings (``main_spade_SQAM.m``)
    window ``w = 8192`` samples at 44.1 kHz, hop ``a = w / 4``, LTFAT window ``'hann'``; a DFT frame
    with redundancy 2 (each windowed block zero-padded to ``2 w`` samples, the *unitary* DFT of LTFAT's
    ``dft``: ``fft / sqrt(2 w)``; synthesis: ``ifft * sqrt(2 w)`` cropped to the first ``w`` samples, a
    Parseval frame); sparsity ``k`` starts at ``s = 1`` and grows by ``s`` every ``r = 2`` iterations;
    stop when the termination function is ``<= epsilon = 0.1``; at most
    ``maxit = ceil(floor(w * redundancy / 2 + 1) * r / s)`` iterations (16,386). The file's loop runs
    ``algorithms{1}`` (``aspade``); S-SPADE is the same experiment with ``algorithm = 'sspade_new'``
    (the published S-SPADE rows; ``main_spade.m`` names the two options).

Blocks (``spade_segmentation.m``)
    * The clipped signal is zero-padded to ``L = ceil(Ls / a) a + (ceil(w / a) - 1) a`` samples; the
      padded samples are *reliable* (value 0). Block ``n = 0 .. L/a - 1`` covers samples
      ``n a - floor(w/2) .. n a + ceil(w/2) - 1``, circularly modulo ``L`` (only padding wraps).
    * Analysis window: LTFAT's ``firwin('hann', w)`` (``0.5 + 0.5 cos(2 pi j / w)`` at offset ``j``
      from the block centre, 0 at ``|j| = w/2``: the periodic Hann window), peak-normalised. Every
      block is multiplied by it, and so are the threshold and the reliable samples SPADE sees: the
      constraint set of a block is that of the *windowed* clipped block.
    * Synthesis window: ``gabdual(g, a, w) * w``, the canonical dual in the painless case, i.e.
      ``g / sum_m g(. - m a)^2`` (``g / 1.5`` for Hann at 75 % overlap); blocks are overlap-added,
      so an untouched block gives back its samples exactly. The padding is cropped.
    * The clipping masks are those of ``hard_clip.m`` (``Mh = x > theta``, ``Ml = x < -theta``); a
      method sees only ``y`` and ``theta``, so a sample is clipped when ``|y| >= theta`` (the same set
      unless a clean sample equals ``theta`` exactly: clipped samples equal ``+-theta``).
    * Every block goes through SPADE in the toolbox. A block without a clipped sample has the single
      feasible point ``y`` (every sample reliable), which is then also what SPADE returns, so such
      blocks are skipped here: their output is identical.

The algorithms (``aspade.m``, ``sspade_new.m``, ``hard_thresholding.m``, ``proj_time.m``)
    * ``H_k`` keeps the ``k`` largest DFT coefficients *with their complex conjugates*: it ranks the
      ``floor(n/2) + 1`` coefficients of the half spectrum (DC included, its magnitude *halved* for the
      ranking; the Nyquist bin is not halved) by magnitude, keeps ``k`` (all of them when
      ``k >= floor(n/2) + 1``), and mirrors them. MATLAB's ``sort(..., 'descend')`` is stable: ties go
      to the lower frequency (:func:`hard_threshold`). The fast path keeps every coefficient whose
      magnitude is ``>=`` the k-th largest, which differs only when two magnitudes are exactly equal.
    * ``proj_time``: reliable samples set to ``y``, clipped-high samples to ``max(x, y)``, clipped-low to
      ``min(x, y)``.
    * A-SPADE (analysis, ADMM): ``x = y``, ``z = A x``, ``u = 0``, ``k = s``; per iteration
      ``zb = H_k(z + u)``; ``obj = ||z - zb||``; ``x = proj(D(zb - u))``; ``z = A x``;
      ``u = u + z - zb``.
    * S-SPADE (the "new", proper synthesis version of Zaviska et al. 2019, ``sspade_new.m``): ``x = y``,
      ``u = 0`` (time domain); per iteration ``zb = H_k(A(x - u))``; ``obj = ||D zb - x||``;
      ``x = proj(D zb + u)``; ``u = u + D zb - x``.
    * Both: the iteration counter starts at 1, is incremented after the update, and ``k`` grows by
      ``s`` whenever the new counter is a multiple of ``r``. The loop stops when ``obj <= epsilon``
      (before the update) or after ``maxit`` iterations. The block's result is the ``x`` with the
      smallest ``obj`` so far (``obj <= bestObj`` replaces it, so a later equal value wins), which is
      the ``x`` of the last iteration when it stopped on ``epsilon``.

Our choices where the toolbox is silent
    * Other sample rates: the window is the power of two nearest to ``8192 * rate / 44100`` (4096 at
      22,050 Hz), as for social sparsity in this suite; hop ``w / 4``. ``window``/``hop`` override.
    * Arithmetic is float64 (as MATLAB) whatever the input dtype; the output has the input's dtype.
      ``epsilon`` is absolute, so the signal scale matters: SQAM is read like ``audioread`` (16-bit / 32768).
    * The clipped samples of the input are set to exactly ``+-tau`` (float64) before anything else: the
      suite stores measurements in float32, and SPADE's result moves with the clipping level (next item).
    * Sensitivity: A-SPADE and S-SPADE are non-convex (hard thresholding), and their result follows the
      threshold closely: on a25_harp at 1 dB input SDR, solving for the threshold to 1e-6 of the peak
      instead of to machine precision (MATLAB's ``fzero`` in ``clip_sdr.m``) moves the Delta-SDR by
      +0.118 dB (A-SPADE) and -0.012 dB (S-SPADE); at machine precision both equal the published values
      to the 4 decimals printed (BENCHMARKS.md, "SPADE").
    * The ranking uses ``|c|^2`` (same order as ``|c|``); ``H_k`` keeps ties at the k-th magnitude (see
      above); the update of A-SPADE's dual is computed as ``z - (zb - u)`` (:meth:`_Batch.step`). These
      change rounding only.

:func:`declip_plain` is a plain transcription, one block at a time (numpy), kept as the test oracle;
:func:`declip` is the fast path (torch): every block of every signal is queued, a fixed number of
blocks is iterated together as one tensor, each with its own iteration counter, sparsity and stopping
test; finished blocks leave the batch and queued ones take their place; on the CPU, worker threads
each iterate their own batch (CUDA: one large batch).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch

__all__ = ["ALGORITHMS", "SURVEY_RATE", "SURVEY_WINDOW", "default_window", "default_max_iter",
           "analysis_window", "synthesis_window", "Segmentation", "hard_threshold", "aspade_block",
           "sspade_block", "declip_plain", "declip"]

ALGORITHMS = ("aspade", "sspade")
SURVEY_RATE = 44100
SURVEY_WINDOW = 8192


def default_window(sample_rate: int = SURVEY_RATE) -> int:
    """The survey's 8192 samples at 44.1 kHz scaled to ``sample_rate``: the nearest power of two."""
    return max(16, 2 ** int(round(math.log2(SURVEY_WINDOW * sample_rate / SURVEY_RATE))))


def default_max_iter(window: int, redundancy: int, s: int, r: int) -> int:
    """``ceil(floor(w * redundancy / 2 + 1) * r / s)``, the survey's ``paramsolver.maxit``: enough for
    ``k`` to reach the whole half spectrum."""
    return int(math.ceil(math.floor(window * redundancy / 2 + 1) * r / s))


def _offsets(w: int) -> np.ndarray:
    """Offsets from the block centre of the samples of a block, in time order."""
    return np.arange(-(w // 2), w - w // 2)


def analysis_window(w: int) -> np.ndarray:
    """LTFAT's peak-normalised ``'hann'`` of length ``w`` in time order (peak at index ``w // 2``)."""
    x = _offsets(w) / w
    return np.where(np.abs(x) < 0.5, 0.5 + 0.5 * np.cos(2 * np.pi * x), 0.0)


def synthesis_window(g: np.ndarray, a: int) -> np.ndarray:
    """The overlap-add window ``gabdual(g, a, w) * w`` (painless case): ``g / sum_m g(. - m a)^2``."""
    w = len(g)
    phase = _offsets(w) % a
    energy = np.zeros(a)
    np.add.at(energy, phase, g ** 2)
    if not np.all(energy > 0):
        raise ValueError(f"window {w} with hop {a} does not cover every sample (not a frame)")
    return g / energy[phase]


class Segmentation:
    """Blocks of a signal of ``length`` samples (``spade_segmentation.m``): the padded length ``L``,
    the block count, the sample index of every block (``idx``: blocks x w, time order) and the windows."""

    def __init__(self, length: int, window: int, hop: int):
        if not (0 < hop <= window):
            raise ValueError(f"need 0 < hop <= window, got hop {hop}, window {window}")
        self.T, self.w, self.a = int(length), int(window), int(hop)
        self.L = -(-self.T // self.a) * self.a + (-(-self.w // self.a) - 1) * self.a
        self.blocks = self.L // self.a
        self.idx = (np.arange(self.blocks)[:, None] * self.a + _offsets(self.w)[None, :]) % self.L
        self.g = analysis_window(self.w)
        self.gs = synthesis_window(self.g, self.a)


# ------------------------------------------------------------------------------ the plain oracle
def hard_threshold(c: np.ndarray, k: int) -> np.ndarray:
    """``hard_thresholding.m`` on the half spectrum ``c`` (``floor(n/2) + 1`` bins of a real signal's
    DFT): the ``k`` largest by magnitude, the DC magnitude halved for the ranking, ties to the lower bin."""
    if k >= len(c):
        return c.copy()
    mag = np.abs(c)
    mag[0] = mag[0] / 2
    keep = np.argsort(-mag, kind="stable")[:k]
    out = np.zeros_like(c)
    out[keep] = c[keep]
    return out


def _proj(x, y, high, low):
    """``proj_time.m``."""
    p = x.copy()
    rel = ~(high | low)
    p[rel] = y[rel]
    p[high] = np.maximum(x[high], y[high])
    p[low] = np.minimum(x[low], y[low])
    return p


def _frame(w: int, n: int):
    """The DFT frame of redundancy ``n / w``: analysis ``A`` (zero-pad to ``n``, unitary DFT, half
    spectrum), synthesis ``D = A*`` (unitary inverse DFT of the Hermitian spectrum, first ``w`` samples),
    and the norm of a half spectrum as the norm of the full one."""
    wts = np.full(n // 2 + 1, 2.0)
    wts[0] = 1.0
    if n % 2 == 0:
        wts[-1] = 1.0

    def ana(x):
        return np.fft.rfft(x, n, norm="ortho")

    def syn(c):
        return np.fft.irfft(c, n, norm="ortho")[:w]

    def norm(c):
        return float(np.sqrt(np.sum(wts * (c.real ** 2 + c.imag ** 2))))

    return ana, syn, norm


def aspade_block(y, high, low, *, redundancy=2, s=1, r=2, epsilon=0.1, max_iter=None):
    """``aspade.m`` on one windowed block ``y`` with its clipped masks; returns (x, iterations)."""
    w = len(y)
    ana, syn, norm = _frame(w, w * redundancy)
    max_iter = default_max_iter(w, redundancy, s, r) if max_iter is None else int(max_iter)
    x = y.copy()
    z = ana(x)
    u = np.zeros_like(z)
    k, cnt, best, rec = s, 1, np.inf, x
    while cnt <= max_iter:
        zb = hard_threshold(z + u, k)
        obj = norm(z - zb)
        if obj <= best:
            rec, best = x, obj
        if obj <= epsilon:
            break
        x = _proj(syn(zb - u), y, high, low)
        z = ana(x)
        u = u + z - zb
        cnt += 1
        if cnt % r == 0:
            k += s
    return rec, min(cnt, max_iter)


def sspade_block(y, high, low, *, redundancy=2, s=1, r=2, epsilon=0.1, max_iter=None):
    """``sspade_new.m`` on one windowed block ``y`` with its clipped masks; returns (x, iterations)."""
    w = len(y)
    ana, syn, _ = _frame(w, w * redundancy)
    max_iter = default_max_iter(w, redundancy, s, r) if max_iter is None else int(max_iter)
    x = y.copy()
    u = np.zeros_like(x)
    k, cnt, best, rec = s, 1, np.inf, x
    while cnt <= max_iter:
        zb = hard_threshold(ana(x - u), k)
        dz = syn(zb)
        obj = float(np.linalg.norm(dz - x))
        if obj <= best:
            rec, best = x, obj
        if obj <= epsilon:
            break
        x = _proj(dz + u, y, high, low)
        u = u + dz - x
        cnt += 1
        if cnt % r == 0:
            k += s
    return rec, min(cnt, max_iter)


def _settings(algorithm, window, hop, redundancy, s, r, epsilon, max_iter, sample_rate):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {ALGORITHMS}")
    w = default_window(sample_rate) if window is None else int(window)
    a = w // 4 if hop is None else int(hop)
    redundancy, s, r = int(redundancy), int(s), int(r)
    if w < 2 or a < 1 or redundancy < 1 or s < 1 or r < 1 or not epsilon >= 0:
        raise ValueError(f"bad SPADE settings: window {w}, hop {a}, redundancy {redundancy}, s {s}, r {r}, "
                         f"epsilon {epsilon}")
    mi = default_max_iter(w, redundancy, s, r) if max_iter is None else int(max_iter)
    if mi < 1:
        raise ValueError(f"max_iter must be >= 1, got {mi}")
    return w, a, redundancy, s, r, float(epsilon), mi


def _as_2d(y):
    y = np.asarray(y)
    if y.dtype not in (np.float32, np.float64):
        raise TypeError(f"expected float32 or float64 input, got {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"expected (N, T) or (T,), got shape {y.shape}")
    return (y[None] if y.ndim == 1 else y), y.ndim == 1


def declip_plain(y, tau, *, algorithm: str = "aspade", window: int | None = None, hop: int | None = None,
                 redundancy: int = 2, s: int = 1, r: int = 2, epsilon: float = 0.1,
                 max_iter: int | None = None, sample_rate: int = SURVEY_RATE, return_info: bool = False):
    """Plain transcription of ``spade_segmentation.m`` + ``aspade.m`` / ``sspade_new.m``, one block at a
    time (slow; the oracle of :func:`declip`, same arguments and result)."""
    y2, squeeze = _as_2d(y)
    w, a, red, s, r, eps, mi = _settings(algorithm, window, hop, redundancy, s, r, epsilon, max_iter, sample_rate)
    block_fn = aspade_block if algorithm == "aspade" else sspade_block
    values, code = _measurements(y2, tau)
    seg = Segmentation(y2.shape[1], w, a)
    out = np.empty(y2.shape, dtype=np.float64)
    iters = []
    for i in range(y2.shape[0]):
        yp = np.zeros(seg.L)
        yp[: seg.T] = values[i]
        high = np.zeros(seg.L, dtype=bool)
        low = np.zeros(seg.L, dtype=bool)
        high[: seg.T] = code[i] > 0
        low[: seg.T] = code[i] < 0
        rec_sig = np.zeros(seg.L)
        for n in range(seg.blocks):
            idx = seg.idx[n]
            block = yp[idx] * seg.g
            if high[idx].any() or low[idx].any():
                rec, it = block_fn(block, high[idx], low[idx], redundancy=red, s=s, r=r, epsilon=eps, max_iter=mi)
                iters.append(it)
            else:
                rec = block          # a block without clipping: its only feasible point
            np.add.at(rec_sig, idx, rec * seg.gs)
        out[i] = rec_sig[: seg.T]
    res = out.astype(y2.dtype)
    res = res[0] if squeeze else res
    return (res, {"iterations": iters}) if return_info else res


# ------------------------------------------------------------------------------ the fast path
#: On the CPU, blocks iterated together: enough rows to use both threads of the FFTs and to amortise the
#: per-iteration Python overhead, few enough that a block's buffers stay small (BENCHMARKS.md, "SPADE").
CPU_BATCH = 16
#: On CUDA, blocks iterated together at most (about 1 MB of state per block of 8192 samples).
CUDA_BATCH = 4096


class _Queue:
    """The blocks to process: (signal, block) pairs with a clipped sample, signal-major."""

    def __init__(self, values: np.ndarray, code: np.ndarray, seg: Segmentation):
        self.seg = seg
        n = values.shape[0]
        self.ypad = np.zeros((n, seg.L))
        self.ypad[:, : seg.T] = values
        self.code = np.zeros((n, seg.L), dtype=np.int8)    # +1 clipped high, -1 clipped low, 0 reliable
        self.code[:, : seg.T] = code
        has = np.stack([(self.code[i, seg.idx] != 0).any(axis=1) for i in range(n)]) if n else np.zeros((0, 0), bool)
        self.pairs = np.argwhere(has)                       # rows (signal, block)
        self.next = 0

    def __len__(self):
        return len(self.pairs) - self.next

    def take(self, count: int):
        """The next ``count`` blocks: their ids, windowed values and clip codes (numpy)."""
        sel = self.pairs[self.next : self.next + count]
        ids = np.arange(self.next, self.next + len(sel))
        self.next += len(sel)
        idx = self.seg.idx[sel[:, 1]]
        return ids, self.ypad[sel[:, 0][:, None], idx] * self.seg.g, self.code[sel[:, 0][:, None], idx]


class _Batch:
    """The blocks iterated together (rows), with per-row iteration counter ``cnt``, sparsity ``k``, best
    termination value ``best`` and the ``x`` that had it (``rec``). A-SPADE keeps ``z = A x`` and its
    dual ``u`` in coefficients, S-SPADE its dual ``u`` in time. ``pad`` is the FFT input, zero beyond
    sample ``w``: A-SPADE's ``x`` lives there, S-SPADE writes ``x - u`` into it."""

    def __init__(self, algorithm, w, n, s, r, epsilon, max_iter, device):
        self.alg, self.w, self.n, self.K = algorithm, w, n, n // 2 + 1
        self.s, self.r, self.eps, self.max_iter = s, r, epsilon, max_iter
        self.dev = device
        self.cpu = device.type == "cpu"
        self.ids = np.zeros(0, dtype=np.int64)
        self.cnt = np.zeros(0, dtype=np.int64)
        self.k = np.zeros(0, dtype=np.int64)
        self._rows = {}          # per-row tensors, by name
        self._scratch = {}       # per-iteration temporaries, reused while the batch keeps its size
        # ||c||^2 of a full spectrum from its half: every bin counts twice but DC (and Nyquist, n even)
        self.edges = [0] + ([self.K - 1] if n % 2 == 0 else [])

    def __len__(self):
        return len(self.ids)

    def __getattr__(self, name):
        try:
            return self.__dict__["_rows"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    # The DFT frame: unitary ("ortho") DFT of the block zero-padded to n samples (LTFAT's dft), half
    # spectrum; synthesis: unitary inverse DFT of the Hermitian spectrum, first w samples. scipy's
    # pocketfft on the CPU, torch.fft on CUDA.
    def ana_padded(self, xpad: torch.Tensor) -> torch.Tensor:
        if self.cpu:
            return torch.from_numpy(scipy.fft.rfft(xpad.numpy(), axis=1, norm="ortho", workers=1))
        return torch.fft.rfft(xpad, norm="ortho")

    def syn(self, c: torch.Tensor) -> torch.Tensor:
        if self.cpu:
            return torch.from_numpy(scipy.fft.irfft(c.numpy(), self.n, axis=1, norm="ortho", workers=1))[:, : self.w]
        return torch.fft.irfft(c, n=self.n, norm="ortho")[:, : self.w]

    def admit(self, ids, vals, code):
        t = torch.as_tensor(vals, dtype=torch.float64).to(self.dev)
        cl = torch.as_tensor(code).to(self.dev)
        m = len(ids)
        pad = torch.zeros(m, self.n, dtype=torch.float64, device=self.dev)
        new = {"y": t,
               "lo": torch.where(cl < 0, -math.inf, t),   # proj_time = clamp(x, lo, hi): lo = hi = y where
               "hi": torch.where(cl > 0, math.inf, t),    # reliable, [y, inf) clipped high, (-inf, y] low
               "pad": pad, "rec": t.clone(),
               "best": torch.full((m,), math.inf, dtype=torch.float64, device=self.dev)}
        if self.alg == "aspade":
            pad[:, : self.w] = t                      # x lives in the FFT input
            new["z"] = self.ana_padded(pad)
            new["u"] = torch.zeros(m, self.K, dtype=torch.complex128, device=self.dev)
        else:
            new["x"] = t.clone()
            new["u"] = torch.zeros(m, self.w, dtype=torch.float64, device=self.dev)
        self._rows = {k: torch.cat([self._rows[k], v]) if k in self._rows else v for k, v in new.items()}
        self.ids = np.concatenate([self.ids, ids])
        self.cnt = np.concatenate([self.cnt, np.ones(m, dtype=np.int64)])
        self.k = np.concatenate([self.k, np.full(m, self.s, dtype=np.int64)])

    def keep(self, rows: np.ndarray):
        sel = torch.as_tensor(rows, device=self.dev)
        self._rows = {k: v[sel] for k, v in self._rows.items()}
        self.ids, self.cnt, self.k = self.ids[rows], self.cnt[rows], self.k[rows]

    def scratch(self, name: str, shape: tuple, dtype) -> torch.Tensor:
        t = self._scratch.get(name)
        if t is None or t.shape != shape:
            t = self._scratch[name] = torch.empty(shape, dtype=dtype, device=self.dev)
        return t

    @property
    def x(self) -> torch.Tensor:
        return self._rows["x"] if "x" in self._rows else self._rows["pad"][:, : self.w]

    def threshold_(self, v: torch.Tensor) -> torch.Tensor:
        """``H_k`` in place, row by row (each row its own ``k``): zero the bins whose magnitude (DC halved)
        is below the row's k-th largest."""
        vr = torch.view_as_real(v)
        sq = torch.mul(vr, vr, out=self.scratch("sq", vr.shape, torch.float64))
        m2 = torch.add(sq[..., 0], sq[..., 1], out=self.scratch("m2", v.shape, torch.float64))   # ranks as |v|
        m2[:, 0] *= 0.25
        thr = torch.full((len(self), 1), -math.inf, dtype=torch.float64, device=self.dev)
        for kv in np.unique(self.k):                          # rows differ in k after an admission
            if kv >= self.K:
                continue                                      # every bin kept (hard_thresholding.m warns)
            whole = bool((self.k == kv).all())
            rows = None if whole else np.flatnonzero(self.k == kv)
            if self.cpu:                                      # the k-th largest: ascending position K - k
                a = m2.numpy() if whole else m2.numpy()[rows]
                val = torch.from_numpy(np.partition(a, self.K - kv, axis=1)[:, self.K - kv : self.K - kv + 1])
            else:
                a = m2 if whole else m2[torch.as_tensor(rows, device=self.dev)]
                val = torch.kthvalue(a, int(self.K - kv + 1), dim=1, keepdim=True).values
            if whole:
                thr = val.to(self.dev)
            else:
                thr[torch.as_tensor(rows, device=self.dev)] = val.to(self.dev)
        return v.masked_fill_(torch.lt(m2, thr, out=self.scratch("drop", m2.shape, torch.bool)), 0)

    def full_norm_(self, c: torch.Tensor) -> torch.Tensor:
        """The norm of the full spectrum whose half is ``c`` (one per row): ``2 ||c||^2`` less the bins
        that have no mirror (DC, and Nyquist when n is even)."""
        vr = torch.view_as_real(c)
        sq = torch.linalg.vector_norm(vr.reshape(len(c), -1), dim=1).square_().mul_(2)
        sq -= vr[:, self.edges].square().sum(dim=(1, 2))
        return sq.clamp_(min=0).sqrt_()

    def record(self, obj: torch.Tensor) -> np.ndarray:
        """Keep ``x`` where ``obj <= best``; the rows that stop (``obj <= epsilon`` or the last iteration)."""
        better = obj <= self.best
        if bool(better.all()):
            self.rec.copy_(self.x)
        elif bool(better.any()):
            self._rows["rec"] = torch.where(better[:, None], self.x, self.rec)
        self._rows["best"] = torch.where(better, obj, self.best)
        return (obj <= self.eps).cpu().numpy() | (self.cnt >= self.max_iter)

    def step(self) -> np.ndarray:
        """One iteration of every row; returns the rows that finished (numpy bool): their result is ``rec``.

        A-SPADE, with ``zb = H_k(z + u)`` and ``b = zb - u``: ``x = proj(D b)``, ``z = A x``, then
        ``u + z - zb = z - b`` (one pass fewer; the same up to rounding). S-SPADE: ``x = proj(D zb + u)``
        and ``u + D zb - x`` is ``(D zb + u) - x``, computed as such."""
        R = self._rows
        if self.alg == "aspade":
            z, u = R["z"], R["u"]
            zb = self.threshold_(torch.add(z, u, out=self.scratch("p", z.shape, z.dtype)))   # H_k(z + u)
            obj = self.full_norm_(z.sub_(zb))                 # ||z - zb|| (z is rewritten below)
            done = self.record(obj)
            b = torch.sub(zb, u, out=u)                       # u now holds b = zb - u
            torch.clamp(self.syn(b), R["lo"], R["hi"], out=R["pad"][:, : self.w])   # x = proj(D b)
            R["z"] = z = self.ana_padded(R["pad"])           # z = A x
            torch.sub(z, b, out=u)                            # u = z - b
        else:
            u, x = R["u"], R["x"]
            torch.sub(x, u, out=R["pad"][:, : self.w])
            zb = self.threshold_(self.ana_padded(R["pad"]))   # H_k(A(x - u))
            dz = self.syn(zb)                                 # D zb
            obj = torch.linalg.vector_norm(dz - x, dim=1)     # ||D zb - x||
            done = self.record(obj)
            t = dz.add(u)                                     # D zb + u
            torch.clamp(t, R["lo"], R["hi"], out=x)           # x = proj(D zb + u)
            torch.sub(t, x, out=u)                            # u = (D zb + u) - x
        self.cnt = self.cnt + 1
        self.k = self.k + self.s * (self.cnt % self.r == 0)
        return done


def _measurements(y2: np.ndarray, tau):
    """float64 signals with the clipped samples at exactly ``+-tau`` and the clip codes (+1, -1, 0).

    A sample is clipped when ``|y| >= tau``, compared in the input's dtype (a sample clipped at ``tau``
    and rounded to float32 compares equal to ``tau`` rounded alike); its value is then ``+-tau`` in
    float64 (the clipped signal of ``clip_sdr.m``), so float32 input loses nothing of the threshold.
    """
    t = np.asarray(tau, dtype=np.float64).reshape(-1)
    n = y2.shape[0]
    if t.size == 1:
        t = np.repeat(t, n)
    if t.size != n:
        raise ValueError(f"tau: expected a scalar or one threshold per signal ({n}), got {t.size}")
    if not np.all(np.isfinite(t)) or not np.all(t > 0):
        raise ValueError(f"tau must be positive and finite, got {t.tolist()}")
    tc = t.astype(y2.dtype)[:, None]
    code = (y2 >= tc).astype(np.int8) - (y2 <= -tc).astype(np.int8)
    values = np.where(code != 0, code * t[:, None], y2.astype(np.float64))
    return values, code


def declip(y, tau, *, algorithm: str = "aspade", window: int | None = None, hop: int | None = None,
           redundancy: int = 2, s: int = 1, r: int = 2, epsilon: float = 0.1, max_iter: int | None = None,
           sample_rate: int = SURVEY_RATE, device="cpu", batch: int | None = None, threads: int | None = None,
           return_info: bool = False, progress: bool = False):
    """SPADE declipping of ``y`` (N, T) or (T,), float32/float64 numpy, clipped at the symmetric
    threshold ``tau`` (a scalar, or one per signal). Output: same shape and dtype.

    ``algorithm``: ``aspade`` or ``sspade`` (``sspade_new.m``); the rest as the survey (module
    docstring), ``window`` defaulting to :func:`default_window` at ``sample_rate`` and ``max_iter`` to
    :func:`default_max_iter`. Equal to :func:`declip_plain` up to rounding; a signal without a clipped
    sample is returned unchanged.

    How it is fast: every block with a clipped sample, of every signal, is queued; ``batch`` blocks
    (CPU: :data:`CPU_BATCH`; CUDA: :data:`CUDA_BATCH`) are iterated together as one tensor, each with
    its own counter, sparsity ``k``, best value and stopping test; a finished block leaves the batch
    and queued blocks are admitted as soon as a quarter of the batch is free. On the CPU, ``threads``
    (default: torch's thread count) worker threads each iterate their own batch from the shared queue,
    with one intra-op thread each (the heavy calls release the GIL; OpenMP threads spin-wait on a busy
    machine, BENCHMARKS.md); the FFTs are scipy's pocketfft. A block's result does not depend on the
    blocks beside it, and a signal's blocks are overlap-added in block order once all are done, so the
    output does not depend on ``batch``, ``threads`` or timing.

    ``return_info``: also return ``{"iterations": [...]}`` (per processed block, signal-major);
    ``progress``: a tqdm bar over blocks.
    """
    y2, squeeze = _as_2d(y)
    w, a, red, s, r, eps, mi = _settings(algorithm, window, hop, redundancy, s, r, epsilon, max_iter, sample_rate)
    values, code = _measurements(y2, tau)
    seg = Segmentation(y2.shape[1], w, a)
    queue = _Queue(values, code, seg)
    dev = torch.device(device)
    iters = np.zeros(len(queue.pairs), dtype=np.int64)
    delta = np.zeros((y2.shape[0], seg.L))          # sum over processed blocks of (x - y_block) * gs
    if len(queue):
        cap = int(batch) if batch else (CPU_BATCH if dev.type == "cpu" else CUDA_BATCH)
        n_workers = 1 if dev.type != "cpu" else max(1, int(threads or torch.get_num_threads()))
        n_workers = min(n_workers, -(-len(queue) // cap))     # no idle worker
        run = _Run(queue, delta, iters, seg, _progress(progress, len(queue), algorithm))
        make = lambda: _Batch(algorithm, w, w * red, s, r, eps, mi, dev)  # noqa: E731
        before = torch.get_num_threads()
        if dev.type == "cpu":
            torch.set_num_threads(1)      # parallel over workers, not inside each operation
        try:
            if n_workers == 1:
                run.work(make(), cap)
            else:
                import threading

                pool = [threading.Thread(target=run.work, args=(make(), cap), daemon=True) for _ in range(n_workers)]
                for t in pool:
                    t.start()
                for t in pool:
                    t.join()
        finally:
            torch.set_num_threads(before)
        run.close()
    out = values + delta[:, : seg.T]
    res = out.astype(y2.dtype)
    res = res[0] if squeeze else res
    return (res, {"iterations": iters.tolist()}) if return_info else res


class _Run:
    """What the workers share: the queue, the finished blocks waiting for the rest of their signal, the
    output, a lock. A signal is overlap-added (in block order) when its last block finishes."""

    def __init__(self, queue: _Queue, delta: np.ndarray, iters: np.ndarray, seg: Segmentation, bar):
        import threading

        self.queue, self.delta, self.iters, self.seg, self.bar = queue, delta, iters, seg, bar
        self.lock = threading.Lock()
        self.left = np.bincount(queue.pairs[:, 0], minlength=delta.shape[0])   # blocks to finish per signal
        self.finished: dict[int, np.ndarray] = {}
        self.error: BaseException | None = None

    def work(self, state: _Batch, cap: int) -> None:
        try:
            while True:
                with self.lock:
                    if self.error is not None:
                        return
                    free = cap - len(state)
                    if len(self.queue) and (free >= max(1, cap // 4) or not len(state)):
                        block = self.queue.take(free)
                    else:
                        block = None
                if block is not None:
                    state.admit(*block)
                if not len(state):
                    return
                done = state.step()
                if done.any():
                    rows = np.flatnonzero(done)
                    ids = state.ids[rows]
                    sel = torch.as_tensor(rows, device=state.dev)
                    contrib = ((state.rec[sel] - state.y[sel]) * torch.as_tensor(self.seg.gs, device=state.dev)).cpu().numpy()
                    its = state.cnt[rows] - 1
                    state.keep(np.flatnonzero(~done))
                    with self.lock:
                        self._finish(ids, contrib, its)
        except BaseException as exc:  # re-raised by close() in the calling thread
            with self.lock:
                self.error = exc

    def _finish(self, ids, contrib, its) -> None:
        self.iters[ids] = its
        for i, c in zip(ids, contrib):
            self.finished[int(i)] = c
        if self.bar is not None:
            self.bar.update(len(ids))
        for sig in np.unique(self.queue.pairs[ids, 0]):
            self.left[sig] -= int(np.sum(self.queue.pairs[ids, 0] == sig))
            if self.left[sig] == 0:
                mine = np.flatnonzero(self.queue.pairs[:, 0] == sig)
                row = self.delta[sig]
                for i in mine:              # in block order: a fixed summation order (a block's samples are distinct)
                    row[self.seg.idx[self.queue.pairs[i, 1]]] += self.finished.pop(int(i))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.error is not None:
            raise self.error
        if self.finished or np.any(self.left):
            raise RuntimeError("SPADE: some blocks were not processed")


def _progress(enabled: bool, total: int, algorithm: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=f"{'A-SPADE' if algorithm == 'aspade' else 'S-SPADE'} (blocks)", unit="block")
