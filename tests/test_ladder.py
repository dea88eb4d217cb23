"""Time to accuracy on the budget ladder: medians per rung, FIX's best, the smallest budget,
and the ladder found in a store's trials."""

from __future__ import annotations

import dataclasses
import math

import pytest

from lrscope.ladder import stored_ladder, time_to_accuracy
from lrscope.metrics import get_metric
from lrscope.rank import rank_trials

TOP1 = get_metric("top1")


def test_the_smallest_budget_reaching_fix_best_median() -> None:
    # FIX saturates at 1600 steps (the best median, 0.956, is reached there first);
    # the winner reaches it at 1200: ratio 0.75 (the mnist1d-cnn shape of issue 14)
    fix = {300: [0.80, 0.82, 0.81], 1200: [0.915, 0.91, 0.92], 1600: [0.955, 0.956, 0.96],
           4800: [0.956, 0.95, 0.96]}  # fmt: skip
    win = {300: [0.90, 0.91, 0.90], 1200: [0.96, 0.955, 0.962], 1600: [0.961, 0.96, 0.97],
           4800: [0.966, 0.964, 0.97]}  # fmt: skip
    tta = time_to_accuracy(win, fix, TOP1)
    assert tta.target == pytest.approx(0.956)
    assert tta.baseline_steps == 1600
    assert tta.winner_steps == 1200
    assert tta.ratio == pytest.approx(0.75)
    assert [r.steps for r in tta.rungs] == [300, 1200, 1600, 4800]
    assert tta.rungs[1].winner == pytest.approx(0.96)
    assert "ratio 0.75" in tta.sentence()


def test_a_winner_that_never_reaches_the_target_has_no_ratio() -> None:
    tta = time_to_accuracy({100: [0.5], 200: [0.6]}, {100: [0.7], 200: [0.65]}, TOP1)
    assert tta.winner_steps is None
    assert tta.ratio is None
    assert tta.baseline_steps == 100
    assert "never" in tta.sentence()


def test_a_diverged_seed_counts_as_the_worst_value() -> None:
    # two of three seeds diverged at 100 steps: the median there is the worst, not a number
    tta = time_to_accuracy({100: [0.9, math.nan, math.nan], 200: [0.9, 0.9, 0.9]},
                           {100: [0.8, 0.8, 0.8], 200: [0.85, 0.85, 0.85]}, TOP1)  # fmt: skip
    assert tta.rungs[0].winner == -math.inf
    assert tta.winner_steps == 200
    assert tta.to_dict()["rungs"][0]["winner_median"] is None


def test_lower_is_better_metrics_reach_from_above() -> None:
    loss = get_metric("ld")
    tta = time_to_accuracy({10: [0.5], 20: [0.2]}, {10: [0.4], 20: [0.3]}, loss)
    assert tta.target == pytest.approx(0.3)
    assert (tta.winner_steps, tta.baseline_steps) == (20, 20)


def test_a_baseline_without_finite_medians() -> None:
    tta = time_to_accuracy({10: [0.5]}, {10: [math.nan]}, TOP1)
    assert tta.baseline_steps is None
    assert tta.ratio is None
    assert "no finite median" in tta.sentence()
    assert "time to accuracy" not in tta.sentence()  # the caller names the measure once


@dataclasses.dataclass(frozen=True)
class Trial:
    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    top1: float
    status: str = "done"
    n_params: int = 1
    best_top1: float = 0.9
    best_iter: int = 1

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


def _ladder_store() -> list[Trial]:
    trials = []
    seeds = (1, 2, 3)
    for seed in seeds:  # the confirmation at 800 steps, evaluated every 80
        trials += [Trial("t", "onecycle(max_lr=0.3, total_steps=800)", seed, 800, 80, 0.96),
                   Trial("t", "SIN(k0=0.01, k1=0.1, l=80)", seed, 800, 80, 0.94),
                   Trial("t", "FIX(k0=0.1)", seed, 800, 80, 0.95)]  # fmt: skip
        for steps, win, fix in ((100, 0.90, 0.85), (200, 0.95, 0.93), (400, 0.96, 0.95)):
            spec = f"onecycle(max_lr=0.3, total_steps={steps})"
            trials += [Trial("t", spec, seed, steps, steps, win),
                       Trial("t", "FIX(k0=0.1)", seed, steps, steps, fix)]  # fmt: skip
    trials.append(Trial("t", "onecycle(max_lr=0.5, total_steps=800)", 0, 800, 800, 0.99))
    return trials


def test_the_ladder_a_tune_stored_is_found_and_timed() -> None:
    trials = _ladder_store()
    ranking = rank_trials(trials)
    assert ranking.rows[0].spec.startswith("onecycle")
    tta = stored_ladder(trials, ranking)
    assert tta is not None
    assert [r.steps for r in tta.rungs] == [100, 200, 400, 800]
    assert tta.target == pytest.approx(0.95)
    assert (tta.winner_steps, tta.baseline_steps) == (200, 400)
    assert tta.ratio == pytest.approx(0.5)


def test_no_ladder_without_shorter_fix_trials_or_with_an_ambiguous_rung() -> None:
    trials = [t for t in _ladder_store() if t.steps in (800,)]
    assert stored_ladder(trials, rank_trials(trials)) is None
    trials = _ladder_store()
    # a second onecycle spec at 200 steps on every seed: that rung is ambiguous, left out
    trials += [
        Trial("t", "onecycle(max_lr=0.2, total_steps=200)", s, 200, 200, 0.5) for s in (1, 2, 3)
    ]
    tta = stored_ladder(trials, rank_trials(trials))
    assert tta is not None
    assert [r.steps for r in tta.rungs] == [100, 200, 400, 800]
    assert math.isnan(tta.rungs[1].winner)
    assert tta.winner_steps == 400
