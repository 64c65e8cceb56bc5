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
        p = ctx.params
        if ctx.threads:
            torch.set_num_threads(int(ctx.threads))
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[None]
        kw = dict(window=p.get("window"), hop=p.get("hop"), channels=p.get("channels"),
                  sample_rate=int(p.get("sample_rate", 22050)), lambdas=_lambdas(p.get("lambdas")),
                  max_iter=int(p.get("max_iter", 500)), tol=float(p.get("tol", 1e-4)),
                  shrinkage=str(p.get("shrinkage", "pew")), device=pick_device(ctx.device or "auto"))
        tau = float(ctx.tau_high)
        batch = max(1, int(p.get("batch", 8)))
        out = np.empty_like(y)
        for s in range(0, y.shape[0], batch):
            out[s : s + batch] = declip(y[s : s + batch], tau, **kw)
        return out.astype(np.float32)
