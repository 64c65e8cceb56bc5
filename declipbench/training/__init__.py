"""Training: the one loop (:mod:`.loop`), the shared learned method (:mod:`.learned`), and where a job runs
(:mod:`.device`: torch device and threads)."""

from .._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "TrainSettings": "loop", "TRAINING": "settings", "fit": "loop", "predict": "loop",
    "subset_indices": "loop", "NetworkMethod": "learned", "build_model": "learned",
    "pick_device": "device", "set_threads": "device",
})
