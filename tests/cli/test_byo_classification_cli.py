"""A classification task's own metrics through rank, report, tune and recommend.

A task with ``num_classes`` and ``metrics=[custom_metric(...)]`` ranks by its
own metrics, in their declared direction, exactly as a regression task does:
as its primary metric (the default of every command, with
``best_<primary>`` on the Pareto front) and through ``--metric`` when top-1
stays primary. Before, every command but ``bench`` exited 2 on such a task,
and the whole-store report with it. The tasks are in ``tests/byo_tasks.py``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app

runner = CliRunner()
TASKS = Path(__file__).resolve().parents[1] / "byo_tasks.py"
BY_BALANCED_ACCURACY = f"{TASKS}:classes_by_balanced_accuracy"
BY_BALANCED_ERROR = f"{TASKS}:classes_by_balanced_error"
WITH_BALANCED_ACCURACY = f"{TASKS}:classes_with_balanced_accuracy"
SPECS = ["FIX(k0=0.003)", "FIX(k0=0.05)", "TRI(k0=0.01, k1=0.3, l=6)"]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def lrscope(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> Any:
    code, out, err = lrscope(*args)
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def bench(task: str, db: str) -> None:
    policies = [arg for spec in SPECS for arg in ("--policy", spec)]
    summary = ok(
        "bench", "--task", task, *policies, "--seeds", "2", "--steps", "24",
        "--eval-every", "6", "--db", db, "--json",
    )  # fmt: skip
    assert (summary["total"], summary["failed"]) == (6, 0)


def is_descending(values: list[float]) -> bool:
    return all(a >= b for a, b in itertools.pairwise(values))


@pytest.mark.slow
def test_a_custom_primary_metric_ranks_reports_tunes_and_recommends(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'classes.db'}"
    bench(BY_BALANCED_ACCURACY, db)
    task = "byo-classes-bal"
    rows = ok("rank", "--task", task, "--db", db, "--tie", "0", "--json")
    assert len(rows) == 3
    final = [row["bal_acc_mean"] for row in rows]
    assert all(0 < v <= 1 for v in final)
    assert is_descending(final)  # the primary metric at the end, higher is better
    assert all(math.isfinite(row["best_bal_acc_mean"]) for row in rows)
    assert all(row["top1_mean"] is not None for row in rows)  # LRBench's columns kept
    front = sorted((row for row in rows if row["pareto"]), key=lambda r: r["best_iter_mean"])
    assert max(rows, key=lambda r: r["best_bal_acc_mean"])["pareto"]
    assert all(
        a["best_bal_acc_mean"] < b["best_bal_acc_mean"] for a, b in itertools.pairwise(front)
    )
    header = next(
        csv.reader(io.StringIO(ok("rank", "--task", task, "--db", db, "--format", "csv")))
    )
    assert {"bal_acc_mean", "bal_acc_std", "best_bal_acc_mean", "top1_mean"} <= set(header)
    table = ok("rank", "--task", task, "--db", db)
    assert f"{task}: ranked by bal_acc, 24 steps, ties within 0.003 by std" in table
    by_best = ok("rank", "--task", task, "--db", db, "--metric", "best_bal_acc")
    assert "ranked by best_bal_acc, 24 steps, ties within 0.003 by cost" in by_best
    by_top1 = ok("rank", "--task", task, "--db", db, "--metric", "top1", "--tie", "0", "--json")
    assert is_descending([row["top1_mean"] for row in by_top1])

    page = tmp_path / "report.html"
    ok("report", "-o", str(page), "--db", db)  # the whole store, this task in it
    html = page.read_text(encoding="utf-8")
    assert "ranked by mean bal_acc over seeds" in html
    assert "<h3>Test bal_acc during training</h3>" in html
    assert "<h3>Best bal_acc against cost</h3>" in html

    tuned = ok(
        "tune", "--task", BY_BALANCED_ACCURACY, "--steps", "32", "--trials", "4",
        "--round-size", "4", "--seeds", "3", "--finalists", "3", "--tie", "0",
        "--executor", "local", "--db", db, "--json", "--quiet",
    )  # fmt: skip
    assert (tuned["metric"], tuned["primary_metric"]) == ("bal_acc", "bal_acc")
    means = [row["bal_acc_mean"] for row in tuned["ranking"]]
    assert len(means) >= 2
    assert is_descending(means)
    assert tuned["summary"]["winner"]["bal_acc_mean"] == means[0]

    advice = ok(
        "recommend", "--task", BY_BALANCED_ACCURACY, "--no-range-test", "--db", db, "--json"
    )
    assert advice["primary_metric"] == "bal_acc"
    assert advice["recommendations"]
    assert all("bal_acc" in r["evidence"]["mean"] for r in advice["recommendations"])


@pytest.mark.slow
def test_a_lower_is_better_custom_primary_ranks_lowest_first(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'classes.db'}"
    bench(BY_BALANCED_ERROR, db)
    rows = ok("rank", "--task", "byo-classes-err", "--db", db, "--tie", "0", "--json")
    errors = [row["bal_err_mean"] for row in rows]
    assert len(errors) == 3
    assert errors == sorted(errors)
    front = [row for row in rows if row["pareto"]]
    assert min(rows, key=lambda r: r["best_bal_err_mean"]) in front
    table = ok("rank", "--task", "byo-classes-err", "--db", db)
    assert "ranked by bal_err, 24 steps, ties within 0.003 by std" in table


@pytest.mark.slow
def test_a_custom_metric_beside_top1_ranks_with_metric(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'classes.db'}"
    bench(WITH_BALANCED_ACCURACY, db)
    task = "byo-classes"
    rows = ok("rank", "--task", task, "--db", db, "--metric", "bal_acc", "--tie", "0", "--json")
    assert is_descending([row["bal_acc_mean"] for row in rows])
    default = ok("rank", "--task", task, "--db", db, "--json")
    assert all(row["bal_acc_mean"] is not None for row in default)  # a column by default
    header = next(
        csv.reader(io.StringIO(ok("rank", "--task", task, "--db", db, "--format", "csv")))
    )
    assert "bal_acc_mean" in header
    assert "best_bal_acc_mean" not in header  # only the primary metric's best is kept
    code, out, err = lrscope("rank", "--task", task, "--db", db, "--metric", "best_bal_acc")
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert "'bal_acc'" in err
    assert "'best_top1'" in err
    page = tmp_path / "report.html"
    ok("report", "-o", str(page), "--db", db, "--metric", "bal_acc")
    assert "ranked by mean bal_acc over seeds" in page.read_text(encoding="utf-8")
