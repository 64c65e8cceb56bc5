"""What the learned methods share: build the (masked) U-Net from params, fit it, save, reload.

Parameters (``ctx.params``), all optional, defaults below:

``network``   ``channels``, ``depth``, ``max_channels``, ``bias`` (the "with bias" variant sets true);
              ``arch``: ``unet`` or ``hqs`` (the unfolded HQS network of :mod:`declipbench.pnp` with that
              U-Net as its denoiser, ``hqs_iterations`` iterations, one shared denoiser). 1-D or 2-D and
              the number of channels follow the data: items x samples (audio) or items x C x H x W (images).
``masking``   ``enabled`` (eq. 13), ``dilation``
``training``  see :class:`declipbench.training.TrainSettings` (``loss``, ``epochs``, ``lr``, ``alpha``,
              ``g_max``, ...)
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import io
from .networks import MaskedReconstructor, UNet
from .pnp import UnfoldedHQS
from .plugins import Context, Method, TrainData
from .training import TrainSettings, fit, pick_device, predict

NETWORK_DEFAULTS = {"channels": 64, "depth": 5, "max_channels": None, "bias": False, "arch": "unet",
                    "hqs_iterations": 3}
MASKING_DEFAULTS = {"enabled": True, "dilation": 0, "reliable_channel": False, "consistent": False}
log = logging.getLogger("declipbench.learned")


def build_model(params: dict, ctx: Context, data_shape: tuple[int, ...] | None = None) -> MaskedReconstructor:
    """The reconstructor for data of shape ``data_shape`` (items first): 1-D for ``(N, T)``, 2-D with
    ``C`` channels for ``(N, C, H, W)``; ``None`` means 1-D audio."""
    net_p = {**NETWORK_DEFAULTS, **(params.get("network") or {})}
    unknown = set(net_p) - set(NETWORK_DEFAULTS)
    if unknown:
        raise ValueError(f"network: unknown parameter(s) {sorted(unknown)}; known: {sorted(NETWORK_DEFAULTS)}")
    mask_p = {**MASKING_DEFAULTS, **(params.get("masking") or {})}
    torch.manual_seed(ctx.seed)  # the initial weights depend on the seed only
    unknown = set(mask_p) - set(MASKING_DEFAULTS)
    if unknown:
        raise ValueError(f"masking: unknown parameter(s) {sorted(unknown)}; known: {sorted(MASKING_DEFAULTS)}")
    two = bool(mask_p["reliable_channel"])
    arch, iterations = net_p.pop("arch"), int(net_p.pop("hqs_iterations"))
    image = data_shape is not None and len(data_shape) == 4
    c = int(data_shape[1]) if image else 1
    net = UNet(dim=2 if image else 1, in_channels=2 * c if two else c, out_channels=c, **net_p)
    if arch == "hqs":
        if two:
            raise ValueError("network.arch = 'hqs' does not take masking.reliable_channel")
        net = UnfoldedHQS(net, ctx.thresholds, iterations=iterations)
    elif arch != "unet":
        raise ValueError(f"network.arch = {arch!r}: must be 'unet' or 'hqs'")
    return MaskedReconstructor(net, ctx.thresholds, masking=bool(mask_p["enabled"]),
                               dilation=int(mask_p["dilation"]), reliable_channel=two,
                               consistent=bool(mask_p["consistent"]))


class NetworkMethod(Method):
    """A reconstructor trained with one of the losses of :mod:`declipbench.losses`.

    Subclasses fix what the loss may be (``allowed_losses``); the variant picks it via ``training.loss``.
    """

    allowed_losses: tuple[str, ...] = ()
    default_loss: str = ""

    def settings(self, ctx: Context) -> TrainSettings:
        t = {"loss": self.default_loss, **(ctx.params.get("training") or {})}
        t.setdefault("seed", ctx.seed)
        t.setdefault("device", ctx.device)
        t.setdefault("threads", ctx.threads)
        s = TrainSettings.from_dict(t, where="training")
        if s.loss not in self.allowed_losses:
            raise ValueError(f"training.loss = {s.loss!r} is not allowed for {type(self).__name__}; "
                             f"allowed: {self.allowed_losses}")
        return s

    def fit(self, data: TrainData, ctx: Context) -> None:
        s = self.settings(ctx)
        model = build_model(ctx.params, ctx, np.shape(data.y_train))
        fit(model, ctx.thresholds, s, ctx.workdir, data.y_train, data.x_train, data.y_val, data.x_val,
            progress=ctx.progress)
        with io.atomic_path(ctx.workdir / "model.pt") as tmp:
            torch.save(model.state_dict(), tmp)

    def reconstruct(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        if ctx.threads:
            torch.set_num_threads(int(ctx.threads))
        model = build_model(ctx.params, ctx, np.shape(y))
        path = ctx.workdir / "model.pt"
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        device = pick_device(ctx.device)
        model.to(device)
        return predict(model, y, batch_size=16, device=device)
