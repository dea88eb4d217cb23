"""Built-in tasks without files: MNIST-1D (generated) and scikit-learn's digits."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import lrscope
from lrscope.errors import ParameterError, TaskError
from lrscope.metrics import CLASSIFICATION_SCORING
from lrscope.tasks import Task, builtin_task_names, datasets, get_task, models

ALL_BUILTINS = [
    "cifar10-cnn3",
    "cifar10-resnet20",
    "cifar10-resnet32",
    "cifar10-resnet56",
    "digits-lenet",
    "digits-mlp",
    "mnist-lenet",
    "mnist1d-cnn",
    "mnist1d-mlp",
]


def test_builtin_names() -> None:
    assert builtin_task_names() == ALL_BUILTINS


def test_top_level_lazy_names() -> None:
    assert lrscope.Task is Task
    assert lrscope.get_task is get_task


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(TaskError, match=r"unknown task 'mnist2d'.*digits-lenet.*mnist1d-cnn"):
        get_task("mnist2d")


@pytest.mark.parametrize("name", ["my_task.py", "tasks/my_task", "./my_task.py"])
def test_a_file_without_its_function_asks_for_the_function(name: str) -> None:
    with pytest.raises(TaskError, match=rf"names a file but not the function.*'{name}:make_task'"):
        get_task(name)


def test_mnist1d_cnn_shapes_and_metadata() -> None:
    task = get_task("mnist1d-cnn")
    x, y = task.train_data.tensors  # type: ignore[attr-defined]
    xt = task.test_data.tensors[0]  # type: ignore[attr-defined]
    assert x.shape == (4000, 1, 40)
    assert xt.shape == (1000, 1, 40)
    assert x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert sorted(set(y.tolist())) == list(range(10))
    assert abs(float(torch.cat([x, xt]).mean())) < 0.01  # the generator standardises
    assert task.batch_size == 128
    assert task.steps_per_epoch == 32
    assert task.metadata is not None
    assert task.metadata.to_dict() == {
        "dataset": "mnist1d",
        "model_family": "cnn",
        "input_shape": [1, 40],
        "train_size": 4000,
        "num_classes": 10,
        "batch_size": 128,
        "extra": {"test_size": 1000},
    }  # a classification scored as LRBench scores it records no metric definitions
    assert task.metadata.scoring == CLASSIFICATION_SCORING


def test_mnist1d_mlp_shares_the_data() -> None:
    cnn, mlp = get_task("mnist1d-cnn"), get_task("mnist1d-mlp")
    x_cnn = cnn.train_data.tensors[0]  # type: ignore[attr-defined]
    x_mlp = mlp.train_data.tensors[0]  # type: ignore[attr-defined]
    assert x_mlp.shape == (4000, 40)
    assert torch.equal(x_cnn.reshape(4000, 40), x_mlp)
    assert mlp.metadata is not None
    assert mlp.metadata.model_family == "mlp"


def test_mnist1d_generation_leaves_global_rng_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "_MNIST1D_MEMORY", {})
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    datasets.load_mnist1d()
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)


def test_mnist1d_disk_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "_MNIST1D_MEMORY", {})
    first = datasets.load_mnist1d()
    files = list(tmp_path.glob("mnist1d-*.npz"))
    assert len(files) == 1
    assert datasets.load_mnist1d() is first  # memoised in the process
    monkeypatch.setattr(datasets, "_MNIST1D_MEMORY", {})
    second = datasets.load_mnist1d()  # from the file
    assert second is not first
    assert torch.equal(first.x_train, second.x_train)
    assert torch.equal(first.y_test, second.y_test)
    files[0].write_bytes(b"corrupt")
    monkeypatch.setattr(datasets, "_MNIST1D_MEMORY", {})
    assert torch.equal(datasets.load_mnist1d().x_test, first.x_test)  # regenerated


def test_digits_split_is_fixed_and_stratified() -> None:
    task = get_task("digits-lenet")
    x = task.train_data.tensors[0]  # type: ignore[attr-defined]
    xt, yt = task.test_data.tensors  # type: ignore[attr-defined]
    assert x.shape == (1437, 1, 8, 8)
    assert xt.shape == (360, 1, 8, 8)
    counts = torch.bincount(yt, minlength=10)
    assert int(counts.min()) >= 35
    assert int(counts.max()) <= 37
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(x.std()) == pytest.approx(1.0, abs=1e-3)
    again = get_task("digits-mlp")
    assert torch.equal(again.test_data.tensors[0], xt)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("factory", "params", "shape"),
    [
        (models.MNIST1DCNN, 5_210, (2, 1, 40)),
        (models.MNIST1DMLP, 15_210, (2, 40)),
        (lambda: models.LeNet(10, small=True), 114_760, (2, 1, 8, 8)),
        (models.LeNet, 431_080, (2, 1, 28, 28)),
        (models.CNN3, 145_578, (2, 3, 32, 32)),
        (lambda: models.CifarResNet(20), 269_722, (2, 3, 32, 32)),
        (lambda: models.CifarResNet(32), 464_154, (2, 3, 32, 32)),
        (lambda: models.CifarResNet(56), 853_018, (2, 3, 32, 32)),
    ],
)
def test_model_sizes_and_outputs(factory: object, params: int, shape: tuple[int, ...]) -> None:
    model = factory()  # type: ignore[operator]
    assert models.count_parameters(model) == params
    assert model(torch.zeros(shape)).shape == (2, 10)


def test_resnet_option_a_shortcut_pads_channels() -> None:
    net = models.CifarResNet(20)
    block = net.blocks[3]  # first block of the 32-channel stage
    assert isinstance(block, models._BasicBlock)
    x = torch.randn(1, 16, 32, 32)
    out = block._shortcut(x)
    assert out.shape == (1, 32, 16, 16)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert float(out[:, :8].abs().sum()) == 0.0
    assert float(out[:, 24:].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="6n"):
        models.CifarResNet(21)


def test_task_validation() -> None:
    data = torch.utils.data.TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ParameterError, match="'num_classes' parameter of the task 't' must be"):
        Task(name="t", model=torch.nn.Identity, train_data=data, test_data=data, num_classes=1)
    with pytest.raises(ParameterError, match="'batch_size' parameter of the task 't' must be"):
        Task("t", torch.nn.Identity, data, data, num_classes=2, batch_size=0)
    with pytest.raises(ParameterError, match="'name' parameter of the task must be"):
        Task("", torch.nn.Identity, data, data, num_classes=2)
    with pytest.raises(ParameterError, match="'training_step' parameter of the task 't'"):
        Task("t", torch.nn.Identity, data, data, training_step="loss")  # type: ignore[arg-type]
    task = Task("t", torch.nn.Identity, data, data, num_classes=2, batch_size=3)
    assert task.metadata is not None
    assert task.metadata.input_shape == (2,)
    assert task.steps_per_epoch == 2
