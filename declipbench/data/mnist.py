"""MNIST's test images (LeCun, Cortes, Burges), the digit of the toy experiment (Figures 5 and 6): where they
come from, and what a run needs of them (``declipbench check-data``). Reading them is in
the toy figure's module, ``figures/toy.py``."""

from __future__ import annotations

from pathlib import Path

#: MNIST's test images, from two maintained mirrors of the original files
MNIST_TEST_IMAGES = {
    "name": "t10k-images-idx3-ubyte.gz",
    "urls": ["https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
             "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz"],
    "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "size": 1648877,
}


def mnist_path(data_dir) -> Path:
    return Path(data_dir) / "mnist" / MNIST_TEST_IMAGES["name"]


def mnist_inputs(data_dir) -> list:
    """MNIST's test images for Figures 5 and 6 (``declipbench check-data``)."""
    from ..foundation.inputs import DOWNLOAD, PRESENT, Input

    path = mnist_path(data_dir)
    if path.is_file():
        return [Input("MNIST test images", str(path), PRESENT)]
    return [Input("MNIST test images", str(path), DOWNLOAD, MNIST_TEST_IMAGES["urls"][0], MNIST_TEST_IMAGES["size"])]
