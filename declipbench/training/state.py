"""Saving and loading torch state: atomically, safely, and byte-for-byte reproducibly.

``torch.save`` to a file names the archive's top folder after the file, so saving through a temporary
name (as every atomic write does) stored that random name inside ``model.pt``: two identical trainings
gave different bytes. :func:`save_state` serialises into memory first (a fixed archive name), then writes
the bytes atomically, so identical training gives identical files and a checksum proves it.
:func:`load_state` loads with ``weights_only=True`` (never runs code from a file).
"""

from __future__ import annotations

import io as _io
from pathlib import Path

import torch

from ..data.io import write_bytes


def save_state(obj, path: str | Path) -> None:
    """Save tensors (a state dict, a checkpoint of plain containers) to ``path``, atomically."""
    buffer = _io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


def load_state(path: str | Path, map_location="cpu"):
    """The object saved by :func:`save_state` (or ``torch.save``), loaded with ``weights_only=True``."""
    return torch.load(path, map_location=map_location, weights_only=True)
