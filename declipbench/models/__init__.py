"""Networks of the paper: the bias-free U-Net (:mod:`.unet`), the masking blend of eq. 13
(:mod:`.masking`), the unfolded HQS network (:mod:`.hqs`) and the MLP of the subspace experiment
(:mod:`.mlp`). Private networks of one method (DPIR's DRUNet) live in its folder."""

from .._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "UNet": "unet", "UNet1d": "unet", "UNet2d": "unet", "MaskedReconstructor": "masking",
    "UnfoldedHQS": "hqs", "SkipMLP": "mlp",
})
