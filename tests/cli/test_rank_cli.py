"""``lrscope rank``: JSON rows best first, CSV, table, exit 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.metrics import AGGREGATED_METRICS as METRICS
from lrscope.store import Store

runner = CliRunner()


def result(
    spec: str, seed: int, best_top1: float, best_iter: int, *, diverged: bool = False
) -> dict[str, object]:
    return {
        "task": "toy",
        "spec": spec,
        "seed": seed,
        "steps": 100,
        "eval_every": 10,
        "top1": best_top1,
        "top5": 1.0,
        "best_top1": best_top1,
        "best_iter": best_iter,
        "ac": 0.9,
        "cd": 0.1,
        "cdac": 0.05,
        "ld": 0.2,
        "n_params": 1,
        "wall_s": 2.0,
        "steps_done": 100,
        "diverged": diverged,
        "diverged_at": 5 if diverged else None,
        "curve": [],
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from lrscope.engine.result import TrialResult

    url = f"sqlite:///{tmp_path_factory.mktemp('rank') / 'rank.db'}"
    rows = [
        result("FIX(k0=0.1)", 0, 0.80, 90),
        result("FIX(k0=0.1)", 1, 0.84, 70),
        result("TRI2(k0=0.01, k1=0.1, l=10)", 0, 0.90, 40),
        result("TRI2(k0=0.01, k1=0.1, l=10)", 1, 0.88, 60),
        result("FIX(k0=9.0)", 0, 0.1, 5, diverged=True),
        result("FIX(k0=9.0)", 1, 0.1, 5, diverged=True),
    ]
    with Store.open(url) as store:
        store.put_task("toy", None)
        for row in rows:
            trial = TrialResult.from_dict(row)
            trial_id = store.start_trial(trial.key)
            assert trial_id is not None
            store.finish_trial(trial_id, trial)
    return url


def rank(*args: str) -> tuple[int, str, str]:
    outcome = runner.invoke(app, ["rank", *args], env={"COLUMNS": "200"})
    return outcome.exit_code, outcome.stdout, outcome.stderr


def test_json_rows_best_first_with_every_metric(db: str) -> None:
    code, out, err = rank("--task", "toy", "--db", db, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["spec"] for r in rows] == [
        "TRI2(k0=0.01, k1=0.1, l=10)",
        "FIX(k0=0.1)",
        "FIX(k0=9.0)",
    ]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["best_top1_mean"] == pytest.approx(0.89)
    assert rows[0]["best_iter_mean"] == pytest.approx(50)
    assert rows[0]["pareto"] is True
    assert rows[1]["pareto"] is False
    assert rows[2]["diverged_rate"] == 1.0
    assert rows[2]["best_top1_mean"] is None
    for row in rows:
        assert row["steps"] == 100
        assert row["n"] == 2
        for metric in METRICS:
            assert f"{metric}_mean" in row
            assert f"{metric}_std" in row


def test_metric_choice_changes_the_order(db: str) -> None:
    code, out, _ = rank("--task", "toy", "--db", db, "--metric", "wall_s", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows[-1]["spec"] == "FIX(k0=9.0)"  # NaN means last, whatever the direction
    code, out, _ = rank("--task", "toy", "--db", db, "--metric", "diverged_rate", "--json")
    assert json.loads(out)[-1]["spec"] == "FIX(k0=9.0)"


def test_csv_and_table(db: str) -> None:
    code, out, _ = rank("--task", "toy", "--db", db, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert rows[2]["best_top1_mean"] == ""
    code, out, _ = rank("--task", "toy", "--db", db)
    assert code == 0
    assert "TRI2(k0=0.01, k1=0.1, l=10)" in out
    assert "89.00±1.41" in out


@pytest.fixture
def budgets_db(tmp_path: Path) -> str:
    """``toy``: finished trials at 100 steps, one still running at 4,800; ``empty``: none."""
    from lrscope.engine.result import TrialResult

    url = f"sqlite:///{tmp_path / 'budgets.db'}"
    with Store.open(url) as store:
        store.put_task("toy", None)
        store.put_task("empty", None)
        for seed in (0, 1):
            trial = TrialResult.from_dict(result("FIX(k0=0.1)", seed, 0.8, 90))
            trial_id = store.start_trial(trial.key)
            assert trial_id is not None
            store.finish_trial(trial_id, trial)
        running = TrialResult.from_dict(result("FIX(k0=0.1)", 0, 0.8, 90) | {"steps": 4800})
        assert store.start_trial(running.key) is not None
    return url


@pytest.mark.parametrize("output", [[], ["--json"], ["--format", "csv"]])
def test_a_budget_with_no_stored_trials_exits_2_naming_the_stored_ones(
    budgets_db: str, output: list[str]
) -> None:
    code, out, err = rank("--task", "toy", "--db", budgets_db, "--steps", "7", *output)
    assert code == 2
    assert out == ""
    assert err == (
        f"error: no trials of task 'toy' at 7 steps in {budgets_db}; stored budgets: 100, 4,800\n"
    )


def test_a_stored_budget_with_nothing_finished_is_an_empty_ranking(budgets_db: str) -> None:
    code, out, err = rank("--task", "toy", "--db", budgets_db, "--steps", "4800", "--json")
    assert (code, json.loads(out), err) == (0, [], "")
    code, out, _ = rank("--task", "toy", "--db", budgets_db, "--steps", "4800")
    assert (code, out) == (0, "no finished trials of toy yet\n")
    code, out, _ = rank("--task", "toy", "--db", budgets_db, "--steps", "100", "--json")
    assert code == 0
    assert [(r["spec"], r["steps"], r["n"]) for r in json.loads(out)] == [("FIX(k0=0.1)", 100, 2)]


def test_a_known_task_without_trials_is_an_empty_ranking_at_any_budget(budgets_db: str) -> None:
    """As without ``--steps``: no budget is stored, so none is wrong."""
    for steps in ([], ["--steps", "7"]):
        code, out, err = rank("--task", "empty", "--db", budgets_db, *steps)
        assert (code, out, err) == (0, "no finished trials of empty yet\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope"], "tasks with trials: toy"),
        (["--task", "toy", "--metric", "accuracy"], "'metric' parameter"),
        (["--task", "toy", "--format", "xml"], "--format"),
        (["--task", "toy", "--steps", "7"], "at 7 steps"),
    ],
)
def test_bad_input_exits_2(db: str, args: list[str], message: str) -> None:
    code, out, err = rank(*args, "--db", db)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_missing_database_exits_2(tmp_path: Path) -> None:
    code, _, err = rank("--task", "toy", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2
    assert "no database file" in err
    assert not (tmp_path / "none.db").exists()
