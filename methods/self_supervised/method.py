"""The proposed self-supervised method: measurement consistency + amplitude equivariance."""

from declipbench.learned import NetworkMethod


class SelfSupervised(NetworkMethod):
    allowed_losses = ("mc_ei", "mc")
    default_loss = "mc_ei"
