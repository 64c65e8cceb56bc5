"""Where a method runs: the torch device and the number of CPU threads, set up in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: a method module importing this stays light for the workflow's start-up
    import torch


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto``: CUDA when present, else the CPU; otherwise the named device (``cpu``, ``cuda:1``, ...)."""
    import torch

    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    """Use exactly ``threads`` intra-op CPU threads (the cores the job reserved); ``None``: leave as is."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))
