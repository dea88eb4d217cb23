"""CIFAR-10 and MNIST read from tiny files in their real formats, and the loader errors."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lrscope.engine import run_trial
from lrscope.errors import DataError
from lrscope.tasks import get_task
from lrscope.tasks.datasets import CIFAR10_MEAN, CIFAR10_STD, MNIST_MEAN, MNIST_STD

CIFAR_TASKS = ["cifar10-cnn3", "cifar10-resnet20", "cifar10-resnet32", "cifar10-resnet56"]


def test_cifar_files_load_as_normalised_tensors(cifar_dir: Path) -> None:
    task = get_task("cifar10-cnn3", data_dir=cifar_dir)
    x, y = task.train_data.tensors  # type: ignore[attr-defined]
    assert x.shape == (20, 3, 32, 32)
    assert x.dtype == torch.float32
    assert y.tolist() == [(i + j) % 10 for i in range(1, 6) for j in range(4)]
    assert len(task.test_data) == 6  # type: ignore[arg-type]
    # pixel (channel 1, row 2, col 3) of the first image, from the raw bytes
    import pickle

    with (cifar_dir / "cifar-10-batches-py" / "data_batch_1").open("rb") as handle:
        raw = pickle.load(handle, encoding="bytes")[b"data"]
    value = raw[0, 1024 + 2 * 32 + 3] / 255.0
    expected = (value - CIFAR10_MEAN[1]) / CIFAR10_STD[1]
    assert float(x[0, 1, 2, 3]) == pytest.approx(expected, rel=1e-6)
    assert task.metadata is not None
    assert task.metadata.input_shape == (3, 32, 32)
    assert task.metadata.train_size == 20


def test_cifar_batches_directly_in_data_dir(cifar_dir: Path) -> None:
    task = get_task("cifar10-resnet20", data_dir=cifar_dir / "cifar-10-batches-py")
    assert task.train_size == 20


@pytest.mark.parametrize("name", CIFAR_TASKS)
def test_each_cifar_task_trains_a_few_steps(name: str, cifar_dir: Path) -> None:
    task = dataclasses.replace(get_task(name, data_dir=cifar_dir), batch_size=4)
    steps = 2 if name == "cifar10-resnet56" else 3
    result = run_trial(task, "FIX(k0=0.01)", steps=steps, seed=0)
    assert result.steps_done == steps
    assert not result.diverged
    assert 0.0 <= result.top1 <= 1.0
    assert np.isfinite(result.curve[-1].train_loss)


def test_mnist_idx_files_load_and_train(mnist_dir: Path) -> None:
    task = get_task("mnist-lenet", data_dir=mnist_dir)
    x, y = task.train_data.tensors  # type: ignore[attr-defined]
    assert x.shape == (12, 1, 28, 28)
    assert y.tolist() == [i % 10 for i in range(12)]
    with gzip.open(mnist_dir / "train-images-idx3-ubyte.gz", "rb") as handle:
        raw = handle.read()
    pixel = raw[16 + 5 * 28 + 7] / 255.0  # image 0, row 5, column 7
    assert float(x[0, 0, 5, 7]) == pytest.approx((pixel - MNIST_MEAN) / MNIST_STD, rel=1e-6)
    result = run_trial(dataclasses.replace(task, batch_size=4), "FIX(k0=0.01)", steps=3)
    assert result.steps_done == 3


def test_mnist_uncompressed_in_torchvision_layout(tmp_path: Path, idx_writer: Any) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    idx_writer(raw / "train-images-idx3-ubyte", np.zeros((3, 28, 28)), False)
    idx_writer(raw / "train-labels-idx1-ubyte", np.array([1, 2, 3]), False)
    idx_writer(raw / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28)), False)
    idx_writer(raw / "t10k-labels-idx1-ubyte", np.array([4, 5]), False)
    task = get_task("mnist-lenet", data_dir=tmp_path)
    assert task.train_size == 3
    assert len(task.test_data) == 2  # type: ignore[arg-type]


def test_data_dir_from_environment(cifar_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRSCOPE_DATA_DIR", str(cifar_dir))
    assert get_task("cifar10-cnn3").train_size == 20


def test_no_data_dir_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRSCOPE_DATA_DIR", raising=False)
    with pytest.raises(DataError, match=r"--data-dir.*LRSCOPE_DATA_DIR.*data_batch_1"):
        get_task("cifar10-cnn3")


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        get_task("mnist-lenet", data_dir=tmp_path / "nowhere")


def test_missing_cifar_batch_names_the_file(cifar_dir: Path) -> None:
    (cifar_dir / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"data_batch_3.*missing.*b'data'"):
        get_task("cifar10-cnn3", data_dir=cifar_dir)


def test_cifar_garbage_file(cifar_dir: Path) -> None:
    (cifar_dir / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"test_batch.*malformed"):
        get_task("cifar10-cnn3", data_dir=cifar_dir)


def test_cifar_wrong_shape(cifar_dir: Path, cifar_writer: Any) -> None:
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_2"
    cifar_writer(path, np.zeros((4, 100), dtype=np.uint8), [0, 1, 2, 3])
    with pytest.raises(DataError, match=r"data_batch_2.*shape \(4, 100\)"):
        get_task("cifar10-cnn3", data_dir=cifar_dir)


def test_cifar_label_count_mismatch(cifar_dir: Path, cifar_writer: Any) -> None:
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_1"
    cifar_writer(path, np.zeros((4, 3072), dtype=np.uint8), [0, 1])
    with pytest.raises(DataError, match=r"data_batch_1.*2 labels for 4 images"):
        get_task("cifar10-cnn3", data_dir=cifar_dir)


def test_cifar_pickle_with_code_is_refused(cifar_dir: Path) -> None:
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    path = cifar_dir / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match=r"data_batch_1.*not allowed"):
        get_task("cifar10-cnn3", data_dir=cifar_dir)


def test_missing_mnist_file_names_it(mnist_dir: Path) -> None:
    (mnist_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.*missing.*IDX"):
        get_task("mnist-lenet", data_dir=mnist_dir)


def test_mnist_bad_magic(mnist_dir: Path) -> None:
    path = mnist_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x00" * 12))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz.*no IDX header"):
        get_task("mnist-lenet", data_dir=mnist_dir)


def test_mnist_truncated(mnist_dir: Path) -> None:
    path = mnist_dir / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-10]))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz.*declares shape \(5, 28, 28\)"):
        get_task("mnist-lenet", data_dir=mnist_dir)


def test_mnist_not_gzip(mnist_dir: Path) -> None:
    (mnist_dir / "train-images-idx3-ubyte.gz").write_bytes(b"plain bytes, not gzip")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz.*cannot be read"):
        get_task("mnist-lenet", data_dir=mnist_dir)


def test_mnist_count_mismatch(mnist_dir: Path, idx_writer: Any) -> None:
    (mnist_dir / "train-labels-idx1-ubyte.gz").unlink()
    idx_writer(mnist_dir / "train-labels-idx1-ubyte", np.arange(7), True)
    with pytest.raises(DataError, match=r"12, 28, 28\) and 7 labels"):
        get_task("mnist-lenet", data_dir=mnist_dir)
