"""Template method: a working example to copy. It scales the clipped samples by a constant gain.

Replace the body of ``reconstruct`` (and ``fit`` if your method trains) with your own method; declare
every parameter you read in ``parameters`` (a misspelt one in a config is then refused at ``snakemake -n``).
"""

import numpy as np

from declipbench import Context, Method, Param, TrainData

from .helpers import scale_clipped


class Template(Method):
    parameters = {
        "gain": Param(1.0, float, min=0, help="factor applied to the clipped samples"),
    }

    def fit(self, data: TrainData, ctx: Context) -> None:
        # Only called when method.yaml says trains: true. Save what you learn under ctx.workdir;
        # data.x_train is None unless supervision is "pairs".
        (ctx.workdir / "model.txt").write_text("nothing to learn\n")

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        # y: (items, samples) clipped measurements (images: items x C x H x W); thresholds in
        # ctx.tau_low / ctx.tau_high; ctx.params holds the resolved parameters (defaults filled in)
        return scale_clipped(y, ctx.tau_low, ctx.tau_high, ctx.params["gain"])
