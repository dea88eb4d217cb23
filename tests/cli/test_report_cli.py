"""``lrscope report``, in-process with typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.engine.result import EvalPoint, TrialKey, TrialResult
from lrscope.store import Store


def _result(task: str, spec: str, seed: int, top1: float) -> TrialResult:
    curve = tuple(
        EvalPoint(step=s, lr=0.01, train_loss=1.0, test_loss=1.1, top1=top1 * s / 40, top5=0.9)
        for s in (10, 20, 30, 40)
    )
    return TrialResult(
        task=task,
        spec=spec,
        seed=seed,
        steps=40,
        eval_every=10,
        top1=top1,
        top5=0.9,
        best_top1=top1,
        best_iter=40,
        ac=0.8,
        cd=0.1,
        cdac=0.05,
        ld=0.1,
        n_params=1,
        wall_s=0.5,
        steps_done=40,
        diverged=False,
        curve=curve,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with Store.open(url) as store:
        for task in ("alpha", "beta"):
            store.put_task(task)
            for i, spec in enumerate(("FIX(k0=0.01)", "FIX(k0=0.1)")):
                for seed in (0, 1):
                    trial = store.start_trial(TrialKey(task, spec, seed, 40, 10))
                    assert trial is not None
                    store.finish_trial(trial, _result(task, spec, seed, 0.5 + 0.2 * i))
    return url


def test_report_writes_the_page_and_json(db: str, tmp_path: Path) -> None:
    out = tmp_path / "r" / "report.html"
    result = CliRunner().invoke(app, ["report", "--db", db, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["path"] == str(out.resolve())
    assert document["tasks"] == ["alpha", "beta"]
    assert document["bytes"] == out.stat().st_size > 10_000
    page = out.read_text(encoding="utf-8")
    assert "<h2>alpha</h2>" in page
    assert "<h2>beta</h2>" in page
    assert "FIX(k0=0.1)" in page


def test_report_one_task_human_output(db: str, tmp_path: Path) -> None:
    out = tmp_path / "beta.html"
    result = CliRunner().invoke(
        app, ["report", "--db", db, "-o", str(out), "--task", "beta", "--top", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out} (")
    assert "1 task)" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert "<h2>beta</h2>" in page
    assert "<h2>alpha</h2>" not in page
    assert "the top 1 policies by rank" in page


def test_empty_store_gives_a_page(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(url).close()
    out = tmp_path / "empty.html"
    result = CliRunner().invoke(app, ["report", "--db", url, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tasks"] == []
    assert "Nothing to show yet" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "gamma"], "no task 'gamma'"),
        (["--metric", "speed"], "metric"),
        (["--top", "0"], "top_n"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "x.html"
    result = CliRunner().invoke(app, ["report", "--db", db, "-o", str(out), *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert not out.exists()


def test_missing_database_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = CliRunner().invoke(app, ["report", "--db", url, "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "nowhere.db").exists()
