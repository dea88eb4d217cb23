"""Trials, evaluation and range tests on batches of every structure, and on regression.

The faults of the issue were: float targets truncated by the evaluation (a
regression's test loss reported against zeros, top-1 1.0), and batches that
are not ``(x, y)`` tensors failing with "'str' object has no attribute 'to'"
(dicts), "too many values to unpack" (3-tuples) and "'list' object has no
attribute 'to'" (a list of inputs). Every task below trains the same function
of the same data, so they must agree with each other and with an independent
float64 replay.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from byo_tasks import (
    dict_batches,
    list_inputs,
    regression,
    slipped_regression,
    step_only,
    three_tensors,
    waves,
)
from lrscope.engine import evaluate, run_trial
from lrscope.errors import TaskError
from lrscope.rangetest import range_test
from lrscope.tasks import Task

STRUCTURES = [dict_batches, three_tensors, list_inputs, step_only]


def _true_mse(model: nn.Module, seed: int, n: int) -> float:
    """The model's mean squared error on the data, recomputed in float64 on a copy."""
    x, y = waves(n, seed)
    net = copy.deepcopy(model).double().eval()
    body = getattr(net, "body", net)
    with torch.no_grad():
        out = body(x.double())
    return float(((out - y.double()) ** 2).mean())


@pytest.mark.parametrize("make", STRUCTURES, ids=lambda f: f.__name__)
def test_every_batch_structure_trains_like_plain_pairs(make: Callable[[], Task]) -> None:
    reference = run_trial(regression(), "FIX(k0=0.01)", steps=24, seed=2, eval_every=12)
    result = run_trial(make(), "FIX(k0=0.01)", steps=24, seed=2, eval_every=12)
    assert not result.diverged
    assert result.metrics["test_loss"] == pytest.approx(reference.metrics["test_loss"], rel=1e-5)
    assert [p.train_loss for p in result.curve] == pytest.approx(
        [p.train_loss for p in reference.curve], rel=1e-5
    )


def test_regression_trial_reports_the_true_mse_and_nan_lrbench_columns(tmp_path: object) -> None:
    from pathlib import Path

    weights = Path(str(tmp_path)) / "final.pt"
    task = regression()
    result = run_trial(task, "FIX(k0=0.01)", steps=36, seed=0, eval_every=12, save_weights=weights)
    model = task.model()
    model.load_state_dict(torch.load(weights, weights_only=True))
    true_mse = _true_mse(model, 1, 64)
    assert result.metrics["mse"] == pytest.approx(true_mse, rel=1e-5)
    assert result.metrics["test_loss"] == pytest.approx(true_mse, rel=1e-5)
    assert 0.0 < result.metrics["mse"] < 0.2  # against zeros it would be the targets' mean square
    assert result.primary_metric == "mse"
    for name in ("top1", "top5", "best_top1", "ac", "cd", "cdac"):
        assert math.isnan(getattr(result, name))


def test_best_iter_follows_the_primary_metrics_direction() -> None:
    # Adam at this rate reaches its lowest test MSE inside the run, then wobbles above it
    result = run_trial(regression(), "FIX(k0=0.05)", steps=60, seed=0, eval_every=5)
    values = [p.primary for p in result.curve]
    assert not result.diverged
    assert min(values) < values[-1]
    assert max(values) > values[-1]
    # the loss is MSE: the primary metric (float64) is the test loss (float32)
    assert values == pytest.approx([p.test_loss for p in result.curve], rel=1e-5)
    best = min(values)
    assert result.metrics["best_mse"] == best
    assert result.best_iter == result.curve[values.index(best)].step < 60
    assert result.best == best


def test_evaluate_reads_dicts_and_loss_only_tasks() -> None:
    task = dict_batches()
    model = task.model()
    ev = evaluate(model, task.test_data, task)
    assert ev.loss == pytest.approx(_true_mse(model, 1, 64), rel=1e-5)
    assert ev.value("mse") == pytest.approx(ev.loss, rel=1e-6)
    only = step_only()
    loss = evaluate(model, only.test_data, only)
    assert loss.metrics == {}
    assert loss.loss == pytest.approx(ev.loss, rel=1e-5)  # a sample-weighted mean of batch means


@pytest.mark.parametrize("make", [regression, *STRUCTURES], ids=lambda f: f.__name__)
def test_range_test_validation_loss_is_the_true_mse(make: Callable[[], Task]) -> None:
    task = make()
    result = range_test(task, steps=20, end_lr=0.1, eval_every=10, eval_samples=64, seed=1)
    assert len(result.evals) == 2
    for point in result.evals:
        assert 0.0 < point.test_loss < 1.0
        assert math.isnan(point.top1)  # no accuracy on a regression


def test_range_test_validation_loss_equals_a_float64_replay() -> None:
    """The acceptance: eval losses equal the MSE of the same weights, replayed in float64."""
    task = regression()
    seen: list[float] = []

    class Replay(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = task.model()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:  # the test-subset evaluation
                seen.append(_true_mse(self.body, 1, 64))
            out: torch.Tensor = self.body(x)
            return out

    replayed = Task("replay", Replay, task.train_data, task.test_data, batch_size=16)
    result = range_test(replayed, steps=30, end_lr=0.1, eval_every=10, eval_samples=64, seed=1)
    assert [p.test_loss for p in result.evals] == pytest.approx(seen, rel=1e-5)


def test_a_loss_that_broadcasts_outputs_against_targets_is_refused_by_trials_and_range_tests() -> (
    None
):
    """torch's mse_loss of (16, 1) against (16,) trains towards the mean target; it only warns."""
    task = slipped_regression()
    with pytest.raises(TaskError, match=r"broadcasts them to \(16, 16\)"):
        run_trial(task, "FIX(k0=0.01)", steps=5)
    with pytest.raises(TaskError, match=r"broadcasts them to \(16, 16\)"):
        range_test(task)


@pytest.mark.filterwarnings("ignore:Using a target size")  # torch's, on (1, 1) vs (1,)
def test_a_loss_that_broadcasts_only_on_the_joined_test_outputs_is_refused_at_evaluation() -> None:
    """Batches of one do not broadcast ((1, 1) against (1,)); the test set's outputs do."""
    with pytest.raises(TaskError, match=r"broadcasts them to \(64, 64\)"):
        run_trial(slipped_regression(batch_size=1), "FIX(k0=0.01)", steps=3)
