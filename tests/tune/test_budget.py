"""The tune budget and the plan it is sized into: what is given is kept, the rest fits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.ladder import ladder_steps
from lrscope.tune.budget import (
    DEFAULT_MAX_EPOCHS,
    DEFAULT_SEARCH_TRIALS,
    EVALS_PER_TRIAL,
    MAX_SIZED_ROUNDS,
    MIN_EPOCHS,
    SAFETY,
    StepCost,
    TuneBudget,
    TunePlan,
    size_plan,
    timing_steps,
)

COST = StepCost(step_s=0.0005, eval_s=0.03)
SEEDS = (1, 2, 3)


def plan(
    budget: TuneBudget, cost: StepCost | None = COST, spent: float = 0.0, epoch: int = 32
) -> TunePlan:
    return size_plan(
        budget,
        steps_per_epoch=epoch,
        round_size=16,
        finalists=4,
        search_seed=0,
        confirm_seeds=SEEDS,
        cost=cost,
        spent_s=spent,
    )


def test_a_budget_needs_one_of_steps_minutes_trials() -> None:
    with pytest.raises(ParameterError, match="'steps' parameter of the tune budget"):
        TuneBudget()
    with pytest.raises(ParameterError, match="'minutes'"):
        TuneBudget(minutes=0)
    with pytest.raises(ParameterError, match="'trials'"):
        TuneBudget(trials=0)
    with pytest.raises(ParameterError, match="'steps'"):
        TuneBudget(steps=4)
    assert TuneBudget(steps=100).describe() == "100 steps per trial"


def test_what_is_given_is_kept() -> None:
    p = plan(TuneBudget(steps=960, trials=20), cost=None)
    assert (p.steps, p.search_trials, p.round_size) == (960, 20, 16)
    assert p.eval_every == 960 // EVALS_PER_TRIAL
    assert p.confirm_seeds == SEEDS
    assert p.ladder == (60, 120, 240, 480)
    assert p.trials == 20 + 5 * 3 + 2 * 3 * 4
    assert p.trial_steps == (20 + 15) * 960 + 6 * (60 + 120 + 240 + 480)
    # steps alone: the default search; trials alone: the epoch cap
    assert plan(TuneBudget(steps=960), cost=None).search_trials == DEFAULT_SEARCH_TRIALS
    assert plan(TuneBudget(trials=8), cost=None).steps == DEFAULT_MAX_EPOCHS * 32
    assert plan(TuneBudget(trials=8), cost=None).round_size == 8


def test_minutes_size_the_steps_up_to_the_epoch_cap_then_more_rounds() -> None:
    short = plan(TuneBudget(minutes=1.0))
    long = plan(TuneBudget(minutes=60.0))
    assert short.steps < long.steps == DEFAULT_MAX_EPOCHS * 32
    assert short.steps % 32 == 0  # whole epochs
    assert short.search_trials == 32  # two rounds while the steps are sized
    assert long.search_trials == MAX_SIZED_ROUNDS * 16  # time left: more rounds, whole ones
    for p, minutes in ((short, 1.0), (long, 60.0)):
        assert p.estimate_s is not None
        assert p.estimate_s <= SAFETY * minutes * 60.0


def test_spent_seconds_come_off_the_minutes() -> None:
    fresh = plan(TuneBudget(minutes=2.0, max_epochs=None))
    spent = plan(TuneBudget(minutes=2.0, max_epochs=None), spent=40.0)
    assert spent.steps < fresh.steps


def test_a_budget_too_small_gets_the_floor() -> None:
    p = plan(TuneBudget(minutes=0.01))
    assert p.steps == MIN_EPOCHS * 32
    assert p.search_trials == 16


def test_minutes_with_steps_size_the_search_only() -> None:
    p = plan(TuneBudget(minutes=5.0, steps=480))
    assert p.steps == 480
    assert p.search_trials % 16 == 0
    assert p.estimate_s is not None
    assert p.estimate_s <= SAFETY * 300


def test_a_minutes_budget_to_size_needs_a_cost() -> None:
    with pytest.raises(ParameterError, match="'cost'"):
        plan(TuneBudget(minutes=1.0), cost=None)
    assert plan(TuneBudget(minutes=1.0, steps=100, trials=4), cost=None).steps == 100


@settings(max_examples=80, deadline=None)
@given(
    st.floats(0.5, 120.0),
    st.floats(1e-5, 1e-2),
    st.floats(0.0, 0.5),
    st.integers(1, 200),
    st.floats(0.0, 30.0),
)
def test_sizing_is_a_pure_function_that_fits(
    minutes: float, step_s: float, eval_s: float, epoch: int, spent: float
) -> None:
    cost = StepCost(step_s, eval_s)
    budget = TuneBudget(minutes=minutes)
    first = plan(budget, cost, spent, epoch)
    assert first == plan(budget, cost, spent, epoch)  # a resumed tune sizes the same plan
    assert first.steps <= DEFAULT_MAX_EPOCHS * epoch
    assert first.steps % epoch == 0 or first.steps == 8
    floor = max(MIN_EPOCHS * epoch, 8)
    if first.steps > floor:  # not the floor: it fits
        assert first.estimate_s is not None
        assert first.estimate_s <= SAFETY * minutes * 60.0 - spent + 1e-9


def test_step_cost_from_two_timing_rounds() -> None:
    cost = StepCost.from_timing([1.2, 1.2], [3.2, 3.2], (100, 300), workers=2)
    assert cost.step_s == pytest.approx(0.005)  # (3.2 - 1.2) / 2 / 200
    assert cost.eval_s == pytest.approx(0.1)  # 0.6 - 100 * 0.005
    noisy = StepCost.from_timing([2.0], [1.0], (100, 300), workers=1)
    assert noisy.step_s == pytest.approx(1.0 / 300)


def test_timing_and_ladder_budgets() -> None:
    assert timing_steps(32) == (64, 192)
    assert timing_steps(2) == (16, 48)
    assert ladder_steps(4800) == (300, 600, 1200, 2400)
    assert ladder_steps(16) == (8,)  # never below 8 steps, never the full budget
