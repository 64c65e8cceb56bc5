"""Losses of the paper (eqs. 6, 7, 11, 12), each an object with one signature (:mod:`.base`):

- ``mc``          :class:`~.mc.MCLoss`, eq. 7: squared error on reliable samples, one-sided penalty on clipped ones
- ``naive_mc``    :class:`~.mc.NaiveMCLoss`, eq. 6: ``||y - eta(f(y))||^2`` (its gradient vanishes beyond tau)
- ``ei``          :class:`~.ei.EILoss`, eq. 11: amplitude equivariance ``E_g ||g x_hat - f(eta(g x_hat))||^2``
- ``supervised``  :class:`~.supervised.SupervisedLoss`: ``||f(y) - x||^2``

Every module of this package is imported with it, so a loss added as a new module here is registered
without editing anything else; a method may also register a loss of its own from its folder.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import LOSSES, Loss, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from .ei import ei_loss, ei_target_weights, sample_gains  # noqa: E402
from .mc import mc_loss, naive_mc_loss  # noqa: E402
from .supervised import supervised_loss  # noqa: E402

__all__ = ["LOSSES", "Loss", "register", "ei_loss", "ei_target_weights", "sample_gains", "mc_loss",
           "naive_mc_loss", "supervised_loss"]
