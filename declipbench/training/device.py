"""Where a method runs: the torch device and the number of CPU threads, set up in one place."""

from __future__ import annotations

import torch


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto``: CUDA when present, else the CPU; otherwise the named device (``cpu``, ``cuda:1``, ...)."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    """Use exactly ``threads`` intra-op CPU threads (the cores the job reserved); ``None``: leave as is."""
    if threads:
        torch.set_num_threads(int(threads))
