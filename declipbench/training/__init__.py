"""Training: the one loop (:mod:`.loop`), the shared learned method (:mod:`.learned`), and where a job runs
(:mod:`.device`: torch device and threads)."""

from importlib import import_module

_EXPORTS = {"TrainSettings": "loop", "TRAINING": "settings", "fit": "loop", "predict": "loop",
            "subset_indices": "loop", "NetworkMethod": "learned", "build_model": "learned",
            "pick_device": "device", "set_threads": "device"}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
