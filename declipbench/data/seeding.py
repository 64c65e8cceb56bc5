"""Per-item random generators: an item's content depends only on (seed, split, index), never on how many
other items are made or in what order (so a split can grow, or be made in parallel, without changing)."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np

from ..foundation.parameters import Param


def item_rng(seed: int, split: str, index: int, salt: str = "") -> np.random.Generator:
    """A generator that depends only on ``(seed, split, index, salt)``."""
    code = zlib.crc32(f"{split}:{salt}".encode()) & 0x7FFFFFFF
    return np.random.default_rng([int(seed), code, int(index)])


def split_counts(train: int, val: int, test: int, help: str = "items generated per split") -> dict:
    """The ``splits`` parameter of a generator: how many items each split has, by default these."""
    return {"train": Param(train, int, min=0, help=help), "val": Param(val, int, min=0), "test": Param(test, int, min=0)}


def hash_order(files: list[Path], root: Path, seed: int) -> list[Path]:
    """``files`` in a seeded order that depends only on each file's path relative to ``root``."""
    return sorted(files, key=lambda f: hashlib.sha256(f"{seed}:{f.relative_to(root).as_posix()}".encode()).hexdigest())


def split_by_hash(files: list[Path], root: Path, fractions: dict, min_files: dict, seed: int) -> dict[str, list[Path]]:
    """Split files (never segments) into test / val / train: the first ``max(round(fraction * n),
    min_files)`` files of :func:`hash_order` are the test files, the next ones the validation files, the
    rest training. Adding or removing a file moves no other file between splits beyond the counts."""
    order = hash_order(files, root, seed)
    out, start = {}, 0
    for split in ("test", "val"):
        n = max(int(round(fractions.get(split, 0) * len(order))), int(min_files.get(split, 0)))
        out[split] = sorted(order[start : start + n])
        start += n
    out["train"] = sorted(order[start:])
    return out
