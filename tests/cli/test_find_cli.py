"""``lrscope find`` in-process: JSON document, store, plot, sweeps, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.rangetest import RangeTestResult, suggest
from lrscope.store import Store
from spec_testlib import unrounded

TASK = f"{Path(__file__).parents[1] / 'rangetest' / 'tiny.py'}:make_task"
REGRESSION = f"{Path(__file__).parents[1] / 'byo_tasks.py'}:regression"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'find.db'}"


def _find(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["find", "--task", TASK, "--quiet", "--json", *args])
    assert result.exit_code == 0, result.output + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)  # a JSON document: any shape
    return data


def test_json_has_the_headline_numbers_curves_and_is_stored(db: str, tmp_path: Path) -> None:
    plot = tmp_path / "rt.png"
    data = _find("--steps", "60", "--end-lr", "1e6", "--db", db, "--plot", str(plot))
    for key in ("suggested_lr", "min_lr", "max_lr", "onecycle_max_lr", "diverged_at", "lr"):
        assert key in data
    found = data["suggestions"]
    assert isinstance(found, dict)
    assert data["suggested_lr"] == found["suggested_lr"]["lr"]
    assert found["max_lr"]["method"] == "fall_stops"
    assert isinstance(data["lr"], list)
    assert len(data["lr"]) == data["steps_done"]
    assert len(data["loss"]) == len(data["smoothed_loss"]) == len(data["lr"])
    assert data["diverged_at"] is not None  # end lr 1e6 diverges
    # the JSON is a whole RangeTestResult; its suggestions are suggest() of its curves
    back = RangeTestResult.from_dict(data)
    assert back.suggestions == suggest(back)
    with Store.open(db) as store:
        records = store.range_tests("tiny-blobs-bn")
    assert len(records) == 1
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_human_output_lists_suggestions_and_divergence(db: str) -> None:
    result = runner.invoke(app, ["find", "--task", TASK, "--steps", "40", "--quiet", "--db", db])
    assert result.exit_code == 0, result.output
    for text in ("suggested_lr", "min_lr", "max_lr", "min_div_10", "diverged at", "smoothed"):
        assert text in result.stdout


def test_default_store_is_lrscope_db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("LRSCOPE_DB", url)
    data = _find("--steps", "20", "--seed", "4", "--eval-every", "10", "--eval-samples", "30")
    assert data["seed"] == 4
    assert [p["step"] for p in data["evals"]] == [10, 20]
    with Store.open(url) as store:
        assert len(store.range_tests()) == 1


def test_momentum_sweep(db: str) -> None:
    data = _find("--sweep", "momentum", "--lr", "0.2", "--steps", "12")
    assert data["parameter"] == "momentum"
    assert [row["value"] for row in data["rows"]] == [0.8, 0.85, 0.9, 0.95, 0.99]
    assert data["best"] in [row["value"] for row in data["rows"]]


def _table_header(stdout: str) -> list[str]:
    """The column names of the first table in ``stdout`` (rich's heavy-box header row)."""
    line = next(row for row in stdout.splitlines() if row.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def test_a_regression_sweep_shows_its_mse_and_a_rounded_policy() -> None:
    args = ["find", "--task", REGRESSION, "--sweep", "momentum", "--steps", "12", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output + result.stderr
    assert _table_header(result.stdout) == ["value", "phase", "test_loss", "MSE", "diverged"]
    assert "nan" not in result.stdout
    assert "top1" not in result.stdout.lower().replace("-", "")
    policy = result.stdout.split(": ", 1)[1].split(", seeds", 1)[0]
    assert policy.startswith("onecycle(max_lr=")
    assert unrounded(policy) == {}
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert data["metric"] == "mse"
    assert all(row["metric"] == "mse" and row["primary"] > 0 for row in data["rows"])
    assert unrounded(data["policy"]) == {}
    cells = [line.split("│")[3:5] for line in result.stdout.splitlines() if "│ sweep" in line]
    # the same runs (seed 0): a small loss keeps four significant digits, the MSE five decimals
    assert [[c.strip() for c in row] for row in cells] == [
        [f"{r['test_loss']:.4g}", f"{r['primary']:.5f}"] for r in data["rows"]
    ]


def test_a_classification_sweep_shows_top1_in_percent() -> None:
    args = ["find", "--task", TASK, "--sweep", "momentum", "--lr", "0.2", "--steps", "12", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _table_header(result.stdout) == ["value", "phase", "test_loss", "Top-1 %", "diverged"]
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert data["metric"] == "top1"
    shown = [line.split("│")[4].strip() for line in result.stdout.splitlines() if "│ sweep" in line]
    assert shown == [f"{100 * row['primary']:.2f}" for row in data["rows"]]


def test_weight_decay_sweep_human_output() -> None:
    result = runner.invoke(
        app,
        ["find", "--task", TASK, "--sweep", "weight-decay", "--lr", "0.2", "--steps", "10", "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "best weight_decay" in result.stdout
    assert "coarse" in result.stdout
    assert "fine" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mode", "cubic"], "The 'mode' parameter of the range test"),
        (["--start-lr", "0"], "The 'start_lr' parameter of the range test"),
        (["--start-lr", "1", "--end-lr", "0.5"], "greater than start_lr=1.0"),
        (["--steps", "2"], "The 'steps' parameter of the range test"),
        (["--eval-samples", "0"], "The 'eval_samples' parameter of the range test"),
        (["--sweep", "momentum", "--steps", "5"], "The 'steps' parameter of the momentum sweep"),
        (["--sweep", "weight-decay", "--lr", "-1"], "'lr' parameter of the weight-decay search"),
        (["--sweep", "momentum", "--seed", "-1"], "'seeds' parameter of the momentum sweep"),
        (["--sweep", "dropout"], "{'momentum', 'weight-decay'}"),
        (["--threads", "0"], "The '--threads' parameter of lrscope find"),
        (["--lr", "0.1"], "--sweep"),
        (["--sweep", "momentum", "--plot", "x.png"], "only apply to the range test"),
        (["--plot", "out.gif"], ".png"),
        (["--plot", f"{__file__}/rt.png"], "is a file, not a directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["find", "--task", TASK, "--json", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert needle in lines[0]


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["--mode", "cubic"], {"mode": "cubic"}),
        (["--start-lr", "-1"], {"start_lr": -1.0}),
        (["--start-lr", "1", "--end-lr", "0.5"], {"start_lr": 1.0, "end_lr": 0.5}),
        (["--steps", "3"], {"steps": 3}),
        (["--eval-every", "0"], {"eval_every": 0}),
    ],
)
def test_the_command_line_prints_the_library_message(
    args: list[str], options: dict[str, Any]
) -> None:
    """``lrscope find --mode cubic`` and ``range_test(task, mode="cubic")``: one message."""
    from lrscope.errors import ParameterError
    from lrscope.rangetest import range_test
    from lrscope.tasks import get_task

    with pytest.raises(ParameterError) as info:
        range_test(get_task(TASK), **options)
    result = runner.invoke(app, ["find", "--task", TASK, "--json", *args])
    assert result.exit_code == 2
    assert result.stderr == f"error: {info.value}\n"


def test_unknown_task_exits_2() -> None:
    result = runner.invoke(app, ["find", "--task", "no-such-task", "--json"])
    assert result.exit_code == 2
    assert "mnist1d-cnn" in result.stderr  # the message lists the valid names


RANDOM_LABELS = f"{Path(__file__).parents[1] / 'rangetest' / 'tiny.py'}:make_random_labels_task"


def test_no_usable_range_exits_0_and_says_so_on_stderr_and_in_json(db: str) -> None:
    result = runner.invoke(app, ["find", "--task", RANDOM_LABELS, "--quiet", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["usable"] is False
    assert "never fell clearly" in data["reason"]
    assert data["suggestions"]["usable"] is False
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == f"warning: no usable range: {data['reason']}"
    with Store.open(db) as store:  # stored all the same
        (record,) = store.range_tests("tiny-random-labels")
    suggestions = record.result["suggestions"]
    assert isinstance(suggestions, dict)
    assert suggestions["usable"] is False
    human = runner.invoke(app, ["find", "--task", RANDOM_LABELS, "--quiet", "--db", db])
    assert human.exit_code == 0
    assert human.stderr.strip().startswith("warning: no usable range:")


def test_a_usable_range_is_said_plainly(db: str) -> None:
    result = runner.invoke(app, ["find", "--task", TASK, "--quiet", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["usable"] is True
    assert data["reason"] is None
    assert "no usable range" not in result.stderr
