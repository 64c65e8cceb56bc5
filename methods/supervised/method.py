"""Supervised baselines: the shared U-Net trained on pairs (optionally with the EI term)."""

from declipbench.learned import NetworkMethod


class Supervised(NetworkMethod):
    allowed_losses = ("supervised", "supervised_ei")
    default_loss = "supervised"
