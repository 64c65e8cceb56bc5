"""What a metric declares (:class:`Metric`) and the signature of its per-item score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Score = Callable[..., tuple[float, str]]


@dataclass(frozen=True)
class Metric:
    """A table metric: its ``name`` (the configuration's ``metrics:`` list), the ``modality`` it scores,
    its direction, column headers (``unit`` for CSV and Markdown, ``latex``), and where its score is: the
    function ``function`` of the module ``module`` of this package (with ``factory``, a function returning
    the score, set up once per evaluation)."""

    name: str
    modality: str
    higher_is_better: bool
    unit: str  # column header (Markdown, CSV)
    latex: str  # column header (LaTeX)
    module: str
    function: str
    factory: bool = False

    def scorer(self) -> Score:
        """The per-item score ``(x, x_hat, y, sample_rate) -> (value, note)``."""
        from importlib import import_module

        fn = getattr(import_module(f"{__package__}.{self.module}"), self.function)
        return fn() if self.factory else fn
