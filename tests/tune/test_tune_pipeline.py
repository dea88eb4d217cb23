"""The tuning pipeline end to end on a small task (lrscope.tune.pipeline)."""

from __future__ import annotations

import pytest

from lrscope.bench import Execution
from lrscope.errors import ParameterError
from lrscope.ladder import ladder_steps
from lrscope.rank import rank
from lrscope.store import Store
from lrscope.tune import FAMILIES, TuneBudget, tune
from lrscope.tune.budget import EVALS_PER_TRIAL

LOCAL = Execution("local", batch_trials="auto")  # in this process, each round one group
STEPS, TRIALS = 96, 20


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({}, "steps"), ({"steps": 4}, "steps"), ({"steps": 100, "confirm_seeds": 2}, "confirm_seeds"),
     ({"minutes": -1.0}, "minutes"), ({"steps": 100, "finalists": 2}, "finalists"),
     ({"steps": 100, "tie": -0.1}, "tie"), ({"steps": 100, "tie": float("nan")}, "tie"),
     ({"minutes": 1.0, "max_epochs": 0}, "max_epochs"), ({"trials": 0}, "trials"),
     ({"steps": 100, "sampler": "grid"}, "sampler"), ({"steps": 100, "round_size": 0},
     "round_size"), ({"steps": 100, "metric": "accuracy"}, "metric"),
     ({"budget": TuneBudget(steps=100), "trials": 3}, "trials")],
)  # fmt: skip
def test_bad_budgets_and_options_fail_before_any_work(
    kwargs: dict[str, object], name: str, db_url: str, mlp_ref: str
) -> None:
    with Store.open(db_url) as store, pytest.raises(ParameterError, match=f"'{name}'"):
        tune(mlp_ref, store, execution=LOCAL, **kwargs)  # type: ignore[arg-type]
    with Store.open(db_url) as store:
        assert store.trials() == []
        assert store.range_tests() == []


def test_tune_searches_confirms_ranks_and_times_the_winner(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        result = tune(mlp_ref, store, steps=STEPS, trials=TRIALS, execution=LOCAL)
        trials = store.trials("blobs4-mlp")
        assert len(store.range_tests("blobs4-mlp")) == 1
    plan = result.plan
    assert (plan.steps, plan.search_trials, plan.round_size) == (STEPS, TRIALS, 16)
    assert plan.eval_every == STEPS // EVALS_PER_TRIAL
    assert plan.confirm_seeds == (1, 2, 3)

    # the search: every family's centre first, then TPE; one seed, one evaluation
    assert [p.family for p in result.search[: len(FAMILIES)]] == list(FAMILIES)
    assert len(result.search) == TRIALS
    search = [t for t in trials if t.seed == 0 and t.steps == STEPS and t.eval_every == STEPS]
    assert {t.spec for t in search} == {p.spec for p in result.search}

    # the confirmation: 4 finalists and FIX on three fresh seeds
    assert len(result.finalists) == 4
    assert result.baseline_spec == f"FIX(k0={result.bounds.suggested_lr})"
    assert result.baseline_spec not in result.finalists
    confirmed = [t for t in trials if t.eval_every == plan.eval_every and t.steps == STEPS]
    assert {t.spec for t in confirmed} == {*result.finalists, result.baseline_spec}
    assert {t.seed for t in confirmed} == {1, 2, 3}
    assert len(confirmed) == 15

    # the ranking: the confirmed policies ranked, the rest apart; the winner is rank 1
    assert [r.rank for r in result.ranking.rows] == [1, 2, 3, 4, 5]
    assert {r.spec for r in result.ranking.rows} == {*result.finalists, result.baseline_spec}
    assert result.winner == result.ranking.rows[0]
    assert result.baseline.spec == result.baseline_spec
    assert {r.apart for r in result.ranking.apart} <= {"1 seed", "other budget"}
    assert len(result.winner_values) == 3
    assert result.winner_reason

    # the ladder: winner and FIX at 1/16 .. 1/2 of the budget on the confirmation seeds
    tta = result.time_to_accuracy
    assert [r.steps for r in tta.rungs] == [*ladder_steps(STEPS), STEPS]
    ladder = [t for t in trials if t.steps in ladder_steps(STEPS) and t.seed in (1, 2, 3)]
    roles = 1 if result.winner_spec == result.baseline_spec else 2
    assert len(ladder) == roles * 3 * len(ladder_steps(STEPS))
    assert tta.baseline_steps is not None
    assert tta.rungs[-1].baseline == pytest.approx(sorted(result.baseline_values)[1])

    # compute spent: every trial touched, and the range test's steps
    assert result.compute.trials == len(trials)
    assert result.compute.steps > sum(t.steps_done or 0 for t in trials)
    summary = result.summary()
    assert summary["winner"]["spec"] == result.winner_spec
    assert summary["baseline"]["rank"] == result.baseline.rank
    lines = result.summary_lines()
    assert all(len(line) <= 80 for line in lines if result.winner_spec not in line)
    assert f"          {result.winner_spec}" in lines  # the spec whole, on its own line

    with Store.open(db_url) as store:  # a second run resumes: nothing trains twice
        again = tune(mlp_ref, store, steps=STEPS, trials=TRIALS, execution=LOCAL)
        assert len(store.trials("blobs4-mlp")) == len(trials)
        assert len(store.range_tests("blobs4-mlp")) == 1  # the range test is reused too
        stored = rank(store, "blobs4-mlp")
    assert again.winner_spec == result.winner_spec
    assert [p.spec for p in again.search] == [p.spec for p in result.search]
    assert again.to_dict()["ranking"] == result.to_dict()["ranking"]
    # lrscope rank ranks the store the same way: the same rows, the same numbers
    assert [r.to_dict() for r in stored.rows] == result.to_dict()["ranking"]


def test_a_minutes_budget_is_sized_from_stored_timing_trials(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        result = tune(mlp_ref, store, minutes=0.5, trials=16, max_epochs=12, execution=LOCAL)
        timing = [t for t in store.trials("blobs4-mlp") if t.steps in (16, 48)]
        again = tune(mlp_ref, store, minutes=0.5, trials=16, max_epochs=12, execution=LOCAL)
    assert len(timing) == 2 * 16  # two rounds of one round's size, stored like every trial
    assert result.plan.steps <= 12 * 8  # at most max_epochs epochs
    assert result.plan.note == "steps sized to 0.5 minutes"
    assert again.plan == result.plan  # sized from the stored timing: the same plan
    assert {r.apart for r in result.ranking.apart} >= {"other budget"}
