"""``lrscope interpolate`` in-process: JSON, plot, store, comparison panels, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.store import Store

TASK_FILE = Path(__file__).parents[1] / "landscape" / "landscape_task.py"
TASK = f"{TASK_FILE}:make_task"
WIDE_TASK = f"{TASK_FILE}:make_wide_task"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(directory: Path, policy: str, extra: list[str]) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "--task",
            TASK,
            "--policy",
            policy,
            "--steps",
            "24",
            "--eval-every",
            "12",
            "--snapshot-dir",
            str(directory),
            "--json",
            "--quiet",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A TRI run snapshotted at its cycle ends (12, 24) and a FIX run every 12 steps."""
    root = tmp_path_factory.mktemp("interpolate_cli")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train(root / "tri", "TRI(k0=0.01, k1=0.2, l=6)", ["--snapshot-every-cycle"])
        _train(root / "fix", "FIX(k0=0.05)", ["--snapshot-every", "12"])
        wide = root / "wide.pt"
        torch.save(_wide_state(), wide)
    finally:
        torch.set_num_threads(threads)
    return {"tri": root / "tri", "fix": root / "fix", "wide": wide}


def _wide_state() -> dict[str, torch.Tensor]:
    from lrscope.tasks import get_task

    return get_task(WIDE_TASK).model().state_dict()


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, ["interpolate", "--task", TASK, *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_plot_and_store(runs: dict[str, Path], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    plot = tmp_path / "one.png"
    code, out, err = _invoke(
        [
            "--from",
            str(runs["tri"] / "step_000012.pt"),
            "--to",
            str(runs["tri"] / "step_000024.pt"),
            "--points",
            "8",
            "--plot",
            str(plot),
            "--db",
            db,
            "--json",
            "--quiet",
        ]
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["task"] == "tiny-bn"
    assert doc["plot"] == str(plot)
    assert plot.read_bytes().startswith(PNG_MAGIC)
    (item,) = doc["interpolations"]
    alphas = [p["alpha"] for p in item["points"]]
    assert alphas == [-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    assert item["points"][1] == item["end_a"]
    assert item["points"][6] == item["end_b"]
    assert item["end_a"]["train_loss"] != item["end_b"]["train_loss"]
    assert set(item["summary"]) == {
        "min_test_loss_alpha",
        "min_train_loss_alpha",
        "train_loss_barrier",
        "test_loss_barrier",
    }
    with Store.open(db, create=False) as store:
        (record,) = store.interpolations("tiny-bn")
    assert record.id == item["stored_id"]
    assert record.data["points"] == item["points"]


def test_two_pairs_side_by_side(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRSCOPE_DB", raising=False)
    plot = tmp_path / "cmp.png"
    code, out, err = _invoke(
        [
            "--from",
            str(runs["tri"] / "step_000012.pt"),
            "--to",
            str(runs["tri"] / "step_000024.pt"),
            "--label",
            "TRI cycles 1-2",
            "--from",
            str(runs["fix"] / "step_000012.pt"),
            "--to",
            str(runs["fix"] / "step_000024.pt"),
            "--label",
            "FIX",
            "--points",
            "3",
            "--alpha-min",
            "0",
            "--alpha-max",
            "1",
            "--recompute-bn",
            "--plot",
            str(plot),
            "--no-store",
            "--json",
            "--quiet",
        ]
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["db"] is None
    assert doc["recompute_bn"] is True
    assert [i["label"] for i in doc["interpolations"]] == ["TRI cycles 1-2", "FIX"]
    assert [i["stored_id"] for i in doc["interpolations"]] == [None, None]
    assert doc["interpolations"][1]["source_a"].endswith("fix/step_000012.pt")
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert not (tmp_path / "lrscope.db").exists()  # --no-store writes no database


def test_human_output(runs: dict[str, Path]) -> None:
    code, out, err = _invoke(
        [
            "--from",
            str(runs["tri"] / "step_000012.pt"),
            "--to",
            str(runs["tri"] / "step_000024.pt"),
            "--points",
            "3",
            "--alpha-min",
            "0",
            "--alpha-max",
            "1",
            "--no-store",
            "--quiet",
        ]
    )
    assert code == 0, err
    assert "train loss" in out
    assert "min test loss" in out
    assert _header(out) == ["α", "train loss", "test loss", "train top-1", "top-1", ""]


def _header(out: str) -> list[str]:
    """The column names of the first table in ``out`` (rich's heavy-box header row)."""
    line = next(row for row in out.splitlines() if row.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


REGRESSION_FILE = Path(__file__).parents[1] / "byo_tasks.py"


@pytest.fixture(scope="module")
def regression_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("interpolate_regression")
    ends = (root / "a.pt", root / "b.pt")
    for policy, path in zip(("FIX(k0=0.01)", "FIX(k0=0.03)"), ends, strict=True):
        args = ["train", "--task", f"{REGRESSION_FILE}:regression", "--policy", policy]
        result = runner.invoke(app, [*args, "--steps", "12", "--save-weights", str(path), "-q"])
        assert result.exit_code == 0, result.output
    return ends


@pytest.mark.parametrize(
    ("factory", "columns"),
    [
        ("regression", []),  # trained on the MSE it is scored by: MSE would repeat the losses
        ("regression_by_mae", ["train MAE", "MAE"]),
    ],
)
def test_a_regression_shows_no_top1_columns(
    regression_weights: tuple[Path, Path], tmp_path: Path, factory: str, columns: list[str]
) -> None:
    a, b = regression_weights
    plot = tmp_path / "line.png"
    args = ["interpolate", "--task", f"{REGRESSION_FILE}:{factory}", "--from", str(a)]
    args += ["--to", str(b), "--points", "3", "--no-store", "-q", "--plot", str(plot)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output + result.stderr
    assert _header(result.stdout) == ["α", "train loss", "test loss", *columns, ""]
    assert "nan" not in result.stdout
    assert "top-1" not in result.stdout
    rows = 1 if not columns else 2  # the bottom row of the plot is the primary metric's
    height = int.from_bytes(plot.read_bytes()[20:24], "big")
    assert height == round((4.2 if rows == 1 else 6.4) * 120)
    document = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    line = document["interpolations"][0]
    assert line["primary_metric"] == ("mae" if columns else "mse")
    assert all(p["primary"] > 0 for p in line["points"])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--from", "{a}", "--to", "{b}", "--from", "{a}"], "--from/--to"),
        (["--from", "{a}", "--to", "{b}", "--label", "x", "--label", "y"], "--label"),
        (["--from", "{a}", "--to", "{wide}"], "'fc1.weight'"),
        (["--from", "{a}", "--to", "{missing}"], "does not exist"),
        (["--from", "{a}", "--to", "{b}", "--points", "1"], "'points' parameter of the interp"),
        (["--from", "{a}", "--to", "{b}", "--alpha-max", "-1"], "greater than alpha_min=-0.2"),
        (["--from", "{a}", "--to", "{b}", "--train-samples", "0"], "'train_samples' parameter"),
        (["--from", "{a}", "--to", "{b}", "--loss-scale", "cubic"], "'loss_scale' parameter"),
        (["--to", "{b}"], "--from"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    runs: dict[str, Path], args: list[str], match: str
) -> None:
    paths = {
        "a": runs["tri"] / "step_000012.pt",
        "b": runs["tri"] / "step_000024.pt",
        "wide": runs["wide"],
        "missing": runs["tri"] / "nope.pt",
    }
    code, out, err = _invoke([a.format(**paths) for a in args] + ["--no-store", "--json"])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert match in lines[0]
