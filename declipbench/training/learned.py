"""What the learned methods share (``methods/supervised``, ``methods/self_supervised``): a reconstructor
built from the parameters, trained by :func:`declipbench.training.fit` on the losses its variant lists,
saved and reloaded.

Parameters (``ctx.params``, declared in :meth:`NetworkMethod.declaration`):

``network``   ``arch`` (``unet``, or ``hqs``: the unfolded HQS network of :mod:`declipbench.models.hqs`
              with that U-Net as its denoiser), ``channels``, ``depth``, ``max_channels``, ``bias`` (the
              "with bias" variants), ``padding``, ``upsampling``, ``residual`` (the first author's U-Net
              details, :mod:`declipbench.models.unet`), ``hqs_iterations``. 1-D or 2-D follows the declared modality, the
              number of channels the data.
``masking``   ``enabled`` (eq. 13), ``dilation``, ``reliable_channel``, ``consistent``
``training``  the loop's settings (:data:`declipbench.training.loop.TRAINING`)
``losses``    the terms of the training loss, by name (``[mc, ei]``, ``[supervised]``, ...), and one section
              per registered loss with its parameters (``ei: {weight, g_max, ...}``), used when listed.
"""

from __future__ import annotations

import logging

import numpy as np

from ..foundation.contracts import Context, Method, TrainData
from ..foundation.parameters import Param
from ..foundation.paths import MODEL
from ..physics.clipping import Thresholds

log = logging.getLogger("declipbench.learned")

NETWORK = {
    "arch": Param("unet", choices=("unet", "hqs"), help="the bias-free U-Net, or the unfolded HQS network around it"),
    "channels": Param(64, int, min=1, help="channels of the first level (doubling at each level)"),
    "depth": Param(5, int, min=1, help="poolings (down-sampling steps): the U-Net has depth + 1 resolution levels, an "
                                       "input block and depth down blocks, depth up blocks, and pads its input to a "
                                       "multiple of 2**depth; deepinv's UNet(scales=S) is depth S - 1"),
    "max_channels": Param(None, int, min=1, help="cap on the channels of a level (null: none)"),
    "bias": Param(False, help="additive biases (the network is then not homogeneous)"),
    "padding": Param("zeros", choices=("zeros", "replicate"),
                     help="how an input is extended to a multiple of 2**depth: zeros (ours) or by repeating its last "
                          "sample (the first author's 1-D U-Net)"),
    "upsampling": Param("transposed", choices=("transposed", "nearest"),
                        help="up blocks: transposed convolution (ours) or nearest upsampling + 3-tap convolution + "
                             "ReLU (the first author's 1-D U-Net)"),
    "residual": Param(True, help="residual output x_hat = y + net(y) (both U-Nets)"),
    "hqs_iterations": Param(3, int, min=1, help="iterations of the unfolded HQS network (arch: hqs)"),
}
MASKING = {
    "enabled": Param(True, help="the masking blend of eq. 13 (reliable samples returned exactly)"),
    "dilation": Param(0, int, min=0, help="widen the clipped mask by this many samples on each side"),
    "reliable_channel": Param(False, help="feed [y, (1 - m) y] to the network instead of y"),
    "consistent": Param(False, help="clipped samples as tau plus a non-negative excess (L_MC = 0 by construction)"),
}


def build_model(params: dict, ctx: Context, data_shape: tuple[int, ...]):
    """The reconstructor for items of shape ``data_shape`` (items first) of the modality ``ctx.modality``:
    a 1-D network for audio (``N x T``), a 2-D one with ``C`` channels for images (``N x C x H x W``).
    The initial weights depend on the seed only."""
    import torch

    from ..models.hqs import UnfoldedHQS
    from ..models.masking import MaskedReconstructor
    from ..models.unet import UNet

    net_p, mask_p = dict(params["network"]), params["masking"]
    torch.manual_seed(ctx.seed)
    two = bool(mask_p["reliable_channel"])
    arch, iterations = net_p.pop("arch"), int(net_p.pop("hqs_iterations"))
    image = ctx.modality == "image"
    c = int(data_shape[1]) if image else 1
    net = UNet(dim=2 if image else 1, in_channels=2 * c if two else c, out_channels=c, **net_p)
    if arch == "hqs":
        net = UnfoldedHQS(net, Thresholds(ctx.tau_low, ctx.tau_high), iterations=iterations)
    return MaskedReconstructor(net, Thresholds(ctx.tau_low, ctx.tau_high), masking=bool(mask_p["enabled"]),
                               dilation=int(mask_p["dilation"]), reliable_channel=two,
                               consistent=bool(mask_p["consistent"]))


class NetworkMethod(Method):
    """A reconstructor trained on the weighted sum of the losses its variant lists. Subclasses set
    ``default_losses``; a method declaring ``supervision: measurements`` may list no loss that needs clean
    signals (checked with the configuration)."""

    default_losses: tuple[str, ...] = ()

    @classmethod
    def declaration(cls) -> dict:
        from ..losses import LOSSES
        from .settings import TRAINING

        return {"network": NETWORK, "masking": MASKING, "training": TRAINING,
                "losses": Param(list(cls.default_losses), list, items=str,
                                help=f"the terms of the training loss, by name; registered: {sorted(LOSSES)}"),
                **{name: loss.declaration() for name, loss in LOSSES.items()}}

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        from ..losses import LOSSES

        if not params["losses"]:
            raise ValueError(f"{where}.losses: list at least one loss; registered: {sorted(LOSSES)}")
        for name in params["losses"]:
            if name not in LOSSES:
                raise ValueError(f"{where}.losses: unknown loss {name!r}; registered: {sorted(LOSSES)}")
            if LOSSES[name].needs_clean and cls.supervision != "pairs":
                raise ValueError(f"{where}.losses: {name!r} needs clean signals, but the method declares "
                                 f"supervision: {cls.supervision}")
            LOSSES[name].check(params[name], f"{where}.{name}")
        if params["network"]["arch"] == "hqs" and params["masking"]["reliable_channel"]:
            raise ValueError(f"{where}.masking.reliable_channel: not available with network.arch = 'hqs'")

    @staticmethod
    def losses(params: dict) -> list:
        from ..losses import LOSSES

        return [LOSSES[name](**params[name]) for name in params["losses"]]

    def fit(self, data: TrainData, ctx: Context) -> None:
        from .loop import TrainSettings, fit
        from .state import save_state

        p = ctx.params
        model = build_model(p, ctx, np.shape(data.y_train))
        fit(model, self.losses(p), Thresholds(ctx.tau_low, ctx.tau_high), TrainSettings.from_params(p["training"]), ctx.workdir,
            data.y_train, data.x_train, data.y_val, data.x_val, modality=ctx.modality, seed=ctx.seed,
            device=ctx.device, threads=ctx.threads, progress=ctx.progress)
        save_state(model.state_dict(), ctx.workdir / MODEL)

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        from .device import pick_device, set_threads
        from .loop import predict
        from .state import load_state

        set_threads(ctx.threads)
        model = build_model(ctx.params, ctx, np.shape(y))
        model.load_state_dict(load_state(ctx.workdir / MODEL, set_aside=True))
        device = pick_device(ctx.device)
        model.to(device)
        return predict(model, y, batch_size=16, device=device, modality=ctx.modality)
