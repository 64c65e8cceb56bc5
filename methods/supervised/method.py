"""Supervised baselines: the shared network (:mod:`declipbench.training.learned`) trained on (y, x) pairs
with the squared error, optionally plus the amplitude-equivariance loss."""

from declipbench.training.learned import NetworkMethod


class Supervised(NetworkMethod):
    default_losses = ("supervised",)
