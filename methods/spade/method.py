"""A-SPADE and S-SPADE (the declipping survey's settings): :func:`.spade.declip` on each item, no training.

Everything private to the method is in this folder: the block segmentation, the two algorithms, the
fast batched path and its plain transcription (the test oracle) are in :mod:`.spade`, whose docstring
lists every setting and where in the survey's toolbox it comes from.
"""

import numpy as np

from declipbench import Context, Param, SymmetricClippingMethod
from declipbench.training.device import pick_device, set_threads


class Spade(SymmetricClippingMethod):
    parameters = {
        # the names of .spade.ALGORITHMS (tests/test_spade.py): .spade imports torch, which this module
        # leaves to the job (the workflow imports method.py at start-up)
        "algorithm": Param("aspade", choices=("aspade", "sspade"),
                           help="aspade (analysis) or sspade (synthesis, the survey's sspade_new)"),
        "window": Param(None, int, min=2, help="window length in samples (null: 8192 at 44.1 kHz, scaled to the data's rate)"),
        "hop": Param(None, int, min=1, help="hop in samples (null: window / 4)"),
        "sample_rate": Param(None, int, min=1, help="rate the default window is scaled to (null: the data's)"),
        "redundancy": Param(2, int, min=1, help="DFT frame redundancy: each windowed block zero-padded to redundancy x window"),
        "s": Param(1, int, min=1, help="sparsity k starts at s and grows by s"),
        "r": Param(2, int, min=1, help="every r iterations"),
        "epsilon": Param(0.1, float, min=0, help="a block stops when its termination function is <= epsilon (absolute)"),
        "max_iter": Param(None, int, min=1, help="iterations per block at most (null: ceil(floor(window x redundancy / 2 + 1) x r / s))"),
        "batch": Param(None, int, min=1, help="blocks iterated together (null: 16 on the CPU, all on CUDA)"),
    }

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        w, a = params.get("window"), params.get("hop")
        if w is not None and a is not None and a > w:
            raise ValueError(f"{where}: hop ({a}) must not exceed window ({w})")

    def declip_items(self, y: np.ndarray, taus: np.ndarray, ctx: Context) -> np.ndarray:
        from .spade import declip

        p = ctx.params
        set_threads(ctx.threads)
        x = declip(y, taus, algorithm=str(p["algorithm"]), window=p["window"], hop=p["hop"],
                   redundancy=int(p["redundancy"]), s=int(p["s"]), r=int(p["r"]), epsilon=float(p["epsilon"]),
                   max_iter=p["max_iter"], sample_rate=int(p["sample_rate"] or ctx.sample_rate or 44100),
                   device=pick_device(ctx.device or "auto"), batch=p["batch"], progress=bool(ctx.progress))
        return np.asarray(x, dtype=np.float32)
