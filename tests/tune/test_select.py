"""Winner selection: utility, then cost (lrscope.tune.select)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.engine.result import EvalPoint, TrialResult
from lrscope.errors import ParameterError
from lrscope.metrics import AGGREGATED_METRICS
from lrscope.rank import PolicyStats
from lrscope.tune.select import (
    DEFAULT_TIE,
    check_tie,
    mean_curve,
    pick_winner,
    time_to_accuracy,
)


def _result(spec: str, seed: int, top1s: list[float], every: int = 10) -> TrialResult:
    curve = tuple(
        EvalPoint(
            step=every * (i + 1),
            lr=0.1,
            train_loss=1.0,
            test_loss=1.0,
            top1=v,
            top5=1.0,
            primary=v,
        )
        for i, v in enumerate(top1s)
    )
    best = max(range(len(top1s)), key=lambda i: (top1s[i], -i))
    return TrialResult(
        task="t", spec=spec, seed=seed, steps=every * len(top1s), eval_every=every,
        top1=top1s[-1], top5=1.0, best_top1=top1s[best], best_iter=every * (best + 1), ac=0.9,
        cd=0.1, cdac=0.05, ld=0.1, n_params=1, wall_s=1.0, steps_done=every * len(top1s),
        diverged=False, curve=curve,
    )  # fmt: skip


def _row(
    spec: str, top1: float = math.nan, diverged_rate: float = 0.0, **means: float
) -> PolicyStats:
    """A ranking row of 3 seeds whose ``top1`` mean (and ``means``) are given."""
    mean = dict.fromkeys(AGGREGATED_METRICS, math.nan)
    mean.update(top1=top1, **means)
    n_diverged = round(3 * diverged_rate)
    return PolicyStats(
        task="t", spec=spec, steps=40, n=3, n_diverged=n_diverged, n_params=1,
        mean=mean, std=dict.fromkeys(AGGREGATED_METRICS, math.nan),
    )  # fmt: skip


FIX = [_result("FIX", 0, [0.5, 0.7, 0.8, 0.7]), _result("FIX", 1, [0.5, 0.6, 0.8, 0.8])]
# seed-mean curves: FIX 0.5 0.65 0.8 0.75 (best 0.8 at step 30)
CURVES = {
    "FIX": FIX,
    "SLOW": [_result("SLOW", 0, [0.5, 0.6, 0.7, 0.85])],  # best final, reaches 0.8 at 40
    "FAST": [_result("FAST", 0, [0.6, 0.82, 0.83, 0.84])],  # reaches 0.8 at 20
    "NEVER": [_result("NEVER", 0, [0.5, 0.6, 0.7, 0.79])],
}


def test_time_to_accuracy_compares_seed_mean_curves() -> None:
    baseline = FIX
    winner = [_result("W", 0, [0.6, 0.85, 0.9, 0.9]), _result("W", 1, [0.6, 0.8, 0.9, 0.9])]
    steps, means = zip(*mean_curve(baseline), strict=True)
    assert steps == (10, 20, 30, 40)
    assert means == pytest.approx((0.5, 0.65, 0.8, 0.75))
    tta = time_to_accuracy(winner, baseline)
    assert tta is not None
    assert tta.target == pytest.approx(0.8)
    assert tta.metric == "top1"
    assert (tta.winner_steps, tta.baseline_steps) == (20, 30)
    assert tta.ratio == pytest.approx(2 / 3)
    never = time_to_accuracy([_result("L", 0, [0.1, 0.2, 0.3, 0.4])], baseline)
    assert never is not None
    assert never.winner_steps is None
    assert never.ratio is None
    assert time_to_accuracy([], baseline) is None


def test_zero_tie_picks_the_best_metric() -> None:
    rows = [_row("SLOW", 0.85), _row("FAST", 0.84), _row("FIX", 0.75)]
    won = pick_winner(rows, CURVES, "FIX", "top1", tie=0.0)
    assert won.row.spec == "SLOW"
    assert won.tied == ("SLOW",)
    assert won.steps_to_target == {"SLOW": 40, "FAST": 20, "FIX": 30}
    assert won.reason == "best top1"


def test_a_tie_goes_to_the_first_to_reach_fix_best() -> None:
    rows = [_row("SLOW", 0.85), _row("FAST", 0.84), _row("FIX", 0.75)]
    won = pick_winner(rows, CURVES, "FIX", "top1", tie=0.02)
    assert won.row.spec == "FAST"
    assert won.tied == ("SLOW", "FAST")
    assert "tie" in won.reason


def test_a_faster_policy_outside_the_tie_never_wins() -> None:
    rows = [_row("SLOW", 0.85), _row("FAST", 0.84), _row("FIX", 0.75)]
    assert pick_winner(rows, CURVES, "FIX", "top1", tie=0.009).row.spec == "SLOW"


def test_reaching_the_target_beats_never_reaching_it() -> None:
    rows = [_row("NEVER", 0.86), _row("SLOW", 0.85)]
    won = pick_winner(rows, CURVES, "FIX", "top1", tie=0.05)
    assert won.row.spec == "SLOW"
    assert won.steps_to_target["NEVER"] is None


def test_the_best_keeps_the_win_when_no_tied_policy_is_faster() -> None:
    rows = [_row("FAST", 0.85), _row("SLOW", 0.849)]
    won = pick_winner(rows, CURVES, "FIX", "top1", tie=0.01)
    assert won.row.spec == "FAST"
    assert won.reason.startswith("best top1, and first")


def test_more_divergence_is_never_a_tie() -> None:
    rows = [_row("SLOW", 0.85), _row("FAST", 0.85, diverged_rate=1 / 3)]
    assert pick_winner(rows, CURVES, "FIX", "top1", tie=0.05).row.spec == "SLOW"


def test_lower_is_better_metrics_tie_from_below() -> None:
    # ``ld`` (loss difference) is lower-is-better: the tie band lies above the best
    rows = [_row("SLOW", ld=0.10), _row("FAST", ld=0.11)]
    assert pick_winner(rows, CURVES, "FIX", "ld", tie=0.02).row.spec == "FAST"
    assert pick_winner(rows, CURVES, "FIX", "ld", tie=0.005).row.spec == "SLOW"


def test_empty_rows_are_an_error() -> None:
    with pytest.raises(ParameterError, match="'rows'"):
        pick_winner([], CURVES, "FIX", "top1")


def test_unknown_metrics_and_bad_ties_are_errors_of_pick_winner() -> None:
    rows = [_row("SLOW", 0.85)]
    with pytest.raises(ParameterError, match="'metric' parameter of pick_winner"):
        pick_winner(rows, CURVES, "FIX", "accuracy")
    with pytest.raises(ParameterError, match="'tie' parameter of pick_winner"):
        pick_winner(rows, CURVES, "FIX", "top1", tie=-1.0)


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, True, "0.1"])
def test_bad_ties_are_rejected(bad: object) -> None:
    with pytest.raises(ParameterError, match="'tie'"):
        check_tie(bad)  # type: ignore[arg-type]
    assert check_tie(DEFAULT_TIE) == DEFAULT_TIE
    assert check_tie(0) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    finals=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6),
    tie=st.floats(0.0, 0.2),
    data=st.data(),
)
def test_the_winner_is_tied_with_the_best_and_no_tied_policy_is_faster(
    finals: list[float], tie: float, data: st.DataObject
) -> None:
    specs = [f"P{i}" for i in range(len(finals))]
    curves: dict[str, list[TrialResult]] = {"FIX": FIX}
    for spec in specs:
        points = data.draw(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
        curves[spec] = [_result(spec, 0, points)]
    rows = sorted((_row(s, f) for s, f in zip(specs, finals, strict=True)),
                  key=lambda r: -r.mean["top1"])  # fmt: skip
    won = pick_winner(rows, curves, "FIX", "top1", tie=tie)
    best = rows[0].mean["top1"]
    assert won.row.mean["top1"] >= best - tie - 1e-12
    mine = won.steps_to_target[won.row.spec]
    for spec in won.tied:
        other = won.steps_to_target[spec]
        if mine is None:
            assert other is None
        elif other is not None:
            assert other >= mine
