"""`lrscope tune`, `lrscope recommend` and `lrscope demo`, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.bench import Execution
from lrscope.cli.app import app
from lrscope.demo import run_demo, usage_snippet

LOCAL = Execution("local")  # full trials one at a time, in this process

TASKS = Path(__file__).parents[1] / "tune" / "tune_tasks.py"
MLP = f"{TASKS}:make_mlp"
LINEAR = f"{TASKS}:make_linear"


def _ok(args: list[str]) -> dict[str, object]:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _usage_error(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.output
    return lines[0]


def test_tune_then_recommend_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    tuned = _ok(["tune", "--task", MLP, "--steps", "64", "--trials", "8", "--executor", "local",
                 "--db", db, "--json"])  # fmt: skip
    assert isinstance(tuned["winner_spec"], str)
    assert len(tuned["search"]) == 8  # type: ignore[arg-type]
    assert tuned["winner"]["rank"] == 1  # type: ignore[index]
    advice = _ok(["recommend", "--task", LINEAR, "--top", "1", "--db", db, "--json"])
    recs = advice["recommendations"]
    assert isinstance(recs, list)
    (rec,) = recs
    assert rec["source_task"] == "blobs4-mlp"
    assert rec["trial_ids"]


def test_recommend_on_an_empty_store_suggests_tune(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(app, ["recommend", "--task", MLP, "--no-range-test", "--db", db])
    assert result.exit_code == 0, result.output
    assert "nothing similar" in result.stdout
    assert "lrscope tune --task blobs4-mlp" in result.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bad.db'}"
    assert "'steps'" in _usage_error(["tune", "--task", MLP, "--db", db])
    assert "'--seeds'" in _usage_error(["tune", "--task", MLP, "--steps", "64", "--seeds",
                                              "2", "--db", db])  # fmt: skip
    assert "'trials'" in _usage_error(["tune", "--task", MLP, "--trials", "0", "--db", db])
    assert "'--finalists'" in _usage_error(["tune", "--task", MLP, "--steps", "64", "--finalists",
                                          "1", "--db", db])  # fmt: skip
    assert "executor" in _usage_error(["tune", "--task", MLP, "--steps", "64", "--executor",
                                       "gpu", "--db", db])  # fmt: skip
    assert "no-such-task" in _usage_error(["tune", "--task", "no-such-task", "--steps", "64",
                                           "--db", db])  # fmt: skip
    assert "'--tie'" in _usage_error(["tune", "--task", MLP, "--steps", "64", "--tie", "-0.1",
                                    "--db", db])  # fmt: skip
    assert "--max-epochs" in _usage_error(["tune", "--task", MLP, "--minutes", "1",
                                           "--max-epochs", "-1", "--db", db])  # fmt: skip
    assert "--minutes" in _usage_error(["demo", "--minutes", "0", "--out", str(tmp_path)])
    assert "--top" in _usage_error(["recommend", "--task", MLP, "--top", "0", "--db", db])


def test_demo_writes_store_report_plots_and_summary(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "out", minutes=0.2, task=MLP, execution=LOCAL)
    summary = result.summary()
    assert (tmp_path / "out" / "lrscope.db").exists()
    assert result.report == tmp_path / "out" / "report.html"
    page = result.report.read_text(encoding="utf-8")
    assert "blobs4-mlp" in page
    assert [p.name for p in result.plots] == ["range_test.png", "policies.png"]
    assert all(p.stat().st_size > 1000 for p in result.plots)
    assert summary["winner_spec"] == summary["winner"]["spec"] == result.tune.winner_spec
    assert summary["winner_reason"] == result.tune.winner_reason
    assert summary["baseline"]["spec"] == result.tune.baseline_spec
    assert summary["time_to_accuracy_ratio"] == result.tune.time_to_accuracy.ratio
    assert summary["compute"]["trials"] == result.tune.compute.trials > 0
    assert summary["python"] == usage_snippet(result.tune.winner_spec)
    assert f'PolicyScheduler(optimizer, "{result.tune.winner_spec}")' in str(summary["python"])


def test_demo_prints_the_peer_style_summary_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from lrscope.cli import demo as demo_cli
    from lrscope.cli import tune as tune_cli

    result = run_demo(tmp_path / "out", minutes=0.2, task=MLP, execution=LOCAL)
    console = Console(width=80, record=True)
    monkeypatch.setattr(tune_cli, "stdout", console)
    monkeypatch.setattr(demo_cli, "stdout", console)
    demo_cli._render(result)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for needle in ("winner", "FIX", "time to accuracy:", "compute:", "report :"):
        assert needle in text
    assert result.tune.winner_spec in text


def test_tune_refuses_a_range_test_without_a_usable_range(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'flat.db'}"
    tiny = Path(__file__).parents[1] / "rangetest" / "tiny.py"
    line = _usage_error(["tune", "--task", f"{tiny}:make_random_labels_task", "--steps", "64",
                         "--executor", "local", "--quiet", "--db", db])  # fmt: skip
    assert line.startswith("error: cannot build the tune search: the range test of ")
    assert "no usable range (the loss never fell clearly" in line
