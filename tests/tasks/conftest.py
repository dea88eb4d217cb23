"""Fixtures for the task tests: one torch thread, tiny datasets in the real on-disk formats."""

from __future__ import annotations

import gzip
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task references put directories on ``sys.path`` for good; keep them in one test."""
    from lrscope.tasks import loader

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(loader, "_ADDED", [])


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Train on one thread (the machine is shared) and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    """A CIFAR-10 python batch: a pickled dict with b'data' (N, 3072) uint8 and b'labels'."""
    batch = {
        b"batch_label": b"testing batch",
        b"labels": labels,
        b"data": images,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    with path.open("wb") as handle:
        pickle.dump(batch, handle, protocol=2)


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """An IDX file of unsigned bytes: magic 0x0000 08 ndim, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    """``tmp/cifar-10-batches-py`` with 5 train batches of 4 images and a test batch of 6."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        images = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        write_cifar_batch(folder / f"data_batch_{i}", images, [(i + j) % 10 for j in range(4)])
    test_images = rng.integers(0, 256, size=(6, 3072), dtype=np.uint8)
    write_cifar_batch(folder / "test_batch", test_images, [0, 1, 2, 3, 4, 5])
    return tmp_path


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    """The four MNIST IDX files (gzipped) with 12 train and 5 test images of 28x28."""
    rng = np.random.default_rng(1)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (12, 28, 28)), True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(12) % 10, True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (5, 28, 28)), True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(5), True)
    return tmp_path


@pytest.fixture
def cifar_writer() -> object:
    """:func:`write_cifar_batch`, for tests that build malformed variants."""
    return write_cifar_batch


@pytest.fixture
def idx_writer() -> object:
    """:func:`write_idx`, for tests that build malformed variants."""
    return write_idx
