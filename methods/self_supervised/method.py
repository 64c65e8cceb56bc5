"""The proposed self-supervised method: the shared network (:mod:`declipbench.training.learned`) trained on
clipped measurements alone with measurement consistency and amplitude equivariance (eq. 12)."""

from declipbench.training.learned import NetworkMethod


class SelfSupervised(NetworkMethod):
    default_losses = ("mc", "ei")
