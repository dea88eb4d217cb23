"""Tasks that go wrong on purpose, for the fault tests (``fault_tasks.py:<function>``).

Each is a tiny two-class problem (40 samples of 2 features, batches of 8)
with one defect: labels outside ``0 .. num_classes - 1``, inputs the model
cannot take, a model without parameters, a factory or model that calls
``sys.exit``, a name with matplotlib's mathtext dollars. ``make_slow`` trains
normally but sleeps in every forward pass and touches the file named by
``$LRSCOPE_TEST_MARKER`` first, so a test knows the run is under way before it
sends a signal.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import Task

DOLLAR_NAME = r"cost $5 and $\frac{x$"
"""A task name that mathtext cannot parse: drawing it as a formula raises."""


def _data(labels: list[int], features: int = 2, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(len(labels), features, generator=generator)
    return TensorDataset(inputs, torch.tensor(labels))


def _good_labels() -> list[int]:
    return [0, 1] * 20


def _task(name: str, train: TensorDataset, *, test: TensorDataset | None = None,
          model: type[nn.Module] | None = None) -> Task:  # fmt: skip
    return Task(
        name=name,
        model=model or (lambda: nn.Linear(2, 2)),
        train_data=train,
        test_data=test if test is not None else train,
        num_classes=2,
        batch_size=8,
    )


def make_good() -> Task:
    return _task("fault-good", _data(_good_labels()))


def make_label_too_big() -> Task:
    return _task("label-too-big", _data([0, 1, 5, 1] * 10))


def make_label_negative() -> Task:
    return _task("label-negative", _data([0, 1, -1, 1] * 10))


def make_wrong_shape() -> Task:
    return _task("wrong-shape", _data(_good_labels(), features=3))


def make_no_parameters() -> Task:
    return _task("no-parameters", _data(_good_labels()), model=nn.Identity)


def make_bad_test_labels() -> Task:
    return _task("bad-test-labels", _data(_good_labels()), test=_data([0, 7] * 20, seed=1))


def make_exits() -> Task:
    sys.exit(0)


class _ExitingModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.exit(0)


def make_model_exits() -> Task:
    return _task("model-exits", _data(_good_labels()), model=_ExitingModel)


def make_dollar() -> Task:
    return _task(DOLLAR_NAME, _data(_good_labels()))


class _SlowModel(nn.Module):
    """A linear model that sleeps 20 ms per forward pass and marks that training started."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        marker = os.environ.get("LRSCOPE_TEST_MARKER")
        if marker:
            Path(marker).touch()
        time.sleep(0.02)
        out: torch.Tensor = self.linear(x)
        return out


def make_slow() -> Task:
    return _task("slow", _data(_good_labels() * 5), model=_SlowModel)
