"""lrscope.rank: aggregation over seeds, NaN handling, the one rule, rows apart, Pareto front,
exports, and the table at 80 columns."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.engine.result import TrialResult
from lrscope.errors import LRScopeError, ParameterError
from lrscope.metrics import AGGREGATED_METRICS as METRICS
from lrscope.metrics import (
    CLASSIFICATION_SCORING,
    RANK_METRICS,
    REGRESSION_SCORING,
    Metric,
    Scoring,
)
from lrscope.rank import (
    DEFAULT_TIE,
    PolicyStats,
    TrialLike,
    aggregate,
    order_rows,
    pareto_front,
    rank_trials,
    tie_break_name,
    tie_margin,
)
from lrscope.rank_table import RankingTable
from rank_testlib import RegressionRecord


@dataclasses.dataclass(frozen=True)
class Record:
    """A stored trial as the ranking sees it (the fields of a store TrialRecord it reads)."""

    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    status: str
    top1: float
    top5: float
    best_top1: float
    best_iter: int | None
    ld: float
    ac: float
    cd: float
    cdac: float
    wall_s: float
    n_params: int | None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


def trial(
    spec: str,
    seed: int,
    best_top1: float,
    best_iter: int,
    *,
    status: str = "done",
    steps: int = 100,
    eval_every: int = 10,
    task: str = "t",
    **extra: float,
) -> Record:
    record = Record(
        task=task,
        spec=spec,
        seed=seed,
        steps=steps,
        eval_every=eval_every,
        status=status,
        top1=best_top1 - 0.01,
        top5=1.0,
        best_top1=best_top1,
        best_iter=best_iter,
        ld=0.1,
        ac=0.9,
        cd=0.05,
        cdac=0.02,
        wall_s=1.5,
        n_params=1,
    )
    return dataclasses.replace(record, **extra)  # type: ignore[arg-type]


def test_mean_and_sample_std_over_seeds() -> None:
    rows = aggregate([trial("A", 0, 0.8, 50), trial("A", 1, 0.9, 70), trial("A", 2, 0.7, 60)])
    assert len(rows) == 1
    row = rows[0]
    assert row.n == 3
    assert row.n_diverged == 0
    assert row.diverged_rate == 0.0
    assert row.mean["best_top1"] == pytest.approx(0.8)
    assert row.std["best_top1"] == pytest.approx(statistics.stdev([0.8, 0.9, 0.7]))
    assert row.mean["best_iter"] == pytest.approx(60.0)
    assert row.std["best_iter"] == pytest.approx(10.0)
    assert row.seeds == (0, 1, 2)
    assert set(row.mean) == set(CLASSIFICATION_SCORING.aggregated()) == set(row.std)


def test_groups_by_task_spec_and_steps() -> None:
    rows = aggregate(
        [
            trial("A", 0, 0.8, 5),
            trial("A", 0, 0.9, 5, steps=200),
            trial("B", 0, 0.5, 5),
            trial("A", 1, 0.7, 5),
        ]
    )
    assert [(r.spec, r.steps, r.n) for r in rows] == [("A", 100, 2), ("A", 200, 1), ("B", 100, 1)]


def test_one_seed_has_nan_std() -> None:
    (row,) = aggregate([trial("A", 0, 0.8, 50)])
    assert row.mean["best_top1"] == pytest.approx(0.8)
    assert math.isnan(row.std["best_top1"])


def test_diverged_seeds_are_left_out_of_the_means_and_counted() -> None:
    records = [
        trial("A", 0, 0.8, 50),
        trial("A", 1, 0.1, 10, status="diverged", top1=float("nan")),
        trial("A", 2, 0.9, 70),
    ]
    (row,) = aggregate(records)
    assert row.n == 3
    assert row.n_diverged == 1
    assert row.diverged_rate == pytest.approx(1 / 3)
    assert row.mean["best_top1"] == pytest.approx(0.85)
    assert row.mean["best_iter"] == pytest.approx(60.0)


def test_failed_and_running_trials_are_not_measurements() -> None:
    records = [
        trial("A", 0, 0.8, 50),
        trial("A", 1, 0.0, 0, status="failed"),
        trial("A", 2, 0.0, 0, status="running"),
    ]
    (row,) = aggregate(records)
    assert row.n == 1


def test_nan_metric_in_a_healthy_trial_is_skipped_for_that_metric_only() -> None:
    (row,) = aggregate([trial("A", 0, 0.8, 50, ac=float("nan")), trial("A", 1, 0.6, 30, ac=0.7)])
    assert row.mean["ac"] == pytest.approx(0.7)
    assert row.mean["best_top1"] == pytest.approx(0.7)


def test_rank_by_best_top1_ties_by_fewer_best_iter_fully_diverged_last() -> None:
    records = [
        trial("slow", 0, 0.9, 90),
        trial("slow", 1, 0.9, 90),
        trial("fast", 0, 0.9, 30),
        trial("fast", 1, 0.9, 30),
        trial("worse", 0, 0.7, 10),
        trial("worse", 1, 0.7, 10),
        trial("boom", 0, 0.1, 5, status="diverged"),
        trial("boom", 1, 0.1, 5, status="diverged"),
    ]
    ranking = rank_trials(records)
    assert [r.spec for r in ranking.rows] == ["fast", "slow", "worse", "boom"]
    assert [r.rank for r in ranking.rows] == [1, 2, 3, 4]
    boom = ranking.rows[-1]
    assert boom.diverged_rate == 1.0
    assert math.isnan(boom.mean["best_top1"])


def test_lower_is_better_metrics_rank_ascending() -> None:
    records = [
        trial("A", 0, 0.9, 90, ld=0.5),
        trial("B", 0, 0.8, 90, ld=0.2),
        trial("C", 0, 0.7, 90, ld=0.9),
    ]
    assert [r.spec for r in rank_trials(records, "ld", min_seeds=1).rows] == ["B", "A", "C"]
    assert [r.spec for r in rank_trials(records, "top1", min_seeds=1).rows] == ["A", "B", "C"]


def test_rank_by_diverged_rate() -> None:
    records = [
        trial("A", 0, 0.9, 9),
        trial("A", 1, 0.9, 9, status="diverged"),
        trial("B", 0, 0.5, 9),
        trial("B", 1, 0.5, 9),
    ]
    assert [r.spec for r in rank_trials(records, "diverged_rate").rows] == ["B", "A"]


def test_unknown_metric_is_a_user_error_naming_the_choices() -> None:
    with pytest.raises(LRScopeError, match="best_top1") as info:
        rank_trials([], "accuracy")
    assert isinstance(info.value, ParameterError)
    assert str(info.value).startswith("The 'metric' parameter of the ranking must be a str among")


def test_engine_results_rank_like_store_records() -> None:
    """A TrialResult (no status; diverged flag) is a TrialLike record too."""

    def result(spec: str, seed: int, best_top1: float, diverged: bool = False) -> TrialResult:
        return TrialResult(
            task="t", spec=spec, seed=seed, steps=100, eval_every=10, top1=best_top1,
            top5=1.0, best_top1=best_top1, best_iter=50, ac=0.9, cd=0.05, cdac=0.02,
            ld=0.1, n_params=1, wall_s=1.0, steps_done=100, diverged=diverged,
        )  # fmt: skip

    records: list[TrialLike] = [
        result("A", 0, 0.8),
        result("A", 1, 0.1, diverged=True),
        result("B", 0, 0.9),
    ]
    ranking = rank_trials(records, min_seeds=1)
    assert [(r.spec, r.n, r.n_diverged) for r in ranking.rows] == [("B", 1, 0), ("A", 2, 1)]
    assert ranking.rows[1].mean["best_top1"] == pytest.approx(0.8)


def test_pareto_front_of_accuracy_against_cost() -> None:
    records = [
        trial("best", 0, 0.95, 100),  # most accurate
        trial("cheap", 0, 0.80, 10),  # cheapest
        trial("mid", 0, 0.90, 50),  # trade-off, not dominated
        trial("dom", 0, 0.85, 60),  # dominated by mid
        trial("same", 0, 0.80, 20),  # as accurate as cheap, costlier: dominated
        trial("boom", 0, 0.1, 1, status="diverged"),
    ]
    ranking = rank_trials(records, min_seeds=1)
    front = {r.spec for r in ranking.rows if r.pareto}
    assert front == {"best", "cheap", "mid"}


def test_pareto_front_keeps_exact_duplicates() -> None:
    rows = aggregate([trial("A", 0, 0.9, 10), trial("B", 0, 0.9, 10)])
    assert pareto_front(rows) == [True, True]


def test_json_rows_have_every_metric_and_null_for_nan() -> None:
    records = [trial("A", 0, 0.8, 50), trial("B", 0, 0.1, 1, status="diverged")]
    rows = json.loads(rank_trials(records, min_seeds=1).to_json())
    assert [r["spec"] for r in rows] == ["A", "B"]
    for row in rows:
        for key in ("spec", "steps", "n", "diverged_rate", "rank", "pareto"):
            assert key in row
        for metric in METRICS:
            assert f"{metric}_mean" in row
            assert f"{metric}_std" in row
    assert rows[1]["best_top1_mean"] is None
    assert rows[1]["diverged_rate"] == 1.0
    assert rows[0]["best_top1_std"] is None  # one seed


def test_csv_round_trips_the_rows() -> None:
    records = [trial("TRI2(k0=0.001, k1=0.006, l=20)", s, 0.8 + s / 100, 50) for s in range(3)]
    ranking = rank_trials(records)
    parsed = list(csv.DictReader(io.StringIO(ranking.to_csv())))
    assert len(parsed) == 1
    assert parsed[0]["spec"] == "TRI2(k0=0.001, k1=0.006, l=20)"
    assert float(parsed[0]["best_top1_mean"]) == pytest.approx(0.81)
    assert parsed[0]["seeds"] == "0 1 2"


def test_dataframe_matches_dicts() -> None:
    records = [trial("A", 0, 0.8, 50), trial("A", 1, 0.6, 50), trial("B", 0, 0.9, 10)]
    ranking = rank_trials(records, min_seeds=1)
    frame = ranking.to_dataframe()
    assert list(frame["spec"]) == ["B", "A"]
    assert frame.loc[1, "best_top1_mean"] == pytest.approx(0.7)
    assert {f"{m}_mean" for m in METRICS} <= set(frame.columns)


def _console_lines(renderable: object, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True)
    console.print(renderable)
    return console.export_text().splitlines()


def test_table_renders_every_row_and_the_rows_apart() -> None:
    records = [
        trial("A", 0, 0.8, 50),
        trial("A", 1, 0.9, 70),
        trial("B", 0, 0.1, 1, status="diverged"),
        trial("B", 1, 0.1, 1, status="diverged"),
        trial("C", 0, 0.99, 1),
    ]
    lines = _console_lines(RankingTable(rank_trials(records)), 250)
    row_a = next(line for line in lines if "│ A " in line)
    row_b = next(line for line in lines if "│ B " in line)
    assert "85.00±7.07" in row_a
    assert "60±14" in row_a
    assert "*" in row_a
    assert "100%" in row_b
    assert "-" in row_b
    row_c = next(line for line in lines if "│ C " in line)
    assert "1 seed" in row_c
    assert lines.index(row_c) > lines.index(row_b)  # below, in the table of rows apart


LONG = [
    "onecycle(max_lr=0.343, total_steps=4800, pct_start=0.25, div_factor=25.0)",
    "sgdr(max_lr=0.206, period=686, mult=2, min_lr=0.00391, decay=0.5)",
    "TRIEXP(k0=0.0412, k1=0.214, gamma=0.999521, l=160)",
    "FIX(k0=0.171)",
]


def test_the_table_reads_well_at_80_columns() -> None:
    records = [
        trial(spec, s, 0.9 + i / 100, 50 + s) for i, spec in enumerate(LONG) for s in (0, 1, 2)
    ]
    ranking = rank_trials(records, tie=0)
    lines = _console_lines(RankingTable(ranking, marks={"FIX(k0=0.171)": "FIX baseline"}), 80)
    assert max(len(line) for line in lines) <= 80
    for row in ranking.rows:  # every spec whole, on a line of its own below the table
        (line,) = [line for line in lines if row.spec in line]
        assert line.lstrip().startswith(f"{row.rank}  {row.spec}")
    assert any("FIX(k0=0.171)  [FIX baseline]" in line for line in lines)
    wide = _console_lines(RankingTable(ranking), 250)  # room enough: the specs sit in the table
    assert any(LONG[0] in line and "│" in line for line in wide)


def test_groups_by_spec_steps_and_evaluation_grid() -> None:
    rows = aggregate([trial("A", 0, 0.8, 5), trial("A", 1, 0.9, 5, eval_every=100)])
    assert [(r.spec, r.eval_every, r.n) for r in rows] == [("A", 10, 1), ("A", 100, 1)]


def test_one_seed_other_budgets_and_stopped_trials_are_shown_apart() -> None:
    records = [
        *(trial("A", s, 0.90, 50) for s in (1, 2, 3)),
        *(trial("B", s, 0.80, 50) for s in (1, 2, 3)),
        trial("lucky", 0, 0.99, 50),  # one seed: a search's
        *(trial("A", s, 0.95, 10, steps=50) for s in (1, 2)),  # a shorter budget
        *(trial("C", s, 0.97, 20, status="pruned") for s in (1, 2)),  # stopped early
    ]
    ranking = rank_trials(records)
    assert ranking.steps == 100
    assert [r.spec for r in ranking.rows] == ["A", "B"]
    assert [r.rank for r in ranking.rows] == [1, 2]
    apart = {(r.spec, r.steps): r.apart for r in ranking.apart}
    assert apart == {("lucky", 100): "1 seed", ("A", 50): "other budget",
                     ("C", 100): "stopped early"}  # fmt: skip
    assert not any(r.pareto or r.rank for r in ranking.apart)
    rows = ranking.to_dicts()
    assert [r["rank"] for r in rows] == [1, 2, None, None, None]
    assert rows[2]["apart"]
    assert rows[0]["apart"] is None
    shorter = rank_trials(records, steps=50)
    assert [r.spec for r in shorter.rows] == ["A"]
    assert [r.spec for r in rank_trials(records, min_seeds=1).rows] == ["lucky", "A", "B"]


def test_final_metric_ties_go_to_the_lower_std_then_cost_tie_zero_ranks_by_the_metric() -> None:
    records = [
        *(trial("best", s, 0.910, 90, top1=v) for s, v in ((0, 0.890), (1, 0.910))),
        *(trial("steady", s, 0.910, 60, top1=0.898) for s in (0, 1)),  # tied, std 0
        *(trial("cheap", s, 0.910, 30, top1=v) for s, v in ((0, 0.888), (1, 0.908))),  # tied
        *(trial("far", s, 0.910, 10, top1=0.890) for s in (0, 1)),  # steadiest, not tied
    ]
    ranking = rank_trials(records)
    assert [r.spec for r in ranking.rows] == ["steady", "cheap", "best", "far"]
    assert [r.spec for r in rank_trials(records, tie=0).rows] == ["best", "steady", "cheap", "far"]
    assert ranking.tie == DEFAULT_TIE


def test_best_top1_ties_go_to_the_lower_cost_whatever_the_std() -> None:
    """LRBench's rule where a user can stop at ``best_iter``: the highest accuracy, then cost."""
    records = [
        *(trial("steady", s, 0.910, 90) for s in (0, 1)),
        *(trial("cheap", s, v, 30) for s, v in ((0, 0.900), (1, 0.918))),
    ]
    ranking = rank_trials(records, metric="best_top1")
    assert [r.spec for r in ranking.rows] == ["cheap", "steady"]
    assert tie_break_name("best_top1") == "cost"
    assert tie_break_name("top1") == "std"


@st.composite
def _rows(draw: st.DrawFn) -> list[PolicyStats]:
    n = draw(st.integers(1, 8))
    values = draw(st.lists(st.floats(0.9, 1.0), min_size=2 * n, max_size=2 * n))
    costs = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
    records = [
        trial(f"P{i}", s, 1.0, cost, top1=values[2 * i + s])
        for i, cost in enumerate(costs)
        for s in (0, 1)
    ]
    return aggregate(records)


@settings(max_examples=200, deadline=None)
@given(_rows(), st.sampled_from([0.0, 0.003, 0.02]), st.sampled_from(["top1", "best_top1"]))
def test_each_next_row_is_tied_with_the_best_left_and_first_on_the_tie_break(
    rows: list[PolicyStats], tie: float, name: str
) -> None:
    from lrscope.metrics import get_metric

    metric = get_metric(name)
    ordered = order_rows(rows, metric, tie)
    assert sorted(r.spec for r in ordered) == sorted(r.spec for r in rows)
    for i, row in enumerate(ordered):
        left = ordered[i:]
        best = max(r.mean[name] for r in left)
        assert row.mean[name] >= best - tie - 1e-12
        tied = [r for r in left if r.mean[name] >= best - tie - 1e-12]
        if name == "top1":  # a value of the final model: the most robust, then the cheapest
            key = [(r.std[name], r.mean["best_iter"]) for r in tied]
            assert (row.std[name], row.mean["best_iter"]) == min(key)
        else:
            assert row.mean["best_iter"] <= min(r.mean["best_iter"] for r in tied)


def test_the_default_metric_is_the_task_primary_metric() -> None:
    assert rank_trials([trial("A", 0, 0.9, 5)]).metric == "top1"
    assert rank_trials([], scoring=REGRESSION_SCORING).metric == "mse"


def test_a_regression_ranks_by_its_final_mse_lowest_first() -> None:
    def reg(spec: str, seed: int, mse: float, best: float, best_iter: int) -> RegressionRecord:
        return RegressionRecord(spec, seed, {"mse": mse, "best_mse": best}, best_iter)

    records = [
        reg("LOW", 0, 0.010, 0.009, 90), reg("LOW", 1, 0.012, 0.011, 90),
        reg("HIGH", 0, 0.050, 0.001, 10), reg("HIGH", 1, 0.060, 0.002, 10),
    ]  # fmt: skip
    ranking = rank_trials(records, tie=0, scoring=REGRESSION_SCORING)
    assert [row.spec for row in ranking.rows] == ["LOW", "HIGH"]
    assert ranking.rows[0].mean["mse"] == pytest.approx(0.011)
    assert math.isnan(ranking.rows[0].mean["top1"])
    # the front is best_mse (lower is better) against best_iter: HIGH is best in both
    assert [row.pareto for row in ranking.rows] == [False, True]
    with pytest.raises(ParameterError, match="'best_mse'"):
        rank_trials(records, "top1", scoring=REGRESSION_SCORING)


def test_the_default_tie_is_relative_for_a_metric_on_the_tasks_own_scale() -> None:
    """An MSE of 0.0168 and 0.0188 differ by 12 %: no tie, though 0.002 < DEFAULT_TIE."""

    def reg(spec: str, seed: int, mse: float, best_iter: int) -> RegressionRecord:
        return RegressionRecord(spec, seed, {"mse": mse, "best_mse": mse}, best_iter)

    records = [
        reg("ONECYCLE", 0, 0.0168, 100), reg("ONECYCLE", 1, 0.0168, 100),
        reg("FIX", 0, 0.0188, 94), reg("FIX", 1, 0.0188, 94),
        reg("NEAR", 0, 0.01683, 50), reg("NEAR", 1, 0.01683, 50),  # within 0.3 %: a tie
    ]  # fmt: skip
    ranking = rank_trials(records, scoring=REGRESSION_SCORING)
    assert [row.spec for row in ranking.rows] == ["NEAR", "ONECYCLE", "FIX"]
    mse = REGRESSION_SCORING.rankable()["mse"]
    assert tie_margin(mse, DEFAULT_TIE, 0.0168) == pytest.approx(0.0168 * DEFAULT_TIE)
    top1 = CLASSIFICATION_SCORING.rankable()["top1"]
    assert tie_margin(top1, DEFAULT_TIE, 0.95) == DEFAULT_TIE


def test_rank_metrics_cover_the_lrbench_metrics() -> None:
    assert set(RANK_METRICS) == {*METRICS, "diverged_rate"}


def test_a_policy_that_diverges_on_a_seed_ranks_after_every_one_that_never_does() -> None:
    records = [
        *(trial("steady", s, 0.90, 50, top1=0.90) for s in (0, 1, 2)),
        trial("flaky", 0, 0.99, 50, top1=0.99),
        trial("flaky", 1, 0.99, 50, top1=0.99),
        trial("flaky", 2, 0.10, 5, status="diverged"),
    ]
    ranking = rank_trials(records)
    assert [r.spec for r in ranking.rows] == ["steady", "flaky"]
    assert ranking.rows[1].mean["top1"] == pytest.approx(0.99)  # its numbers stay its own


def test_the_ranked_budget_is_where_most_policies_were_measured() -> None:
    records = [
        *(trial(spec, s, 0.9, 5) for spec in ("A", "B", "C") for s in (1, 2)),  # 3 policies
        *(trial("A", s, 0.8, 5, steps=300) for s in range(16)),  # one policy, longer, 16 seeds
        *(trial(spec, s, 0.9, 5, steps=50) for spec in ("A", "B", "C") for s in (1, 2)),
    ]
    ranking = rank_trials(records)
    assert ranking.steps == 100  # three policies at 100 and at 50: the larger of the two
    assert [r.spec for r in ranking.rows] == ["A", "B", "C"]
    assert {(r.steps, r.apart) for r in ranking.apart} == {(300, "other budget"),
                                                           (50, "other budget")}  # fmt: skip


def _by_own(metric: Metric) -> Scoring:
    lrbench = CLASSIFICATION_SCORING.metrics
    return Scoring(metrics=(*lrbench[:-1], metric, lrbench[-1]), primary=metric.name)


BALANCED = Metric("bal_acc", "bal_acc", "max", "", "balanced accuracy")


def _balanced(spec: str, seed: int, value: float, best: float, best_iter: int) -> Record:
    """A classification trial whose top-1 says the opposite of its balanced accuracy."""
    own = {"bal_acc": value, "best_bal_acc": best}
    record = trial(spec, seed, 1.0 - best, best_iter, top1=1.0 - value)
    return dataclasses.replace(record, metrics=own)


def test_a_classification_ranks_by_its_own_primary_metric_ties_by_std_then_by_cost() -> None:
    records = [
        *(_balanced("best", s, v, 0.95, 90) for s, v in ((0, 0.880), (1, 0.920))),
        *(_balanced("steady", s, 0.899, 0.95, 60) for s in (0, 1)),  # tied, std 0
        *(_balanced("cheap", s, 0.950, b, 10) for s, b in ((0, 0.951), (1, 0.949))),
    ]
    scoring = _by_own(BALANCED)
    ranking = rank_trials(records, scoring=scoring)
    assert ranking.metric == "bal_acc"
    assert [r.spec for r in ranking.rows] == ["cheap", "steady", "best"]
    assert ranking.rows[0].mean["bal_acc"] == pytest.approx(0.950)
    assert [r.spec for r in rank_trials(records, tie=0, scoring=scoring).rows] == [
        "cheap", "best", "steady",
    ]  # fmt: skip
    by_best = rank_trials(records, "best_bal_acc", scoring=scoring)  # all tied: by cost
    assert [r.spec for r in by_best.rows] == ["cheap", "steady", "best"]
    assert (tie_break_name("bal_acc"), tie_break_name("best_bal_acc")) == ("std", "cost")
    # top-1 of the same trials points the other way, in its own direction
    assert [r.spec for r in rank_trials(records, "top1", scoring=scoring).rows][-1] == "cheap"
    # the front: best_bal_acc (higher) against best_iter; cheap dominates both others
    assert [r.pareto for r in ranking.rows] == [True, False, False]
    row = ranking.to_dicts()[0]
    assert (row["bal_acc_mean"], row["best_bal_acc_mean"]) == pytest.approx((0.950, 0.950))
    assert "bal_acc_mean" in ranking.to_csv().splitlines()[0]


def test_a_lower_is_better_own_metric_of_a_classification_ranks_lowest_first() -> None:
    error = Metric("bal_err", "bal_err", "min", "", "balanced error")

    def record(spec: str, seed: int, value: float, best_iter: int) -> Record:
        own = {"bal_err": value, "best_bal_err": value}
        return dataclasses.replace(trial(spec, seed, 0.9, best_iter), metrics=own)

    records = [
        *(record("LOW", s, 0.10, 90) for s in (0, 1)),
        *(record("HIGH", s, 0.30, 10) for s in (0, 1)),
    ]
    ranking = rank_trials(records, scoring=_by_own(error))
    assert [r.spec for r in ranking.rows] == ["LOW", "HIGH"]
    assert [r.pareto for r in ranking.rows] == [True, True]  # lower error, or fewer steps
