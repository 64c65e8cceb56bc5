"""declipbench: a reproducibility benchmark for learning to reconstruct signals from clipped measurements.

The core package holds what methods share, one subpackage per concern, in floors from the bottom up:
each imports only the floors listed before it (``tests/test_layering.py``).

- ``foundation``: parameter declarations (``Param``), the plug-in contracts, the path registry of a run
- ``physics``: the clipping operator and its masks, SDR (eq. 15), thresholds for an input SDR, the
  clipping prox, the virtual camera
- ``data``: file I/O, audio and HDR files, segments on disk, downloads, seeding, level laws
- ``models``: the bias-free U-Net, the masking blend, the unfolded HQS network, the MLP
- ``losses``: loss objects with one signature: MC, naive MC, EI, supervised
- ``metrics``: SDR, PESQ, PSNR, NIQE (one module each, each declaring its metrics), the per-item records
- ``training``: the one training loop, the shared learned method, device and threads
- ``pipeline``: configuration and the job plan, plug-in discovery (methods, data sets, figures), the steps
- ``report``: tables, report pages, the drawing of the figures, the HTML report, benchmarks
- ``jobs``, ``cli``: the steps behind the rules (one JSON job each) and the command line

Methods live in ``methods/<name>/`` (each a folder with everything private to it), datasets in
``datasets/<name>.py`` and the paper's figures in ``figures/<key>.py``; a method subclasses
:class:`declipbench.Method` and declares its parameters with :class:`declipbench.Param`.
"""

from ._lazy import lazy_exports

__version__ = "0.1.0"

__getattr__ = lazy_exports(__name__, {
    "Method": "foundation.contracts", "SymmetricClippingMethod": "foundation.contracts",
    "Context": "foundation.contracts",
    "TrainData": "foundation.contracts",
    "Param": "foundation.parameters",
})
