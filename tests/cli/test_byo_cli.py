"""Bring your own task through the command line: regression, dict batches, bf16, devices.

The acceptance of "bring your own training job": a user task file with a
small regression model and MSE runs through ``find``, ``train``, ``bench``,
``tune``, ``rank`` and ``report``, ranked by the task's primary metric (lower
is better); a task whose loader yields dict batches runs through ``find``,
``train`` and ``bench``; ``--device cpu --precision bf16`` works on ``find``,
``train`` and ``bench``; ``--device cuda`` without CUDA exits 2 with one line.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.engine.device import cuda_available

runner = CliRunner()
TASKS = Path(__file__).resolve().parents[1] / "byo_tasks.py"
REGRESSION = f"{TASKS}:regression"
DICTS = f"{TASKS}:dict_batches"
SPECS = ["FIX(k0=0.003)", "FIX(k0=0.03)", "TRI(k0=0.001, k1=0.05, l=6)"]


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


def _policies() -> list[str]:
    return [arg for spec in SPECS for arg in ("--policy", spec)]


@pytest.mark.slow
def test_a_regression_task_file_runs_through_every_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    found = ok("find", "--task", REGRESSION, "--steps", "60", "--db", db, "--json")
    assert 0 < found["suggested_lr"] < 10
    trained = ok("train", "--task", REGRESSION, "--policy", SPECS[1], "--steps", "24", "--json")
    assert trained["primary_metric"] == "mse"
    assert 0 < trained["metrics"]["mse"] < 1
    assert trained["metrics"]["best_mse"] <= trained["metrics"]["mse"]
    assert trained["top1"] is None  # LRBench's accuracy columns: NaN, null in JSON
    bench = ok(
        "bench", "--task", REGRESSION, *_policies(), "--seeds", "2", "--steps", "24",
        "--eval-every", "6", "--db", db, "--json",
    )  # fmt: skip
    assert (bench["total"], bench["failed"]) == (6, 0)
    tuned = ok(
        "tune", "--task", REGRESSION, "--steps", "32", "--trials", "6", "--round-size", "6",
        "--seeds", "3", "--finalists", "3", "--tie", "0", "--executor", "local", "--db", db,
        "--json", "--quiet",
    )  # fmt: skip
    assert (tuned["metric"], tuned["primary_metric"]) == ("mse", "mse")
    means = [row["mse_mean"] for row in tuned["ranking"]]
    assert len(means) == 4  # three finalists and FIX, confirmed on three seeds
    assert means == sorted(means)  # the winner has the lowest final MSE: lower is better
    assert tuned["summary"]["winner"]["mse_mean"] == means[0]
    rows = ok(
        "rank", "--task", "byo-regression", "--db", db, "--steps", "24", "--tie", "0", "--json"
    )
    final = [row["mse_mean"] for row in rows]
    best = [row["best_mse_mean"] for row in rows]
    assert len(rows) == 3
    assert final == sorted(final)  # ranked by the primary metric at the end, as tune ranks
    assert all(math.isfinite(v) for v in best)
    assert all(row["top1_mean"] is None for row in rows)
    front = sorted((row for row in rows if row["pareto"]), key=lambda r: r["best_iter_mean"])
    assert min(rows, key=lambda r: r["best_mse_mean"])["pareto"]  # the lowest best MSE
    # along the front, more steps buy a lower best MSE (lower is better)
    assert all(a["best_mse_mean"] > b["best_mse_mean"] for a, b in itertools.pairwise(front))
    page = tmp_path / "report.html"
    ok("report", "-o", str(page), "--db", db, "--json")
    html = page.read_text(encoding="utf-8")
    assert "ranked by mean MSE over seeds" in html
    assert "<h3>Test MSE during training</h3>" in html
    assert "<h3>Best MSE against cost</h3>" in html


def test_a_regression_task_refuses_classification_metrics(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    ok("bench", "--task", REGRESSION, "--policy", SPECS[0], "--steps", "6", "--db", db, "--json")
    code, out, err = lrscope("rank", "--task", "byo-regression", "--metric", "top1", "--db", db)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: The 'metric' parameter of the ranking must be a str among {")
    assert "'best_mse'" in err
    assert "'r2'" in err


@pytest.mark.slow
def test_dict_batches_run_through_find_train_and_bench(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'dict.db'}"
    found = ok(
        "find", "--task", DICTS, "--steps", "40", "--end-lr", "0.1", "--eval-every", "20",
        "--db", db, "--json",
    )  # fmt: skip
    assert [p["step"] for p in found["evals"]] == [20, 40]
    assert all(0 < p["test_loss"] < 1 for p in found["evals"])
    trained = ok("train", "--task", DICTS, "--policy", SPECS[1], "--steps", "24", "--json")
    reference = ok("train", "--task", REGRESSION, "--policy", SPECS[1], "--steps", "24", "--json")
    assert trained["metrics"]["mse"] == pytest.approx(reference["metrics"]["mse"], rel=1e-5)
    bench = ok(
        "bench", "--task", DICTS, *_policies(), "--steps", "12", "--db", db, "--json",
        "--executor", "process", "--workers", "2", "--batch-trials", "3",
    )  # fmt: skip
    assert (bench["ran"], bench["failed"]) == (3, 0)


@pytest.mark.slow
def test_bf16_on_the_cpu_through_find_train_and_bench(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bf16.db'}"
    half = ("--device", "cpu", "--precision", "bf16")
    found = ok("find", "--task", REGRESSION, "--steps", "40", *half, "--db", db, "--json")
    assert found["runtime"] == "bf16"
    assert found["steps_done"] > 10
    trained = ok("train", "--task", REGRESSION, "--policy", SPECS[1], "--steps", "24", *half,
                 "--json")  # fmt: skip
    full = ok("train", "--task", REGRESSION, "--policy", SPECS[1], "--steps", "24", "--json")
    assert trained["runtime"] == "bf16"
    assert trained["metrics"]["mse"] != full["metrics"]["mse"]
    assert trained["metrics"]["mse"] == pytest.approx(full["metrics"]["mse"], rel=0.2)
    accumulated = ok("train", "--task", REGRESSION, "--policy", SPECS[1], "--steps", "12",
                     "--grad-accum", "2", "--json")  # fmt: skip
    assert (accumulated["runtime"], accumulated["eval_every"]) == ("accum=2", 6)
    bench = ok("bench", "--task", REGRESSION, *_policies(), "--steps", "12", *half, "--db", db,
               "--json")  # fmt: skip
    assert (bench["ran"], bench["failed"], bench["plan"]["precision"]) == (3, 0, "bf16")


@pytest.mark.skipif(cuda_available(), reason="checks the machine without CUDA")
@pytest.mark.parametrize(
    "command",
    [
        ["find", "--task", REGRESSION],
        ["train", "--task", REGRESSION, "--policy", "FIX(k0=0.1)", "--steps", "5"],
        ["bench", "--task", REGRESSION, "--policy", "FIX(k0=0.1)", "--steps", "5"],
        ["tune", "--task", REGRESSION, "--steps", "40"],
        ["interpolate", "--task", REGRESSION, "--from", "a.pt", "--to", "b.pt"],
    ],
    ids=lambda c: c[0],
)
def test_cuda_without_cuda_exits_2_with_one_line(command: list[str], tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    store = [] if command[0] == "train" else ["--db", f"sqlite:///{db}"]
    code, out, err = lrscope(*command, "--device", "cuda", *store)
    assert code == 2
    assert out == ""
    assert err.startswith("error: device 'cuda' was asked for, but torch ")
    assert err.endswith("; use --device cpu (or auto)\n")
    assert err.count("\n") == 1
    assert not db.exists()  # nothing trained, nothing stored


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--precision", "fp64", "'precision' parameter of the runtime must be a str among"),
        ("--grad-accum", "0", "'grad_accum_steps' parameter of the runtime must be an int"),
        ("--device", "gpu", "'device' parameter of the runtime must be a device among"),
    ],
)
def test_bad_runtime_options_exit_2(option: str, value: str, message: str) -> None:
    for command in (["find", "--task", REGRESSION], ["train", "--task", REGRESSION,
                    "--policy", "FIX(k0=0.1)", "--steps", "5"]):  # fmt: skip
        code, _, err = lrscope(*command, option, value)
        assert code == 2
        assert message in err
        assert err.count("\n") == 1
