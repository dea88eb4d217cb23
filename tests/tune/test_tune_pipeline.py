"""The tuning pipeline end to end on a small task (lrscope.tune.pipeline)."""

from __future__ import annotations

import pytest

from lrscope.engine.result import EvalPoint, TrialResult
from lrscope.errors import ParameterError
from lrscope.store import Store
from lrscope.tune import tune
from lrscope.tune.pipeline import (
    StepCost,
    budget_steps,
    mean_curve,
    measure_step_cost,
    time_to_accuracy,
)

FAMILIES = {"FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "TRI", "TRI2", "TRIEXP", "SIN", "SIN2",
            "SINEXP", "COS", "onecycle", "sgdr"}  # fmt: skip


def _result(spec: str, seed: int, top1s: list[float], every: int = 10) -> TrialResult:
    curve = tuple(
        EvalPoint(step=every * (i + 1), lr=0.1, train_loss=1.0, test_loss=1.0, top1=v, top5=1.0)
        for i, v in enumerate(top1s)
    )
    best = max(range(len(top1s)), key=lambda i: (top1s[i], -i))
    return TrialResult(
        task="t", spec=spec, seed=seed, steps=every * len(top1s), eval_every=every,
        top1=top1s[-1], top5=1.0, best_top1=top1s[best], best_iter=every * (best + 1), ac=0.9,
        cd=0.1, cdac=0.05, ld=0.1, n_params=1, wall_s=1.0, steps_done=every * len(top1s),
        diverged=False, curve=curve,
    )  # fmt: skip


def test_time_to_accuracy_compares_seed_mean_curves() -> None:
    baseline = [_result("FIX", 0, [0.5, 0.7, 0.8, 0.7]), _result("FIX", 1, [0.5, 0.6, 0.8, 0.8])]
    winner = [_result("W", 0, [0.6, 0.85, 0.9, 0.9]), _result("W", 1, [0.6, 0.8, 0.9, 0.9])]
    steps, means = zip(*mean_curve(baseline), strict=True)
    assert steps == (10, 20, 30, 40)
    assert means == pytest.approx((0.5, 0.65, 0.8, 0.75))
    tta = time_to_accuracy(winner, baseline)
    assert tta is not None
    assert tta.target_top1 == pytest.approx(0.8)
    assert (tta.winner_steps, tta.baseline_steps) == (20, 30)
    assert tta.ratio == pytest.approx(2 / 3)
    never = time_to_accuracy([_result("L", 0, [0.1, 0.2, 0.3, 0.4])], baseline)
    assert never is not None
    assert never.winner_steps is None
    assert never.ratio is None


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


def test_step_cost_is_measured_on_the_task(mlp_ref: str) -> None:
    from lrscope.tasks import get_task

    cost = measure_step_cost(get_task(mlp_ref), "FIX(k0=0.1)", steps=50)
    assert 0 < cost.step_s < 0.1
    assert cost.eval_s >= 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({}, "steps"), ({"steps": 4}, "steps"), ({"steps": 100, "seeds": 0}, "seeds"),
     ({"minutes": -1.0}, "minutes"), ({"steps": 100, "survivors": 0}, "survivors")],
)  # fmt: skip
def test_bad_budgets_fail_before_any_work(
    kwargs: dict[str, object], name: str, db_url: str, mlp_ref: str
) -> None:
    with Store.open(db_url) as store, pytest.raises(ParameterError, match=f"'{name}'"):
        tune(mlp_ref, store, executor="local", **kwargs)  # type: ignore[arg-type]
    with Store.open(db_url) as store:
        assert store.trials() == []


def test_tune_stores_everything_ranks_survivors_and_resumes(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        result = tune(mlp_ref, store, steps=96, seeds=2, survivors=2, executor="local")
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
    assert [row["rank"] for row in result.ranking] == [1, 2, 3]
    assert len(result.winner_top1) == 2
    assert result.time_to_accuracy is not None
    assert result.to_dict()["winner_spec"] == result.winner_spec

    with Store.open(db_url) as store:  # a second run resumes: nothing trains twice
        again = tune(mlp_ref, store, steps=96, seeds=2, survivors=2, executor="local")
        assert len(store.trials("blobs4-mlp")) == len(trials)
        assert len(store.range_tests("blobs4-mlp")) == 1  # the range test is reused too
    assert again.winner_spec == result.winner_spec
    assert again.survivors == result.survivors
