"""Metrics (the paper's SDR, eq. 15, PSNR, eq. 14, PESQ and NIQE): one module each, and the registry the tables and the evaluate step use.

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

from dataclasses import dataclass
from typing import Callable

Score = Callable[..., tuple[float, str]]


@dataclass(frozen=True)
class Metric:
    name: str
    modality: str
    higher_is_better: bool
    unit: str  # column header (Markdown, CSV)
    latex: str  # column header (LaTeX)
    module: str
    function: str  # a score, or with ``factory`` a function returning one (set up once per evaluation)
    factory: bool = False

    def scorer(self) -> Score:
        """The per-item score ``(x, x_hat, y, sample_rate) -> (value, note)``."""
        from importlib import import_module

        fn = getattr(import_module(f".{self.module}", __name__), self.function)
        return fn() if self.factory else fn


METRICS = {m.name: m for m in (
    Metric("sdr", "audio", True, "SDR (dB)", "SDR (dB)", "sdr", "sdr_score"),
    Metric("delta_sdr", "audio", True, "ΔSDR (dB)", r"$\Delta$SDR (dB)", "sdr", "delta_sdr_score"),
    Metric("pesq", "audio", True, "PESQ", "PESQ", "pesq", "pesq_score"),
    Metric("psnr", "image", True, "PSNR (dB)", "PSNR (dB)", "psnr", "psnr_score"),
    Metric("niqe", "image", False, "NIQE ↓", r"NIQE $\downarrow$", "niqe", "niqe_scorer", factory=True),
)}


def __getattr__(name):  # the scores themselves, imported on first use (the modules share the metrics' names)
    lazy = {"sdr_db": "sdr", "sdr_db_items": "sdr", "sdr_score": "sdr", "delta_sdr_score": "sdr",
            "pesq_score": "pesq", "psnr_db": "psnr", "psnr_score": "psnr", "niqe_of": "niqe", "niqe_model": "niqe",
            "niqe_scorer": "niqe", "fetch_niqe_model": "niqe", "load_pristine_model": "niqe"}
    if name in lazy:
        from importlib import import_module

        return getattr(import_module(f".{lazy[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
