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


class UnreadableStateFile(ValueError):
    """A model or checkpoint file that cannot be loaded (truncated, corrupt, not a tensor archive)."""


def load_state(path: str | Path, map_location="cpu", set_aside: bool = False):
    """The object saved by :func:`save_state` (or ``torch.save``), loaded with ``weights_only=True``.

    A file that exists but cannot be loaded (cut short by a full disk or a copy, corrupt, or holding code)
    raises :class:`UnreadableStateFile` naming it. With ``set_aside`` (a trained ``model.pt``) the file is
    first renamed ``<name>.unreadable``, nothing deleted: the next run of the workflow then finds the model
    missing and trains it again, instead of failing on the same file forever."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        msg = f"{path}: cannot load it ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        if set_aside:
            bad = Path(path).with_name(Path(path).name + ".unreadable")
            Path(path).replace(bad)
            msg += f"; moved to {bad.name}, so the next run trains this model again"
        raise UnreadableStateFile(msg) from exc
