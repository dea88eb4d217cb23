"""A task's metrics: regression and classification formulas, the task's own, the primary one."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from torch.utils.data import TensorDataset

from lrscope.errors import ParameterError, TaskError
from lrscope.metrics import (
    AGGREGATED_METRICS,
    CLASSIFICATION_SCORING,
    LOSS_SCORING,
    RANK_METRICS,
    REGRESSION_SCORING,
    Scoring,
)
from lrscope.tasks import BatchSteps, Task, TaskMetadata, custom_metric, regression_loss
from lrscope.tasks.scoring import mae, make_scorer, mse, r2, top1


def _pairs(n: int, columns: int) -> st.SearchStrategy[tuple[list[list[float]], list[list[float]]]]:
    value = st.floats(-100, 100, allow_nan=False, width=32)
    row = st.lists(value, min_size=columns, max_size=columns)
    return st.tuples(st.lists(row, min_size=n, max_size=n), st.lists(row, min_size=n, max_size=n))


@settings(max_examples=60, deadline=None)
@given(data=st.integers(2, 12).flatmap(lambda n: st.integers(1, 3).flatmap(lambda c: _pairs(n, c))))
def test_regression_metrics_equal_scikit_learn(data: tuple[list[list[float]], ...]) -> None:
    outputs, targets = (torch.tensor(v, dtype=torch.float32) for v in data)
    o, t = outputs.double().numpy(), targets.double().numpy()
    assert mse(outputs, targets) == pytest.approx(mean_squared_error(t, o), rel=1e-12, abs=1e-12)
    assert mae(outputs, targets) == pytest.approx(mean_absolute_error(t, o), rel=1e-12, abs=1e-12)
    if (t.std(axis=0) > 0).all():
        assert r2(outputs, targets) == pytest.approx(r2_score(t, o), rel=1e-9, abs=1e-9)
    else:
        assert math.isnan(r2(outputs, targets))  # a constant column: R² is undefined


def test_regression_compares_outputs_n_by_1_with_targets_n_sample_by_sample() -> None:
    outputs = torch.tensor([[1.0], [2.0], [4.0]])
    targets = torch.tensor([1.0, 3.0, 3.0])
    assert mse(outputs, targets) == pytest.approx(2 / 3)
    assert float(regression_loss(outputs, targets)) == pytest.approx(2 / 3)
    # torch's own mse_loss would broadcast (3, 1) against (3,) into a 3 x 3 difference
    with pytest.warns(UserWarning, match="broadcast"):
        assert float(torch.nn.functional.mse_loss(outputs, targets)) != pytest.approx(2 / 3)


def test_regression_refuses_outputs_that_do_not_pair_with_the_targets() -> None:
    with pytest.raises(TaskError, match=r"same values per sample, got \(4, 3\) and \(4,\)"):
        mse(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(TaskError, match="classification task needs num_classes"):
        regression_loss(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))


def test_classification_metrics_never_cast_float_targets() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    with pytest.raises(
        TaskError, match=r"need integer class labels, got targets of torch\.float32"
    ):
        top1(logits, torch.tensor([0.4, 0.9]))  # .long() would read both as class 0


def test_custom_metric_validates_its_definition() -> None:
    metric = custom_metric("mape", lambda o, t: 0.0, direction="min", unit="%")
    assert (metric.metric.name, metric.metric.label, metric.metric.unit) == ("mape", "mape", "%")
    with pytest.raises(ParameterError, match="'direction' parameter of Metric"):
        custom_metric("mape", lambda o, t: 0.0, direction="lower")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'name' parameter of Metric must be an identifier"):
        custom_metric("a b", lambda o, t: 0.0, direction="min")
    with pytest.raises(ParameterError, match="'compute' parameter of custom_metric"):
        custom_metric("a", 3.0, direction="min")  # type: ignore[arg-type]


def _data(n: int = 8, classes: bool = False) -> TensorDataset:
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    y = (torch.arange(n) % 2) if classes else x.sum(1, keepdim=True)
    return TensorDataset(x, y)


def test_the_kind_of_task_sets_its_metrics_loss_and_primary() -> None:
    regression = Task("reg", lambda: torch.nn.Linear(3, 1), _data(), _data())
    assert regression.scoring == REGRESSION_SCORING
    assert regression.loss is regression_loss
    classification = Task("cls", lambda: torch.nn.Linear(3, 2), _data(classes=True), _data(), 2)
    assert classification.scoring == CLASSIFICATION_SCORING
    loss_only = Task(
        "steps",
        lambda: torch.nn.Linear(3, 1),
        _data(),
        _data(),
        training_step=lambda model, batch: model(batch[0]).mean(),
    )
    assert loss_only.scoring == LOSS_SCORING
    assert loss_only.loss is None


def test_own_metrics_join_the_kinds_and_may_be_primary() -> None:
    mape = custom_metric("mape", lambda o, t: 0.0, direction="min")
    task = Task(
        "reg",
        lambda: torch.nn.Linear(3, 1),
        _data(),
        _data(),
        metrics=[mape, "mae"],
        primary_metric="mape",
    )
    assert task.scoring.names == ("mse", "mae", "r2", "mape", "test_loss")
    assert task.scoring.primary == "mape"
    assert task.scoring.best.name == "best_mape"
    assert task.metadata is not None
    assert task.metadata.to_dict()["primary_metric"] == "mape"
    assert TaskMetadata.from_dict(task.metadata.to_dict()) == task.metadata


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"primary_metric": "top1"}, r"'primary_metric' parameter of the task 'reg' must be a str"),
        ({"metrics": ["accuracy"]}, r"'metrics' parameter of the task must be a str among"),
        ({"metrics": [3]}, r"list of TaskMetric"),
        (
            {"metrics": [custom_metric("mse", lambda o, t: 0.0, direction="max")]},
            "metrics with distinct names",
        ),
        (
            {"metrics": [custom_metric("top1", lambda o, t: 0.0, direction="min")]},
            "none a built-in's",
        ),
        (
            {"metrics": [custom_metric("best_top1", lambda o, t: 0.0, direction="max")]},
            "none a built-in's",
        ),
        (
            {"metrics": [custom_metric("ld", lambda o, t: 0.0, direction="min")]},
            "none a built-in's",
        ),
        ({"metrics": [custom_metric("best_x", lambda o, t: 0.0, direction="min")]}, "best_"),
    ],
)
def test_bad_metrics_are_parameter_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        Task("reg", lambda: torch.nn.Linear(3, 1), _data(), _data(), **kwargs)  # type: ignore[arg-type]


def test_metrics_of_outputs_need_outputs() -> None:
    mape = custom_metric("mape", lambda o, t: 0.0, direction="min")
    with pytest.raises(ParameterError, match="evaluated by its loss alone"):
        make_scorer(
            BatchSteps(training_step=lambda m, b: torch.ones(())), num_classes=None, metrics=[mape]
        )


def test_scoring_round_trips_through_metadata_and_reads_legacy_tasks() -> None:
    scoring = make_scorer(
        BatchSteps(regression_loss),
        num_classes=None,
        metrics=[custom_metric("mape", lambda o, t: 0.0, direction="min", unit="%")],
    ).scoring
    assert Scoring.from_metadata(scoring.to_metadata()) == scoring
    # tasks stored before tasks declared metrics were classification tasks
    assert (
        Scoring.from_metadata({"dataset": "mnist1d", "num_classes": 10}) == CLASSIFICATION_SCORING
    )
    assert Scoring.from_metadata(None) == CLASSIFICATION_SCORING


def test_regression_ranks_by_its_own_metrics_only() -> None:
    assert REGRESSION_SCORING.get("best_mse", owner="x").direction == "min"
    assert REGRESSION_SCORING.get("r2", owner="x").direction == "max"
    with pytest.raises(ParameterError, match="'metric' parameter of lrscope rank must be"):
        REGRESSION_SCORING.get("top1", owner="lrscope rank")
    # a classification ranks as lrscope always ranked it (a stored ranking reads the same)
    assert tuple(CLASSIFICATION_SCORING.rankable()) == RANK_METRICS
    assert CLASSIFICATION_SCORING.aggregated() == AGGREGATED_METRICS
