"""Momentum sweep and weight-decay search on the tiny task."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from byo_tasks import regression
from lrscope.engine import run_trial
from lrscope.errors import ParameterError
from lrscope.rangetest import SweepResult, SweepRow, momentum_sweep, weight_decay_search
from lrscope.rangetest.sweep import _Override, default_sweep_steps
from spec_testlib import unrounded

from .tiny import bn_model, make_task


def test_override_sets_every_group_and_the_defaults() -> None:
    sgd = _Override(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "momentum", 0.8)
    opt = sgd(bn_model().parameters())
    assert [g["momentum"] for g in opt.param_groups] == [0.8]
    assert opt.defaults["momentum"] == 0.8
    adam = _Override(lambda p: torch.optim.Adam(p, betas=(0.9, 0.99)), "momentum", 0.85)
    assert adam(bn_model().parameters()).param_groups[0]["betas"] == (0.85, 0.99)
    wd = _Override(lambda p: torch.optim.SGD(p, lr=0.1), "weight_decay", 3e-4)
    assert wd(bn_model().parameters()).param_groups[0]["weight_decay"] == 3e-4


def test_optimizer_without_momentum_is_a_named_error() -> None:
    task = replace(make_task(), optimizer=lambda p: torch.optim.Adagrad(p, lr=0.1))
    with pytest.raises(ParameterError, match="momentum"):
        momentum_sweep(task, lr=0.1, momenta=(0.9,), steps=10)


def test_momentum_sweep_runs_each_candidate_and_picks_the_lowest_test_loss() -> None:
    result = momentum_sweep(make_task(), lr=0.2, momenta=(0.0, 0.9), steps=24, seeds=(0, 1))
    assert [r.value for r in result.rows] == [0.0, 0.9]
    assert all(r.phase == "sweep" and len(r.test_losses) == 2 for r in result.rows)
    assert result.best == min(result.rows, key=lambda r: r.test_loss).value
    assert result.lr == 0.2
    assert result.lr_method == "given"
    assert "cycle_momentum=false" in result.policy
    # the candidate momentum really reaches the optimizer: the runs differ
    assert result.rows[0].test_losses != result.rows[1].test_losses
    back = SweepResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert back == result


def test_weight_decay_search_is_coarse_then_fine_around_the_best() -> None:
    result = weight_decay_search(make_task(), lr=0.2, coarse=(0.3, 1e-5), steps=40)
    coarse = [r for r in result.rows if r.phase == "coarse"]
    fine = [r for r in result.rows if r.phase == "fine"]
    assert [r.value for r in coarse] == [0.3, 1e-5]
    # a weight decay of 0.3 at lr 0.2 shrinks the weights faster than the data can fit them
    by_value = {r.value: r for r in coarse}
    assert by_value[1e-5].test_loss < by_value[0.3].test_loss
    assert [r.value for r in fine] == pytest.approx([3e-6, 3e-5])
    assert result.best in {r.value for r in result.rows}
    assert all(math.isfinite(r.test_loss) for r in result.rows)


def test_sweep_without_lr_uses_the_range_test_peak_rounded() -> None:
    result = momentum_sweep(make_task(), momenta=(0.9,), steps=12)
    assert result.lr_method.startswith("range_test:")
    assert result.lr > 0
    assert unrounded(result.policy) == {}
    assert result.lr == float(f"{result.lr:.3g}")
    assert f"max_lr={result.lr:g}," in result.policy


def test_a_given_lr_is_kept_as_given() -> None:
    result = momentum_sweep(make_task(), lr=0.123456, momenta=(0.9,), steps=12)
    assert result.lr == 0.123456
    assert "max_lr=0.123456," in result.policy


def test_classification_rows_report_the_final_top1() -> None:
    task = make_task()
    result = momentum_sweep(task, lr=0.2, momenta=(0.9,), steps=12, seeds=(0, 1))
    row = result.rows[0]
    assert (result.metric, row.metric) == ("top1", "top1")
    spec = result.policy
    finals = [run_trial(task, spec, steps=12, seed=s, eval_every=12).top1 for s in (0, 1)]
    assert row.primary == pytest.approx(sum(finals) / 2)
    assert row.top1 == row.primary
    assert 0.0 <= row.top1 <= 1.0


def test_regression_rows_report_the_final_mse_not_a_nan_top1() -> None:
    task = regression()
    result = momentum_sweep(task, lr=0.01, momenta=(0.8, 0.9), steps=12)
    assert result.metric == "mse"
    spec = result.policy
    for row in result.rows:
        assert row.metric == "mse"
        variant = replace(task, optimizer=_Override(task.optimizer, "momentum", row.value))
        final = run_trial(variant, spec, steps=12, seed=0, eval_every=12).metrics["mse"]
        assert row.primary == pytest.approx(final)
        assert math.isfinite(row.primary)
        assert row.primary > 0
        assert math.isnan(row.top1)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["metric"] == "mse"
    assert all(r["metric"] == "mse" and r["primary"] > 0 for r in data["rows"])
    assert "top1" not in data["rows"][0]
    assert SweepResult.from_dict(data) == result


def test_rows_written_before_rows_named_their_metric_still_read() -> None:
    old = {
        "value": 0.9,
        "phase": "sweep",
        "test_loss": 0.5,
        "top1": 0.75,
        "diverged": False,
        "test_losses": [0.5],
    }
    row = SweepRow.from_dict(old)
    assert (row.metric, row.primary, row.top1) == ("top1", 0.75, 0.75)
    assert SweepRow.from_dict({**old, "top1": None}).primary != 0.75
    document = {
        "task": "t",
        "parameter": "momentum",
        "best": 0.9,
        "lr": 0.1,
        "lr_method": "given",
        "policy": "onecycle(max_lr=0.1, total_steps=20, cycle_momentum=false)",
        "steps": 20,
        "seeds": [0],
        "rows": [old],
    }
    assert SweepResult.from_dict(document).metric == "top1"


def test_bad_candidates_are_named() -> None:
    with pytest.raises(ParameterError, match="momenta"):
        momentum_sweep(make_task(), lr=0.1, momenta=(1.5,))
    with pytest.raises(ParameterError, match="fine_factor"):
        weight_decay_search(make_task(), lr=0.1, fine_factor=1.0)
    with pytest.raises(ParameterError, match="steps"):
        weight_decay_search(make_task(), lr=0.1, steps=3)


def test_default_sweep_steps() -> None:
    assert default_sweep_steps(12) == 300
    assert default_sweep_steps(40) == 400
    assert default_sweep_steps(391) == 1000
