"""lrscope.metrics: one table of metrics, read by rank, tune, the report and the CLI."""

from __future__ import annotations

import math
import re

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.engine.result import TrialResult
from lrscope.errors import ParameterError
from lrscope.metrics import (
    AGGREGATED_METRICS,
    CLASSIFICATION_METRICS,
    CLASSIFICATION_SCORING,
    LOSS_SCORING,
    METRICS,
    RANK_METRICS,
    REGRESSION_SCORING,
    Metric,
    Scoring,
    get_metric,
    metric_help,
)
from lrscope.report.model import METRICS as REPORT_COLUMNS
from lrscope.report.model import table_columns


def test_rank_metrics_are_the_aggregated_ones_and_the_divergence_share() -> None:
    assert (*AGGREGATED_METRICS, "diverged_rate") == RANK_METRICS
    assert set(AGGREGATED_METRICS) == set(CLASSIFICATION_METRICS)
    # every aggregated metric is a field of a trial's result
    assert set(AGGREGATED_METRICS) <= set(TrialResult.__dataclass_fields__)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_is_described_once_with_a_direction(name: str) -> None:
    metric = METRICS[name]
    assert metric.name == name
    assert metric.direction in ("max", "min")
    assert metric.label
    assert metric.description
    assert metric.higher_is_better == (metric.direction == "max")
    assert metric.better(1.0, 0.0) == metric.higher_is_better
    assert not metric.better(math.nan, 0.0)
    assert metric.better(0.0, math.nan)


def test_sort_key_puts_the_best_first_and_nan_last() -> None:
    values = [0.5, math.nan, 0.9, 0.1]
    top1, ld = get_metric("top1"), get_metric("ld")
    assert sorted(values, key=top1.sort_key)[:3] == [0.9, 0.5, 0.1]
    assert sorted(values, key=ld.sort_key)[:3] == [0.1, 0.5, 0.9]
    assert math.isnan(sorted(values, key=top1.sort_key)[-1])


def test_format_uses_the_display_unit() -> None:
    assert get_metric("top1").format(0.91234, 0.0071) == "91.23±0.71"
    assert get_metric("best_iter").format(60.0, 14.1) == "60±14"
    assert get_metric("wall_s").format(1.25) == "1.2"
    assert get_metric("ld").format(math.nan) == "-"


def test_unknown_names_get_the_one_message_shape() -> None:
    with pytest.raises(ParameterError) as info:
        get_metric("accuracy", owner="lrscope rank")
    message = str(info.value)
    assert message.startswith("The 'metric' parameter of lrscope rank must be a str among {")
    assert message.endswith("Got 'accuracy' instead.")
    for name in RANK_METRICS:
        assert repr(name) in message
    with pytest.raises(ParameterError):
        get_metric("mse")  # a regression metric: known, but not one a ranking orders by
    assert get_metric("mse", among=METRICS).direction == "min"


def test_the_report_table_reads_the_metric_table() -> None:
    assert all(column is METRICS[column.name] for column in REPORT_COLUMNS)


@pytest.mark.parametrize("command", ["rank", "tune", "report"])
def test_metric_help_of_every_command_comes_from_the_table(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert " ".join(metric_help().split()) in text
    for name in RANK_METRICS:
        better = "higher" if METRICS[name].higher_is_better else "lower"
        assert re.search(rf"\b{name} \({better} is better\)", text)


def test_a_loss_is_in_nats_for_a_classification_only() -> None:
    assert CLASSIFICATION_SCORING.loss_unit == "nats"
    assert CLASSIFICATION_SCORING.rankable()["ld"] is METRICS["ld"]  # as it always was
    for scoring in (REGRESSION_SCORING, LOSS_SCORING):
        assert scoring.loss_unit == "loss units"
        table = scoring.rankable()
        assert (table["ld"].unit, table["test_loss"].unit) == ("loss units", "loss units")
        assert table["ld"].direction == "min"
        assert scoring.get("ld", owner="t").unit == "loss units"


def test_loss_units_leave_the_recorded_definitions_as_stored() -> None:
    """Only the display changes: a task's metadata (and so its fingerprint) stays."""
    recorded = REGRESSION_SCORING.to_metadata()
    assert {d["name"]: d["unit"] for d in recorded["metrics"]}["test_loss"] == ""
    assert Scoring.from_metadata(recorded) == REGRESSION_SCORING
    assert "ld" not in {d["name"] for d in recorded["metrics"]}


BALANCED = Metric("bal_acc", "Balanced acc", "max", "fraction", "mean recall over the classes")
ERROR = Metric("bal_err", "Balanced error", "min", "", "1 - balanced accuracy")


def _classification(*own: Metric, primary: str = "top1") -> Scoring:
    lrbench = CLASSIFICATION_SCORING.metrics
    return Scoring(metrics=(*lrbench[:-1], *own, lrbench[-1]), primary=primary)


@pytest.mark.parametrize("metric", [BALANCED, ERROR], ids=["max", "min"])
def test_a_classification_ranks_by_its_own_primary_metric_as_a_regression_does(
    metric: Metric,
) -> None:
    scoring = _classification(metric, primary=metric.name)
    assert scoring.is_classification
    table = scoring.rankable()
    best = f"best_{metric.name}"
    assert list(table) == [*RANK_METRICS, metric.name, best]
    assert table[metric.name] is metric  # in its declared direction, as declared
    assert (table[best].direction, table[best].unit) == (metric.direction, metric.unit)
    assert scoring.aggregated() == (*AGGREGATED_METRICS, metric.name, best)
    assert scoring.get(scoring.default_rank_metric, owner="t") is metric
    assert scoring.get(best, owner="t").direction == metric.direction
    # a regression with the same metric primary ranks by the same names beyond its own
    regression = Scoring(metrics=(*REGRESSION_SCORING.metrics, metric), primary=metric.name)
    assert {metric.name, best} <= set(regression.rankable())
    assert regression.aggregated()[-2:] == (metric.name, best)


def test_a_classification_metric_beside_top1_is_rankable_without_a_best() -> None:
    scoring = _classification(BALANCED)
    assert scoring.own_metrics() == (METRICS["top1"], BALANCED)
    assert list(scoring.rankable()) == [*RANK_METRICS, "bal_acc"]
    assert scoring.aggregated() == (*AGGREGATED_METRICS, "bal_acc")
    with pytest.raises(ParameterError, match="'bal_acc'"):
        scoring.get("best_bal_acc", owner="the ranking")  # only the primary's best is kept


def test_lrbench_scoring_ranks_and_aggregates_as_it_always_did() -> None:
    assert list(CLASSIFICATION_SCORING.rankable()) == list(RANK_METRICS)
    assert all(CLASSIFICATION_SCORING.rankable()[n] is METRICS[n] for n in RANK_METRICS)
    assert CLASSIFICATION_SCORING.aggregated() == AGGREGATED_METRICS
    assert CLASSIFICATION_SCORING.own_metrics() == (METRICS["top1"],)
    assert table_columns(CLASSIFICATION_SCORING) == REPORT_COLUMNS


def test_a_classification_ranked_by_its_test_loss_has_it_in_nats() -> None:
    scoring = _classification(primary="test_loss")
    table = scoring.rankable()
    assert (table["test_loss"].unit, table["best_test_loss"].direction) == ("nats", "min")
    assert scoring.aggregated()[-2:] == ("test_loss", "best_test_loss")


def test_the_report_shows_a_classifications_own_metrics_after_lrbenchs() -> None:
    by_own = table_columns(_classification(BALANCED, primary="bal_acc"))
    assert [m.name for m in by_own] == [
        *(m.name for m in REPORT_COLUMNS),
        "bal_acc",
        "best_bal_acc",
    ]
    beside = table_columns(_classification(ERROR))
    assert [m.name for m in beside][-1] == "bal_err"
    assert beside[-1].direction == "min"
