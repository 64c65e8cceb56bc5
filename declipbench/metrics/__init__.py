"""Metrics (the paper's SDR, eq. 15, PSNR, eq. 14, PESQ and NIQE): one module each, and the registry the tables and the evaluate step use.

A metric is declared in its own module, ``METRICS = [Metric(...)]`` (:class:`.base.Metric`: name, modality,
direction, column headers, the score function); every module of this package is imported with it, so a
metric added as a new module here is registered without editing anything else (README, "Add a metric").

Every score takes one item and returns ``(value, note)``: ``value`` is a float, or ``nan`` with ``note``
saying why the item could not be scored (PESQ refuses silence; a reconstruction with NaN/Inf is flagged,
never averaged). Tables count and report such items.

========= ============================ ================= ======== ======
name      module                       score             modality better
========= ============================ ================= ======== ======
sdr       :mod:`.sdr` (eq. 15)         ``sdr_score``     audio    higher
delta_sdr :mod:`.sdr`                  ``delta_sdr_score`` audio  higher
pesq      :mod:`.pesq` (P.862.2 wb)    ``pesq_score``    audio    higher
psnr      :mod:`.psnr` (eq. 14)        ``psnr_score``    image    higher
niqe      :mod:`.niqe` (MATLAB parity) ``niqe_scorer()`` image    lower
========= ============================ ================= ======== ======
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Metric, Score  # noqa: F401  (what a metric module declares)

#: name -> :class:`Metric`, from the ``METRICS`` list of every module of this package
METRICS: dict[str, Metric] = {}
for _module in pkgutil.iter_modules(__path__):
    for _metric in getattr(importlib.import_module(f"{__name__}.{_module.name}"), "METRICS", ()):
        if _metric.name in METRICS:
            raise ValueError(f"two metrics are named {_metric.name!r}: in {METRICS[_metric.name].module} and "
                             f"{_module.name}")
        METRICS[_metric.name] = _metric


def __getattr__(name):  # the scores themselves, imported on first use (the modules share the metrics' names)
    lazy = {"sdr_db": "sdr", "sdr_db_items": "sdr", "sdr_score": "sdr", "delta_sdr_score": "sdr",
            "pesq_score": "pesq", "psnr_db": "psnr", "psnr_score": "psnr", "niqe_of": "niqe", "niqe_model": "niqe",
            "niqe_scorer": "niqe", "fetch_niqe_model": "niqe", "load_pristine_model": "niqe"}
    if name in lazy:
        from importlib import import_module

        return getattr(import_module(f".{lazy[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
