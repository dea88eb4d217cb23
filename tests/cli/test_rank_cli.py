"""``lrscope rank``: JSON rows best first, CSV, table, exit 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
import re
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


# --- the runtime: a row holds the trials of one runtime only ----------------------------

RUNTIME_VALUES = {"": (0.80, 0.84), "accum=2": (0.70, 0.72), "bf16": (0.60, 0.66)}


@pytest.fixture(scope="module")
def runtimes_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """FIX on seeds 0 and 1 three times (fp32, accumulation 2, bf16), TRI2 on fp32."""
    from lrscope.engine.result import TrialResult

    url = f"sqlite:///{tmp_path_factory.mktemp('runtimes') / 'runtimes.db'}"
    rows = [
        result("FIX(k0=0.1)", seed, value, 50) | {"runtime": runtime}
        for runtime, values in RUNTIME_VALUES.items()
        for seed, value in enumerate(values)
    ]
    rows += [result("TRI2(k0=0.01, k1=0.1, l=10)", seed, 0.9, 40) for seed in (0, 1)]
    with Store.open(url) as store:
        store.put_task("toy", None)
        for row in rows:
            trial = TrialResult.from_dict(row)
            trial_id = store.start_trial(trial.key)
            assert trial_id is not None
            store.finish_trial(trial_id, trial)
    return url


def _fix_rows(out: str) -> list[tuple[object, ...]]:
    return [
        (r["rank"], r["precision"], r["grad_accum"], r["n"], r["seeds"], r["top1_mean"], r["apart"])
        for r in json.loads(out)
        if r["spec"] == "FIX(k0=0.1)"
    ]


def test_trials_of_other_runtimes_are_not_averaged_in_as_more_seeds(runtimes_db: str) -> None:
    code, out, err = rank("--task", "toy", "--db", runtimes_db, "--json")
    assert (code, err) == (0, "")
    assert _fix_rows(out) == [
        (2, "fp32", 1, 2, [0, 1], pytest.approx(0.82), None),
        (None, "fp32", 2, 2, [0, 1], pytest.approx(0.71), "other runtime"),
        (None, "bf16", 1, 2, [0, 1], pytest.approx(0.63), "other runtime"),
    ]
    code, out, _ = rank("--task", "toy", "--db", runtimes_db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["spec"][:3], r["precision"], r["grad_accum"], r["n"]) for r in rows] == [
        ("TRI", "fp32", "1", "2"),
        ("FIX", "fp32", "1", "2"),
        ("FIX", "fp32", "2", "2"),
        ("FIX", "bf16", "1", "2"),
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--precision", "bf16"], (1, "bf16", 1, 0.63)),
        (["--grad-accum", "2"], (1, "fp32", 2, 0.71)),
        (["--precision", "FP32", "--grad-accum", "1"], (2, "fp32", 1, 0.82)),  # TRI2 first
    ],
)
def test_precision_and_grad_accum_rank_one_runtime(
    runtimes_db: str, options: list[str], expected: tuple[int, str, int, float]
) -> None:
    code, out, err = rank("--task", "toy", "--db", runtimes_db, *options, "--json")
    assert (code, err) == (0, "")
    rank_, precision, accum, mean = expected
    assert _fix_rows(out) == [(rank_, precision, accum, 2, [0, 1], pytest.approx(mean), None)]
    ranked = [r for r in json.loads(out) if r["rank"] is not None]
    assert {(r["precision"], r["grad_accum"]) for r in ranked} == {(precision, accum)}


def test_the_table_shows_the_runtimes_at_80_columns(runtimes_db: str) -> None:
    outcome = runner.invoke(app, ["rank", "--task", "toy", "--db", runtimes_db],
                            env={"COLUMNS": "80"})  # fmt: skip
    assert outcome.exit_code == 0
    lines = outcome.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("accum=2" in line and "other runtime" in line for line in lines)
    assert any("bf16" in line and "other runtime" in line for line in lines)
    code, out, _ = rank("--task", "toy", "--db", runtimes_db, "--precision", "bf16")
    assert code == 0
    assert "100 steps, bf16," in out.splitlines()[0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--precision", "fp16"], "no trials of task 'toy' on runtime 'fp16'"),
        (["--precision", "bf16", "--grad-accum", "2"], "stored runtimes: accum=2, bf16, fp32"),
        (["--precision", "fp8"], "precision"),
        (["--grad-accum", "0"], "grad_accum_steps"),
    ],
)
def test_a_runtime_without_trials_or_unknown_exits_2(
    runtimes_db: str, options: list[str], message: str
) -> None:
    code, out, err = rank("--task", "toy", "--db", runtimes_db, *options)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.slow
def test_bench_on_three_runtimes_ranks_and_reports_each_apart(tmp_path: Path) -> None:
    """The reviewer's case: FIX benched on 2 seeds in fp32, with accumulation 2 and in bf16."""
    tasks = Path(__file__).resolve().parents[1] / "byo_tasks.py"
    db = f"sqlite:///{tmp_path / 'r.db'}"
    for extra in ([], ["--grad-accum", "2"], ["--precision", "bf16"]):
        args = ["bench", "--task", f"{tasks}:regression", "--policy", "FIX(k0=0.05)", "--seeds",
                "2", "--steps", "6", "--eval-every", "3", "--db", db, "-q", *extra]  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
    code, out, _ = rank("--task", "byo-regression", "--db", db, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["precision"], r["grad_accum"], r["n"], r["seeds"]) for r in rows] == [
        ("fp32", 1, 2, [0, 1]),
        ("fp32", 2, 2, [0, 1]),
        ("bf16", 1, 2, [0, 1]),
    ]
    with Store.open(db, readonly=True) as store:
        stored = store.trials("byo-regression")
    for row in rows:  # each row's mean is over its own runtime's two trials
        identity = ",".join(
            [row["precision"]] * (row["precision"] != "fp32")
            + [f"accum={row['grad_accum']}"] * (row["grad_accum"] > 1)
        )
        values = [t.metrics["mse"] for t in stored if t.runtime == identity]
        assert len(values) == 2
        assert row["mse_mean"] == pytest.approx(sum(values) / 2, rel=1e-12)
    page = tmp_path / "report.html"
    report = runner.invoke(app, ["report", "--db", db, "-o", str(page)])
    assert report.exit_code == 0, report.output
    text = page.read_text(encoding="utf-8")
    (ranking,) = re.findall(r'<table class="sortable ranking".*?</table>', text, flags=re.S)
    assert ranking.count("<tr") == 2  # the header and one row: fp32's
    (apart,) = re.findall(r'<table class="sortable apart".*?</table>', text, flags=re.S)
    assert "Runtime" in apart
    assert apart.count(">other runtime<") == 2
    assert ">accum=2</td>" in apart
    assert ">bf16</td>" in apart
