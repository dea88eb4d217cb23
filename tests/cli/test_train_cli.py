"""``lrscope train``: metrics as JSON, divergence is exit 0, user tasks, files, errors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from lrscope.cli.app import app

runner = CliRunner()

METRIC_KEYS = {
    "task",
    "spec",
    "seed",
    "steps",
    "eval_every",
    "top1",
    "top5",
    "best_top1",
    "best_iter",
    "ac",
    "cd",
    "cdac",
    "ld",
    "n_params",
    "wall_s",
    "steps_done",
    "diverged",
    "diverged_at",
    "metrics",
    "primary_metric",
    "runtime",
}

USER_TASK = textwrap.dedent(
    """
    import torch
    from torch.utils.data import TensorDataset
    import lrscope


    def _rings(n, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 2, generator=g)
        y = (x.norm(dim=1) > 1.1).long()
        return TensorDataset(x, y)


    def make_task():
        return lrscope.Task(
            name="rings",
            model=lambda: torch.nn.Sequential(
                torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2)
            ),
            train_data=_rings(400, 0),
            test_data=_rings(200, 1),
            num_classes=2,
            batch_size=40,
        )
    """
)


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    """``train`` sets torch's thread count (default 1); put it back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def train(*args: str) -> Any:
    return runner.invoke(app, ["train", *args])


def test_json_metrics_for_mnist1d_cnn() -> None:
    args = ["--task", "mnist1d-cnn", "--policy", "FIX(k0=0.1)", "--steps", "64", "--json"]
    first = train(*args)
    assert first.exit_code == 0, first.output
    metrics = json.loads(first.stdout)
    assert set(metrics) == METRIC_KEYS
    assert set(metrics["metrics"]) == {"top1", "top5", "ac", "cd", "cdac", "test_loss", "best_top1"}
    assert metrics["metrics"]["top1"] == metrics["top1"]
    assert (metrics["primary_metric"], metrics["runtime"]) == ("top1", "")
    assert metrics["eval_every"] == 32
    assert metrics["steps_done"] == 64
    assert metrics["diverged"] is False
    assert 0.1 < metrics["top1"] <= 1.0
    second = json.loads(train(*args).stdout)
    assert second["top1"] == metrics["top1"]
    assert second["ac"] == metrics["ac"]


def test_divergence_is_not_an_error() -> None:
    result = train("--task", "mnist1d-cnn", "--policy", "FIX(k0=50)", "--steps", "500", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["diverged"] is True
    assert metrics["steps_done"] == metrics["diverged_at"] < 500


@pytest.mark.parametrize(
    ("spec", "at"),
    [
        ("FIX(k0=1e39)", 0),  # above float32's largest value: no representable update
        ("piecewise([FIX(k0=0.05), FIX(k0=1e39)], boundaries=[3])", 3),
    ],
)
def test_an_lr_above_float32_max_is_divergence_not_an_error(spec: str, at: int) -> None:
    result = train("--task", "digits-mlp", "--policy", spec, "--steps", "20", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["diverged"] is True
    assert metrics["steps_done"] == metrics["diverged_at"] == at


def test_user_task_file_with_curve(tmp_path: Path) -> None:
    path = tmp_path / "rings.py"
    path.write_text(USER_TASK)
    result = train(
        "--task", f"{path}:make_task", "--policy", "FIX(k0=0.1)", "--steps", "200",
        "--eval-every", "50", "--curve", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["task"] == "rings"
    assert [p["step"] for p in document["curve"]] == [50, 100, 150, 200]
    assert document["top1"] > 0.85


def test_weights_snapshots_and_checkpoint_files(tmp_path: Path) -> None:
    path = tmp_path / "rings.py"
    path.write_text(USER_TASK)
    weights, snaps, ckpt = tmp_path / "w.pt", tmp_path / "snaps", tmp_path / "c.ckpt"
    common = ["--task", f"{path}:make_task", "--policy", "FIX(k0=0.1)", "--steps", "30"]
    result = train(
        *common, "--save-weights", str(weights), "--snapshot-dir", str(snaps),
        "--snapshot-every", "10", "--checkpoint", str(ckpt), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    state = torch.load(weights, weights_only=True)
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert sorted(p.name for p in snaps.iterdir()) == [
        "step_000010.pt",
        "step_000020.pt",
        "step_000030.pt",
    ]
    assert ckpt.is_file()
    again = train(*common, "--checkpoint", str(ckpt), "--json")  # resumes from step 20
    first, second = json.loads(result.stdout), json.loads(again.stdout)
    first.pop("wall_s")
    second.pop("wall_s")
    assert first == second


def _units(stdout: str) -> dict[str, str]:
    """``metric -> unit`` from the table's rows (``│ name │ value │ unit │``)."""
    cells = [line.strip("│").split("│") for line in stdout.splitlines() if line.startswith("│")]
    return {c[0].strip(): c[2].strip() for c in cells if len(c) == 3}


def test_human_output_is_a_table() -> None:
    result = train("--task", "digits-mlp", "--policy", "FIX(k0=0.05)", "--steps", "30")
    assert result.exit_code == 0, result.output
    assert "top1" in result.stdout
    assert "cdac" in result.stdout
    assert "digits-mlp" in result.stdout
    units = _units(result.stdout)
    assert (units["top1"], units["ld"], units["wall_s"]) == ("fraction", "nats", "s")


def test_a_regression_s_losses_are_in_its_loss_units_not_nats() -> None:
    task = f"{Path(__file__).parents[1] / 'byo_tasks.py'}:regression"
    result = train("--task", task, "--policy", "FIX(k0=0.01)", "--steps", "12")
    assert result.exit_code == 0, result.output
    units = _units(result.stdout)
    assert "nats" not in result.stdout
    assert (units["ld"], units["test_loss"]) == ("loss units", "loss units")
    assert units["mse"] == ""
    assert "top1" not in units


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope", "--policy", "FIX(k0=0.1)", "--steps", "5"], "unknown task 'nope'"),
        (["--task", "mnist1d-cnn", "--policy", "FIX(k0=-1)", "--steps", "5"], "'k0'"),
        (["--task", "mnist1d-cnn", "--policy", "WHAT(k0=1)", "--steps", "5"], "WHAT"),
        (
            ["--task", "mnist1d-cnn", "--policy", "FIX(k0=0.1)", "--steps", "0"],
            "The 'steps' parameter of run_trial must be an int in the range [1, inf)",
        ),
        (
            ["--task", "mnist1d-cnn", "--policy", "FIX(k0=0.1)", "--steps", "5", "--seed", "-1"],
            "The 'seed' parameter of run_trial",
        ),
        (
            ["--task", "mnist1d-cnn", "--policy", "FIX(k0=0.1)", "--steps", "5", "--threads", "-1"],
            "'--threads'",
        ),
        (
            [
                "--task",
                "cifar10-cnn3",
                "--policy",
                "FIX(k0=0.1)",
                "--steps",
                "5",
                "--data-dir",
                "/nonexistent/dir",
            ],
            "does not exist",
        ),
        (
            [
                "--task",
                f"{Path(__file__).parents[1] / 'byo_tasks.py'}:slipped_regression",
                "--policy",
                "FIX(k0=0.01)",
                "--steps",
                "5",
            ],
            "broadcasts them to (16, 16)",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = train(*args, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
