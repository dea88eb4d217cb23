"""``lrscope bench``: options and plan files, JSON summary, resume, exit 2 on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.store import Store

runner = CliRunner()
TINY_FILE = Path(__file__).resolve().parents[1] / "bench" / "tiny_task.py"
TINY = f"{TINY_FILE}:make_task"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def bench(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["bench", *args])
    return result.exit_code, result.stdout, result.stderr


def test_options_run_the_plan_and_a_rerun_resumes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    args = [
        "--task",
        TINY,
        "--policy",
        "fix(k0=0.05)",
        "--policy",
        "TRI(k0=0.01, k1=0.1, l=6)",
        "--seeds",
        "2",
        "--steps",
        "30",
        "--eval-every",
        "10",
        "--db",
        db,
        "--json",
    ]
    code, out, err = bench(*args)
    assert code == 0, err
    summary = json.loads(out)
    assert {k: summary[k] for k in ("task", "total", "ran", "skipped", "failed", "diverged")} == {
        "task": "tiny-blobs",
        "total": 4,
        "ran": 4,
        "skipped": 0,
        "failed": 0,
        "diverged": 0,
    }
    assert summary["plan"]["policies"] == ["FIX(k0=0.05)", "TRI(k0=0.01, k1=0.1, l=6)"]
    assert summary["executor"] == "local"
    assert summary["wall_s"] > 0
    code, out, _ = bench(*args)
    assert code == 0
    assert json.loads(out)["skipped"] == 4
    with Store.open(db) as store:
        assert len(store.done_keys("tiny-blobs")) == 4


def test_plan_file_with_an_override(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'task = "{TINY}"\npolicies = ["FIX(k0=0.05)"]\nsteps = [20, 30]\n'
        "seeds = 1\neval_every = 10\n"
    )
    db = f"sqlite:///{tmp_path / 'p.db'}"
    code, out, err = bench("--plan", str(plan), "--seeds", "2", "--db", db, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["total"] == 4
    assert summary["plan"]["seeds"] == [0, 1]
    assert summary["plan"]["steps"] == [20, 30]


def test_human_output_says_what_ran(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    code, out, err = bench(
        "--task", TINY, "--policy", "FIX(k0=1000)", "--steps", "20", "--db", db, "--quiet"
    )
    assert code == 0, err
    assert "ran 1 (0 failed, 1 diverged)" in out
    assert "lrscope rank --task tiny-blobs --db sqlite:///" in out


def test_an_lr_above_float32_max_is_recorded_as_diverged_not_failed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    code, out, err = bench(
        "--task", TINY, "--policy", "FIX(k0=1e39)", "--policy", "FIX(k0=0.05)", "--seeds", "2",
        "--steps", "20", "--db", db, "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["ran"], summary["failed"], summary["diverged"]) == (4, 0, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "no-such-task", "--policy", "FIX(k0=0.1)", "--steps", "10"], "unknown task"),
        (["--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "10", "--seeds", "0"], "seeds"),
        (["--task", TINY, "--policy", "FIX(k0=0)", "--steps", "10"], "'k0' parameter of FIX"),
        (["--task", TINY, "--policy", "WOBBLE(k0=1)", "--steps", "10"], "WOBBLE"),
        (["--task", TINY, "--steps", "10"], "missing --policy"),
        (["--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "0"], "steps"),
        (
            ["--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "9", "--executor", "dask"],
            "'executor' parameter of Execution",
        ),
        (
            ["--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "9", "--ray-address", "x:1"],
            "ray",
        ),
        (
            [
                "--task",
                TINY,
                "--policy",
                "FIX(k0=0.1)",
                "--steps",
                "9",
                "--executor",
                "process",
                "--workers",
                "0",
            ],
            "workers",
        ),
        (["--plan", "/no/such/plan.toml"], "cannot read plan file"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_database(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db_path = tmp_path / "never.db"
    code, out, err = bench(*args, "--db", f"sqlite:///{db_path}", "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert message in err
    assert not db_path.exists(), "nothing may be created before the input is valid"
