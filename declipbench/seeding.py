"""Per-item random generators: an item's content depends only on (seed, split, index), never on how many
other items are made or in what order (so a split can grow, or be made in parallel, without changing)."""

from __future__ import annotations

import zlib

import numpy as np


def item_rng(seed: int, split: str, index: int, salt: str = "") -> np.random.Generator:
    """A generator that depends only on ``(seed, split, index, salt)``."""
    code = zlib.crc32(f"{split}:{salt}".encode()) & 0x7FFFFFFF
    return np.random.default_rng([int(seed), code, int(index)])
