"""Template method: a working example to copy. It scales the clipped samples by a constant gain.

Replace the body of ``reconstruct`` (and ``fit`` if your method trains) with your own method.
"""

import numpy as np

from declipbench.plugins import Context, Method, TrainData


class Template(Method):
    def fit(self, data: TrainData, ctx: Context) -> None:
        # Only called when method.yaml says trains: true. Save what you learn under ctx.workdir;
        # data.x_train is None unless supervision is "pairs".
        (ctx.workdir / "model.txt").write_text("nothing to learn\n")

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        # y: (items, samples) clipped measurements; thresholds in ctx.tau_low / ctx.tau_high
        gain = float(ctx.params.get("gain", 1.0))
        clipped = (y >= ctx.tau_high) | (y <= ctx.tau_low)
        return np.where(clipped, gain * y, y).astype(np.float32)
