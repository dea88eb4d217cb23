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
    Scoring,
    get_metric,
    metric_help,
)
from lrscope.report.model import METRICS as REPORT_COLUMNS


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
