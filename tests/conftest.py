import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# real data with published reference numbers, inside the repository (tests/fixtures/NOTICE: origin and licences)
FIXTURES = Path(os.environ.get("DECLIPBENCH_FIXTURES", ROOT / "tests" / "fixtures"))
BIN = Path(sys.executable).parent


def snakemake(*args, cwd=ROOT, timeout=900, check=True):
    """Run snakemake from the test environment; returns the CompletedProcess (output captured)."""
    exe = shutil.which("snakemake", path=str(BIN)) or shutil.which("snakemake")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def corrupt_zip_member(archive: Path, member: str, skip: int, length: int, mask: int) -> None:
    """Flip bytes ``skip .. skip + length`` of ``member``'s stored data inside ``archive`` (XOR ``mask``):
    the archive still opens, the member fails its decompression or CRC check."""
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    raw = bytearray(Path(archive).read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # after the local header
    for i in range(start + skip, start + skip + length):
        raw[i] ^= mask
    Path(archive).write_bytes(bytes(raw))


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one intra-op thread is fastest and immune to a busy shared CPU; restored after.
    A test module takes it for every test with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fixtures_audio():
    d = FIXTURES / "audio"
    if not d.is_dir() or not list(d.glob("*.ogg")):
        pytest.skip(f"real audio fixtures not found at {d}")
    return d


def resolved(module, params: dict | None = None) -> dict:
    """A dataset module's parameters resolved as the prepare step resolves them (defaults filled in)."""
    from declipbench.pipeline.plugins import dataset_params

    return dataset_params(module, params or {}, f"test params of {module.__name__}")


def assert_prepared(out_dir, modality: str, manifest: dict) -> None:
    """The dataset contract on what a prepare step wrote: every split, items of the declared modality's
    shape (audio: items x samples; images: items x 3 x H x W with each item's camera), float32, finite,
    the manifest naming the modality and counting the items."""
    import numpy as np

    out_dir = Path(out_dir)
    assert manifest["modality"] == modality
    on_disk = __import__("json").loads((out_dir / "manifest.json").read_text())
    assert on_disk["modality"] == modality
    for split in ("train", "val", "test"):
        x = np.load(out_dir / f"{split}.npy", mmap_mode="r")
        assert x.dtype == np.float32 and x.ndim == (2 if modality == "audio" else 4), (split, x.shape)
        assert np.all(np.isfinite(x)), split
        assert manifest["splits"][split]["items"] == len(x), split
        if modality == "image":
            assert x.shape[1] == 3
            cam = np.load(out_dir / f"{split}_camera.npy")
            assert cam.shape == (len(x), 3), split
    assert len(np.load(out_dir / "train.npy", mmap_mode="r")) > 0 and len(np.load(out_dir / "test.npy", mmap_mode="r")) > 0


# `make test` runs two pytest-xdist workers, one file each at a time, in collection order: the two longest
# files go first (longest processing time first), so neither waits for the other at the end (the fast and
# the long set each take the ones they hold). Measured in
# BENCHMARKS.md, "Test suite".
LONGEST_FIRST = ("test_workflow.py", "test_survey.py", "test_slurm.py", "test_dry_runs.py", "test_training.py",
                 "test_real_audio.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))   # stable: the rest keep their order
