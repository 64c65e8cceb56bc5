"""Social sparsity (PAPER.md section 6): declipbench.sparsity.declip on each item, no training."""

import numpy as np
import torch

from declipbench.plugins import Context, Method
from declipbench.sparsity import declip, default_lambdas
from declipbench.training import pick_device


def _lambdas(spec):
    if spec is None:
        return default_lambdas()
    if isinstance(spec, dict):
        return default_lambdas(float(spec.get("start", -1)), float(spec.get("stop", -4)), int(spec.get("num", 20)))
    return [float(v) for v in spec]


class SocialSparsity(Method):
    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        if abs(ctx.tau_low + ctx.tau_high) > 1e-12 * abs(ctx.tau_high):
            raise ValueError(f"social sparsity needs symmetric thresholds, got ({ctx.tau_low}, {ctx.tau_high})")
        y = np.asarray(y, dtype=np.float32)
        return self._run(y, np.full(len(y), float(ctx.tau_high)), ctx)

    def reconstruct_per_threshold(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        return self._run(np.asarray(y, dtype=np.float32), np.asarray(taus, dtype=np.float64), ctx)

    def _run(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        p = ctx.params
        if ctx.threads:
            torch.set_num_threads(int(ctx.threads))
        if y.ndim == 1:
            y, taus = y[None], taus.reshape(1)
        # frame sizes: given in samples, or null = the survey's durations at the data's sample rate
        rate = int(p.get("sample_rate") or ctx.sample_rate or 22050)
        kw = dict(window=p.get("window"), hop=p.get("hop"), channels=p.get("channels"), sample_rate=rate,
                  lambdas=_lambdas(p.get("lambdas")), max_iter=int(p.get("max_iter", 500)),
                  tol=float(p.get("tol", 1e-4)), shrinkage=str(p.get("shrinkage", "pew")),
                  device=pick_device(ctx.device or "auto"), progress=bool(ctx.progress))
        batch = max(1, int(p.get("batch", 8)))
        out = np.empty_like(y)
        for s in range(0, y.shape[0], batch):
            out[s : s + batch] = declip(y[s : s + batch], taus[s : s + batch], **kw)
        return out.astype(np.float32)
