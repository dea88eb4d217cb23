"""The tuning pipeline end to end on a small task (lrscope.tune.pipeline)."""

from __future__ import annotations

import pytest

from lrscope.bench import Execution
from lrscope.errors import ParameterError
from lrscope.store import Store
from lrscope.tune import tune
from lrscope.tune.pipeline import DEFAULT_MAX_EPOCHS, StepCost, budget_steps, measure_step_cost

LOCAL = Execution("local")  # full trials one at a time, in this process

FAMILIES = {"FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "TRI", "TRI2", "TRIEXP", "SIN", "SIN2",
            "SINEXP", "COS", "onecycle", "sgdr"}  # fmt: skip


def test_budget_grows_with_time_and_never_drops_below_a_floor() -> None:
    cost = StepCost(step_s=0.002, eval_s=0.02)
    kwargs = {"n_candidates": 15, "survivors": 3, "seeds": 3, "parallel": 1.8,
              "steps_per_epoch": 32}  # fmt: skip
    small = budget_steps(60.0, cost, **kwargs)  # type: ignore[arg-type]
    large = budget_steps(600.0, cost, **kwargs)  # type: ignore[arg-type]
    assert 4 * 32 < small < large
    assert budget_steps(0.01, cost, **kwargs) == 4 * 32  # type: ignore[arg-type]
    # the plan fits: cheap stage + full stage of `large` steps within 600 s
    trials = 4 * 3
    planned = 15 * cost.trial_s(large // 4, 8) + trials * cost.trial_s(large, 30) / 1.8
    assert planned <= 600.0


def test_budget_is_capped_at_whole_epochs() -> None:
    cost = StepCost(step_s=0.002, eval_s=0.02)
    kwargs = {"n_candidates": 15, "survivors": 3, "seeds": 3, "parallel": 1.8,
              "steps_per_epoch": 23}  # fmt: skip
    uncapped = budget_steps(3600.0, cost, **kwargs)  # type: ignore[arg-type]
    assert uncapped > 150 * 23
    assert budget_steps(3600.0, cost, max_epochs=150, **kwargs) == 150 * 23  # type: ignore[arg-type]
    # the cap only bites when the time would allow more
    small = budget_steps(60.0, cost, **kwargs)  # type: ignore[arg-type]
    assert budget_steps(60.0, cost, max_epochs=150, **kwargs) == small  # type: ignore[arg-type]
    assert DEFAULT_MAX_EPOCHS == 150


def test_step_cost_is_measured_on_the_task(mlp_ref: str) -> None:
    from lrscope.tasks import get_task

    cost = measure_step_cost(get_task(mlp_ref), "FIX(k0=0.1)", steps=50)
    assert 0 < cost.step_s < 0.1
    assert cost.eval_s >= 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({}, "steps"), ({"steps": 4}, "steps"), ({"steps": 100, "seeds": 0}, "seeds"),
     ({"minutes": -1.0}, "minutes"), ({"steps": 100, "survivors": 0}, "survivors"),
     ({"steps": 100, "tie": -0.1}, "tie"), ({"steps": 100, "tie": float("nan")}, "tie"),
     ({"minutes": 1.0, "max_epochs": 0}, "max_epochs")],
)  # fmt: skip
def test_bad_budgets_fail_before_any_work(
    kwargs: dict[str, object], name: str, db_url: str, mlp_ref: str
) -> None:
    with Store.open(db_url) as store, pytest.raises(ParameterError, match=f"'{name}'"):
        tune(mlp_ref, store, execution=LOCAL, **kwargs)  # type: ignore[arg-type]
    with Store.open(db_url) as store:
        assert store.trials() == []


def test_tune_stores_everything_ranks_survivors_and_resumes(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        result = tune(mlp_ref, store, steps=96, seeds=2, survivors=2, execution=LOCAL)
        trials = store.trials("blobs4-mlp")
        range_tests = store.range_tests("blobs4-mlp")
    assert len(range_tests) == 1
    assert {c.family for c in result.candidates} == FAMILIES
    cheap = [t for t in trials if t.steps == result.cheap_steps]
    assert len(cheap) == 15
    assert {t.status for t in cheap} <= {"done", "pruned", "diverged"}
    assert all(t.steps_done < t.steps for t in cheap if t.status == "pruned")
    full = [t for t in trials if t.steps == 96]
    assert {t.spec for t in full} == {*result.survivors, result.baseline_spec}
    assert len(full) == (len(result.survivors) + 1) * 2
    assert result.baseline_spec.startswith("FIX(")
    assert len(result.survivors) == 2
    assert result.winner_spec in {*result.survivors, result.baseline_spec}
    assert [row.rank for row in result.ranking] == [1, 2, 3]
    assert len(result.winner_top1) == 2
    assert result.time_to_accuracy is not None
    assert result.to_dict()["winner_spec"] == result.winner_spec
    # the winner is within `tie` of the best final top-1, and no tied policy
    # reached FIX's best top-1 sooner
    best = result.ranking[0].mean["top1"]
    assert result.winner_stats.mean["top1"] >= best - result.tie - 1e-12
    assert result.winner_stats in result.ranking
    assert result.baseline_stats.spec == result.baseline_spec
    assert result.winner_spec in result.tied
    assert result.winner_reason
    reach = dict(result.steps_to_fix_best)
    assert set(reach) == {row.spec for row in result.ranking}
    # the JSON rows keep their keys: the flat row plus steps_to_fix_best
    document = result.to_dict()
    for row, stats in zip(document["ranking"], result.ranking, strict=True):
        assert row == {**stats.to_dict(), "steps_to_fix_best": reach[stats.spec]}
    by_spec = {row["spec"]: row for row in document["ranking"]}
    assert document["winner"] == result.winner == by_spec[result.winner_spec]
    assert document["baseline"] == result.baseline == by_spec[result.baseline_spec]
    won = reach[result.winner_spec]
    for spec in result.tied:
        if won is None:
            assert reach[spec] is None
        elif reach[spec] is not None:
            assert reach[spec] >= won

    with Store.open(db_url) as store:  # a second run resumes: nothing trains twice
        again = tune(mlp_ref, store, steps=96, seeds=2, survivors=2, execution=LOCAL)
        assert len(store.trials("blobs4-mlp")) == len(trials)
        assert len(store.range_tests("blobs4-mlp")) == 1  # the range test is reused too
    assert again.winner_spec == result.winner_spec
    assert again.survivors == result.survivors
