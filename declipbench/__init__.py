"""declipbench: a reproducibility benchmark for learning to reconstruct signals from clipped measurements.

The core package holds what every method shares: the clipping physics (:mod:`declipbench.physics`),
losses (:mod:`declipbench.losses`), networks (:mod:`declipbench.networks`), the training loop
(:mod:`declipbench.training`), metrics (:mod:`declipbench.metrics`) and file I/O (:mod:`declipbench.io`).
Methods live in ``methods/<name>/`` and datasets in ``datasets/<name>.py``; both are discovered by
:mod:`declipbench.plugins`.
"""

__version__ = "0.1.0"
