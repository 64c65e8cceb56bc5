"""declipbench: a reproducibility benchmark for learning to reconstruct signals from clipped measurements.

The core package holds what methods share, one subpackage per concern:

============ ==========================================================================================
``physics``  the clipping operator and its masks, thresholds for an input SDR, the clipping prox, the
             virtual camera
``data``     file I/O, audio and HDR files, segments on disk, downloads, seeding, level laws
``models``   the bias-free U-Net, the masking blend, the unfolded HQS network, the MLP
``losses``   loss objects with one signature: MC, naive MC, EI, supervised
``training`` the one training loop, the shared learned method, device and threads
``metrics``  SDR, PESQ, PSNR, NIQE and their registry
``pipeline`` configuration, plug-in contracts and parameters, result paths, the steps, surveys, the CLI
``report``   metric records, tables, figures, benchmarks
============ ==========================================================================================

Methods live in ``methods/<name>/`` (each a folder with everything private to it) and datasets in
``datasets/<name>.py``; a method subclasses :class:`declipbench.Method` and declares its parameters with
:class:`declipbench.Param`.
"""

from ._lazy import lazy_exports

__version__ = "0.1.0"

__getattr__ = lazy_exports(__name__, {
    "Method": "foundation.contracts", "SymmetricClippingMethod": "foundation.contracts",
    "Context": "foundation.contracts",
    "TrainData": "foundation.contracts",
    "Param": "foundation.parameters",
})
