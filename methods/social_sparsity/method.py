"""Social sparsity (Siedenburg et al. 2014, as run by the declipping survey of Zaviška et al. 2021): :func:`.sparsity.declip` on each item, no training.

Everything private to the method is in this folder: the tight Gabor frame, the (P)EW shrinkage, the
survey's loop and its plain transcription (the test oracle) are in :mod:`.sparsity`.
"""

import numpy as np

from declipbench import Context, Param, SymmetricClippingMethod
from declipbench.training.device import pick_device, set_threads


class SocialSparsity(SymmetricClippingMethod):
    parameters = {
        "shrinkage": Param("pew", choices=("pew", "ew"), help="persistent (PEW, 3 x 7 neighbourhood) or plain (EW)"),
        "window": Param(None, int, min=1, help="window length in samples (null: the survey's duration at the data's rate)"),
        "hop": Param(None, int, min=1, help="hop in samples (null: window / 4)"),
        "channels": Param(None, int, min=1, help="frequency channels (null: 2 x window)"),
        "sample_rate": Param(None, int, min=1, help="rate the default frame is scaled to (null: the data's)"),
        "lambdas": {"start": Param(-1.0, help="lambda continuation: logspace(start, stop, num)"),
                    "stop": Param(-4.0), "num": Param(20, int, min=1)},
        "max_iter": Param(500, int, min=1, help="inner iterations per lambda at most"),
        "tol": Param(1e-4, float, above=0, help="an inner loop stops when ||x_k - x_(k-1)||_2 < tol"),
        "batch": Param(16, int, min=1, help="signals processed together (memory grows with it)"),
    }

    def declip_items(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        from .sparsity import declip, default_lambdas  # torch: imported by the job, not at the workflow's start-up

        p = ctx.params
        set_threads(ctx.threads)
        lam = p["lambdas"]
        kw = dict(window=p["window"], hop=p["hop"], channels=p["channels"],
                  sample_rate=int(p["sample_rate"] or ctx.sample_rate or 22050),
                  lambdas=default_lambdas(float(lam["start"]), float(lam["stop"]), int(lam["num"])),
                  max_iter=int(p["max_iter"]), tol=float(p["tol"]), shrinkage=str(p["shrinkage"]),
                  device=pick_device(ctx.device or "auto"), progress=bool(ctx.progress))
        out = np.empty_like(y)
        for s in range(0, y.shape[0], int(p["batch"])):
            out[s : s + int(p["batch"])] = declip(y[s : s + int(p["batch"])], taus[s : s + int(p["batch"])], **kw)
        return out.astype(np.float32)
