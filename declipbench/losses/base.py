"""What every loss is: an object with one signature, its parameters declared, registered by name.

A loss maps a batch to one value per item::

    loss(x_hat, y, x=None, *, model, physics, generator) -> tensor of shape (batch,)

``x_hat = model(y)`` is the reconstruction of the measurements ``y`` (batch on the first axis), ``x`` the
clean signals (given only to a loss that declares ``needs_clean = True``), ``model`` the reconstructor
itself (the EI loss runs it a second time), ``physics`` the clipping operator
(:class:`declipbench.physics.Thresholds`: ``physics(x)`` clips, its thresholds give the masks) and
``generator`` the training loop's seeded ``torch.Generator`` (the one source of randomness of a run).

The training loop (:func:`declipbench.training.fit`) sums the losses a method's variant lists (``losses:
[mc, ei]``), each weighted by its own ``weight`` parameter, never branching on their names. A new loss is
a subclass of :class:`Loss` decorated with :func:`register` (in a module of this package, or in a method's
folder) plus a variant listing its name in a ``method.yaml``; its parameters appear in the configuration
as a section named after it (``ei: {weight: 1.0, g_max: 4.0}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # torch is imported where a loss is computed: the workflow reads the declarations without it
    import torch

from ..foundation.parameters import Param, resolve

LOSSES: dict[str, type["Loss"]] = {}


def register(cls: type["Loss"]) -> type["Loss"]:
    """Class decorator: make ``cls`` available under ``cls.name`` to the ``losses:`` list of a variant (a
    module imported again, e.g. an edited method folder, registers its class afresh)."""
    if not cls.name or not cls.name.isidentifier():
        raise ValueError(f"loss class {cls.__name__} needs a name that is an identifier, got {cls.name!r}")
    old = LOSSES.get(cls.name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"two losses are registered as {cls.name!r}: {old.__module__}.{old.__qualname__} and "
                         f"{cls.__module__}.{cls.__qualname__}")
    LOSSES[cls.name] = cls
    return cls


def per_item(values: torch.Tensor) -> torch.Tensor:
    """The mean over everything but the first (batch) axis: one value per item."""
    return values.reshape(values.shape[0], -1).mean(dim=1)


class Loss:
    """Base class. Subclasses set ``name`` and ``parameters`` (besides ``weight``, which every loss has)
    and implement :meth:`__call__`; ``needs_clean`` marks a loss that reads the clean signals."""

    name: str = ""
    needs_clean: bool = False
    parameters: dict = {}

    def __init__(self, **params):
        # parameters left out take their declared defaults (the configuration always gives them all)
        self.params = {name: param.default for name, param in self.declaration().items()} | params
        self.weight = float(params.get("weight", 1.0))

    @classmethod
    def declaration(cls) -> dict:
        """All parameters of the loss: ``weight`` and the class's own."""
        return {"weight": Param(1.0, float, min=0, help=f"weight of the {cls.name} term in the training loss"),
                **cls.parameters}

    @classmethod
    def check(cls, params: dict, where: str) -> None:
        """Checks across parameters that the declaration cannot express (raise ``ValueError``)."""

    @classmethod
    def resolve(cls, given: dict | None, where: str) -> dict:
        """``given`` completed with the declared defaults and checked (:func:`declipbench.Param` rules and
        :meth:`check`); errors name ``where``."""
        params = resolve(cls.declaration(), given, where)
        cls.check(params, where)
        return params

    def __call__(self, x_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor | None = None, *,
                 model: Callable[[torch.Tensor], torch.Tensor], physics,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError
