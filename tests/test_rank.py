"""lrscope.rank: aggregation over seeds, NaN handling, ordering, Pareto front, exports."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import statistics

import pytest

from lrscope.engine.result import TrialResult
from lrscope.errors import LRScopeError, ParameterError
from lrscope.metrics import AGGREGATED_METRICS as METRICS
from lrscope.metrics import CLASSIFICATION_SCORING, RANK_METRICS
from lrscope.rank import TrialLike, aggregate, pareto_front, rank_trials


@dataclasses.dataclass(frozen=True)
class Record:
    """A stored trial as the ranking sees it (the fields of a store TrialRecord it reads)."""

    task: str
    spec: str
    seed: int
    steps: int
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
    task: str = "t",
    **extra: float,
) -> Record:
    record = Record(
        task=task,
        spec=spec,
        seed=seed,
        steps=steps,
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
    assert [r.spec for r in rank_trials(records, "ld").rows] == ["B", "A", "C"]
    assert [r.spec for r in rank_trials(records, "top1").rows] == ["A", "B", "C"]


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
    ranking = rank_trials(records)
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
    ranking = rank_trials(records)
    front = {r.spec for r in ranking.rows if r.pareto}
    assert front == {"best", "cheap", "mid"}


def test_pareto_front_keeps_exact_duplicates() -> None:
    rows = aggregate([trial("A", 0, 0.9, 10), trial("B", 0, 0.9, 10)])
    assert pareto_front(rows) == [True, True]


def test_json_rows_have_every_metric_and_null_for_nan() -> None:
    records = [trial("A", 0, 0.8, 50), trial("B", 0, 0.1, 1, status="diverged")]
    rows = json.loads(rank_trials(records).to_json())
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
    ranking = rank_trials(records)
    frame = ranking.to_dataframe()
    assert list(frame["spec"]) == ["B", "A"]
    assert frame.loc[1, "best_top1_mean"] == pytest.approx(0.7)
    assert {f"{m}_mean" for m in METRICS} <= set(frame.columns)


def test_table_renders_every_row() -> None:
    from rich.console import Console

    records = [
        trial("A", 0, 0.8, 50),
        trial("A", 1, 0.9, 70),
        trial("B", 0, 0.1, 1, status="diverged"),
    ]
    console = Console(width=250, record=True)
    console.print(rank_trials(records).table())
    lines = console.export_text().splitlines()
    row_a = next(line for line in lines if "│ A " in line)
    row_b = next(line for line in lines if "│ B " in line)
    assert "85.00±7.07" in row_a
    assert "60±14" in row_a
    assert "*" in row_a
    assert "100%" in row_b
    assert "-" in row_b


def test_rank_metrics_cover_the_lrbench_metrics() -> None:
    assert set(RANK_METRICS) == {*METRICS, "diverged_rate"}
