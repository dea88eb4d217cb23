"""User tasks: ``path/file.py:function`` and ``pkg.module:function``, and their errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from lrscope.engine import run_trial
from lrscope.errors import TaskError
from lrscope.tasks import Task, get_task

USER_TASK = textwrap.dedent(
    """
    import torch
    from torch.utils.data import TensorDataset
    import lrscope


    class TwoLayer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
            )

        def forward(self, x):
            return self.body(x)


    def _xor(n, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(n, 2, generator=g) * 2 - 1
        y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
        return TensorDataset(x, y)


    def make_task():
        return lrscope.Task(
            name="xor",
            model=TwoLayer,
            train_data=_xor(256, 0),
            test_data=_xor(128, 1),
            num_classes=2,
            batch_size=32,
            optimizer=lambda params: torch.optim.Adam(params, lr=1e-2),
        )


    def with_dir(data_dir=None):
        task = make_task()
        task.name = f"xor@{data_dir}"
        return task


    def not_a_task():
        return 42


    def broken():
        raise RuntimeError("no data for you")


    VALUE = 3
    """
)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "xor_task.py"
    path.write_text(USER_TASK)
    return path


def test_file_task_trains(user_file: Path) -> None:
    task = get_task(f"{user_file}:make_task")
    assert isinstance(task, Task)
    assert task.name == "xor"
    result = run_trial(task, "FIX(k0=0.05)", steps=300, seed=0, eval_every=100)
    assert result.task == "xor"
    assert [p.step for p in result.curve] == [100, 200, 300]
    assert result.top1 > 0.85  # XOR is not linearly separable: the hidden layer learned


def test_module_task_and_data_dir(
    user_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "xor_task", raising=False)
    assert get_task("xor_task:make_task").name == "xor"
    assert get_task("xor_task:with_dir", data_dir="/data").name == "xor@/data"


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (":nope", r"has no function 'nope'.*make_task"),
        (":not_a_task", r"not_a_task\(\) returned int, expected an lrscope.Task"),
        (":broken", r"calling the factory failed: RuntimeError: no data for you"),
        (":VALUE", r"'VALUE' is not callable"),
        (":", r"expected 'pkg.module:function'"),
    ],
)
def test_file_task_errors(user_file: Path, suffix: str, message: str) -> None:
    with pytest.raises(TaskError, match=message):
        get_task(f"{user_file}{suffix}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"no such file .*absent.py"):
        get_task(f"{tmp_path}/absent.py:make_task")


def test_file_that_fails_to_import(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("import not_a_real_module_xyz\n")
    with pytest.raises(TaskError, match=r"importing .*bad.py.*failed.*not_a_real_module_xyz"):
        get_task(f"{path}:make_task")


def test_missing_module() -> None:
    with pytest.raises(TaskError, match=r"no module named 'no_such_pkg.tasks'"):
        get_task("no_such_pkg.tasks:make")
