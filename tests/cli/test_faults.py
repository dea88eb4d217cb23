"""Bad input of every kind (issue 16, A and B): exit 2, one line, no traceback, the store intact.

The cases of the fault sweep and the rest of their classes: sizes without
bounds (numbers, nesting, lengths, counts that allocate), files of the wrong
kind (plan files, checkpoints, weights, task files), a task whose own code
fails while it trains, a task that calls ``sys.exit``, user text that
matplotlib would read as a formula, and options that do not go together
(``rank --json`` with another ``--format``; the other ``--json`` commands
have no format option, their ``--output`` files are in another format by
design). Output paths are in
``test_faults_outputs.py``, damaged stored rows in ``test_faults_store.py``,
Ctrl-C and SIGTERM in ``test_interrupts.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fault_tasks import DOLLAR_NAME
from fault_testlib import TINY, error_line, fault_task, invoke, table_rows, url

pytestmark = pytest.mark.usefixtures("keep_torch_threads")

DIGITS_5000 = "1" * 5000


def _nested(depth: int) -> str:
    return "piecewise([" * depth + "FIX(k0=0.1)" + "], boundaries=[5])" * depth


# --- sizes without bounds ------------------------------------------------------

SPECS = {
    "a 5,000-digit int": (f"STEP(k0=0.1, gamma=0.5, l={DIGITS_5000})", "a number of 5000 digits"),
    "a 5,000-digit float": (f"FIX(k0=0.{DIGITS_5000})", "a number of 5001 digits (at most 100)"),
    "nested 1,200 deep": (_nested(1200), "nested more than 32 deep"),
    "nested 5,000 deep": (_nested(5000), "at most 100,000 characters"),
    "lists nested 3,000 deep": ("FIX(k0=" + "[" * 3000 + "]" * 3000 + ")", "nested more"),
    "200,000 characters": ("FIX(k0=0.1" + " " * 200_000 + ")", "at most 100,000 characters"),
}


@pytest.mark.parametrize("case", SPECS)
@pytest.mark.parametrize("command", ["values", "train", "bench"])
def test_a_spec_beyond_the_parser_limits(case: str, command: str, tmp_path: Path) -> None:
    spec, needle = SPECS[case]
    args = {
        "values": ["policies", "values", spec],
        "train": ["train", "--task", TINY, "--policy", spec, "--steps", "5"],
        "bench": [
            "bench",
            "--task",
            TINY,
            "--policy",
            spec,
            "--steps",
            "5",
            "--db",
            url(tmp_path / "never.db"),
        ],
    }[command]
    line = error_line(invoke(*args), needle)
    assert len(line) < 400  # the spec is quoted shortened, not in full
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["policies", "values", "FIX(k0=0.1)", "--steps", str(10**11)], "[1, 1000000]"),
        (["policies", "plot", "FIX(k0=0.1)", "-o", "x.png", "--steps", str(10**11)],
         "[1, 1000000]"),
        (["interpolate", "--task", TINY, "--from", "a.pt", "--to", "b.pt",
          "--points", str(10**8)], "'points' parameter of the interpolation"),
        (["train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
          "--seed", str(2**64)], "'seed' parameter of run_trial"),
        (["train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
          "--seed", DIGITS_5000], "--seed"),
        (["find", "--task", TINY, "--seed", str(2**64)], "'seed' parameter of range_test"),
        (["find", "--task", TINY, "--sweep", "momentum", "--seed", str(2**64)], "'seeds'"),
        (["bench", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
          "--seeds", str(10**20)], "'seeds' parameter of the benchmark plan"),
        (["tune", "--task", TINY, "--steps", "64", "--seeds", str(10**20)],
         "'--seeds' parameter of lrscope tune"),
        (["bench", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5", "--executor",
          "process", "--workers", str(10**6)], "'workers'"),
        (["bench", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
          "--batch-trials", str(10**6)], "'batch_trials'"),
        (["train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
          "--threads", str(10**6)], "'--threads' parameter of lrscope train"),
        (["find", "--task", TINY, "--threads", str(10**6)],
         "'--threads' parameter of lrscope find"),
        (["tune", "--task", TINY, "--steps", "64", "--threads", str(10**6)], "'--threads'"),
        (["train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", str(10**9),
          "--snapshot-every", "1", "--snapshot-dir", "snaps"], "at most 10,000 snapshots"),
        (["train", "--task", TINY, "--policy", "TRI(k0=0.01, k1=0.1, l=1)", "--steps",
          str(10**9), "--snapshot-every-cycle", "--snapshot-dir", "snaps"],
         "'snapshot_every_cycle' parameter of run_trial"),
    ],
)  # fmt: skip
def test_a_count_beyond_its_maximum(args: list[str], needle: str, stored: Path) -> None:
    db = stored / "lrscope.db"
    before = table_rows(db)
    extra = ["--db", url(db)] if args[0] in ("find", "bench", "tune", "interpolate") else []
    error_line(invoke(*args, *extra), needle)
    assert table_rows(db) == before


TUNE = ["tune", "--task", TINY, "--steps", "64"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*TUNE, "--seeds", "2"], "'--seeds' parameter of lrscope tune must be an int in"),
        ([*TUNE, "--finalists", "2"], "'--finalists' parameter of lrscope tune"),
        ([*TUNE, "--round-size", "0"], "'--round-size' parameter of lrscope tune"),
        ([*TUNE, "--sampler", "grid"], "'--sampler' parameter of lrscope tune"),
        ([*TUNE, "--seed", "-1"], "'--seed' parameter of lrscope tune"),
        ([*TUNE, "--tie", "-0.5"], "'--tie' parameter of lrscope tune"),
        ([*TUNE, "--tie", "nan"], "'--tie' parameter of lrscope tune"),
        ([*TUNE, "--max-epochs", "-1"], "'--max-epochs' parameter of lrscope tune"),
        ([*TUNE, "--metric", "mse"], "'metric' parameter of lrscope tune"),
        ([*TUNE, "--trials", "0"], "'trials' parameter of the tune budget"),
        (["tune", "--task", TINY], "'steps' parameter of the tune budget"),
        ([*TUNE, "--precision", "fp64"], "'precision' parameter of the runtime"),
        ([*TUNE, "--executor", "process", "--workers", "0"], "'workers'"),
        ([*TUNE, "--threads", str(10**6)], "'--threads' parameter of lrscope tune"),
        (["tune", "--task", "no-such-task", "--steps", "64"], "unknown task 'no-such-task'"),
        (["recommend", "--task", "no-such-task"], "unknown task 'no-such-task'"),
        (["recommend", "--task", TINY, "--top", "0"], "'--top' parameter of lrscope recommend"),
    ],
)  # fmt: skip
def test_bad_input_creates_no_store(args: list[str], needle: str, tmp_path: Path) -> None:
    """Everything is checked (and the task built) before the store is opened: no file appears."""
    db = tmp_path / "never.db"
    error_line(invoke(*args, "--db", url(db)), needle)
    assert not db.exists()


@pytest.mark.parametrize("steps", ["0", "-1"])
def test_rank_steps_must_be_a_budget(steps: str, stored: Path) -> None:
    db = stored / "lrscope.db"
    before = table_rows(db)
    error_line(invoke("rank", "--task", "tiny-blobs", "--steps", steps, "--db", url(db)),
               "'steps' parameter of the ranking")  # fmt: skip
    assert table_rows(db) == before


def test_rank_steps_no_trial_ran_at_names_the_stored_budgets(stored: Path) -> None:
    """The stored trials of tiny-blobs ran 30 steps: a ranking at 7 would be silently empty."""
    db = stored / "lrscope.db"
    before = table_rows(db)
    for output in ([], ["--json"], ["--format", "csv"]):
        result = invoke("rank", "--task", "tiny-blobs", "--steps", "7", "--db", url(db), *output)
        error_line(result, "no trials of task 'tiny-blobs' at 7 steps", "stored budgets: 30")
    assert table_rows(db) == before


# --- options that do not go together -----------------------------------------


@pytest.mark.parametrize("other", ["table", "csv"])
@pytest.mark.parametrize("order", ["json first", "format first"])
def test_rank_json_conflicts_with_another_format(other: str, order: str, stored: Path) -> None:
    db = stored / "lrscope.db"
    before = table_rows(db)
    flags = (
        ["--json", "--format", other] if order == "json first" else ["--format", other, "--json"]
    )
    result = invoke("rank", "--task", "tiny-blobs", "--db", url(db), *flags)
    error_line(result, "--json and --format " + other + " conflict")
    assert table_rows(db) == before


def test_rank_json_agrees_with_format_json(stored: Path) -> None:
    db = url(stored / "lrscope.db")
    both = invoke("rank", "--task", "tiny-blobs", "--db", db, "--json", "--format", "json")
    assert both.exit_code == 0, both.output
    assert json.loads(both.stdout) == json.loads(invoke("rank", "--task", "tiny-blobs", "--db",
                                                        db, "--json").stdout)  # fmt: skip


# --- files of the wrong kind --------------------------------------------------


def _plan(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "plan.toml"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe task = 1", "is not UTF-8 text (byte 0xff at offset 0)"),
        ('task = "caf\u00e9"\n'.encode("latin-1"), "is not UTF-8 text"),
        (b"a = " + b"[" * 3000 + b"]" * 3000, "nested too deep"),
        (b"task = " + b"x" * 1_000_001, "larger than 1,000,000 bytes"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8"),
    ],
    ids=["utf-16 bytes", "latin-1", "nested", "huge", "a png"],
)
def test_a_plan_file_that_is_no_plan(content: bytes, needle: str, tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    error_line(invoke("bench", "--plan", str(_plan(tmp_path, content)), "--db", url(db)), needle)
    assert not db.exists()


def test_a_plan_that_is_a_directory(tmp_path: Path) -> None:
    error_line(invoke("bench", "--plan", str(tmp_path), "--db", url(tmp_path / "n.db")),
               "cannot read plan file")  # fmt: skip


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[list[str], Path, dict[str, object]]:
    """The arguments of a tiny trial, its checkpoint file, and the checkpoint's content."""
    path = tmp_path / "trial.ckpt"
    args = ["train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "20",
            "--eval-every", "5", "--json"]  # fmt: skip
    assert invoke(*args, "--checkpoint", str(path)).exit_code == 0
    return args, path, torch.load(path, weights_only=True)


def _damaged(data: dict[str, object], change: str) -> dict[str, object]:
    damaged = dict(data)
    model = data["model"]
    assert isinstance(model, dict)
    if change.startswith("without "):
        damaged.pop(change.removeprefix("without "))
    elif change == "other weights":
        damaged["model"] = {"w": torch.zeros(3)}
    elif change == "weights of another shape":
        damaged["model"] = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) for k, v in model.items()}
    elif change == "a mangled optimizer":
        damaged["optimizer"] = {"state": 5}
    elif change == "a mangled data position":
        damaged["data"] = [1, 2]
    elif change == "a mangled random state":
        damaged["rng"] = {"torch": torch.zeros(3)}
    elif change == "a step out of range":
        damaged["step"] = -4
    elif change == "a mangled curve":
        damaged["curve"] = [{"q": 1}]
    return damaged


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ("without model", "lacks model"),
        ("without optimizer", "lacks optimizer"),
        ("without rng", "lacks rng"),
        ("without curve", "lacks curve"),
        ("other weights", "its model weights cannot be restored"),
        ("weights of another shape", "its model weights cannot be restored"),
        ("a mangled optimizer", "its optimizer state cannot be restored"),
        ("a mangled data position", "cannot be restored"),
        ("a mangled random state", "cannot be restored"),
        ("a step out of range", "step -4 is outside 0 .. 20"),
        ("a mangled curve", "cannot be restored"),
    ],
)
def test_a_damaged_checkpoint(
    change: str, needle: str, checkpoint: tuple[list[str], Path, dict[str, object]]
) -> None:
    args, path, data = checkpoint
    torch.save(_damaged(data, change), path)
    error_line(invoke(*args, "--checkpoint", str(path)), "checkpoint", needle)


def test_a_checkpoint_that_is_no_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.ckpt"
    path.write_text("my notes")
    error_line(invoke("train", "--task", TINY, "--policy", "FIX(k0=0.1)", "--steps", "5",
                      "--checkpoint", str(path)), "is not a torch file")  # fmt: skip
    assert path.read_text() == "my notes"


@pytest.mark.parametrize(
    ("weights", "needle"),
    [
        ("folder", "does not exist or is not a file"),
        ("text", "cannot load"),
        ("tensor", "holds no model weights"),
        ("other", "weight sets do not match"),
        ("missing", "does not exist or is not a file"),
    ],
)
def test_interpolate_weights_of_the_wrong_kind(weights: str, needle: str, stored: Path) -> None:
    path = {"folder": stored, "text": stored / "t.pt", "tensor": stored / "x.pt",
            "other": stored / "o.pt", "missing": stored / "none.pt"}[weights]  # fmt: skip
    (stored / "t.pt").write_text("not torch")
    torch.save(torch.zeros(3), stored / "x.pt")
    torch.save({"w": torch.zeros(2)}, stored / "o.pt")
    db = stored / "lrscope.db"
    before = table_rows(db)
    error_line(invoke("interpolate", "--task", TINY, "--from", str(path), "--to",
                      str(stored / "b.pt"), "--db", url(db)), needle)  # fmt: skip
    assert table_rows(db) == before


def test_a_task_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "task.py"
    path.write_bytes(b"\xff\xfe def make(): pass")
    error_line(invoke("train", "--task", f"{path}:make", "--policy", "FIX(k0=0.1)",
                      "--steps", "5"), "importing", "SyntaxError")  # fmt: skip


# --- a task whose own code fails while it trains ------------------------------

BROKEN = {
    "make_label_too_big": "IndexError: Target 5 is out of bounds",
    "make_label_negative": "IndexError: Target -1 is out of bounds",
    "make_wrong_shape": "RuntimeError: mat1 and mat2 shapes cannot be multiplied",
    "make_no_parameters": "ValueError: optimizer got an empty parameter list",
    "make_bad_test_labels": "out of bounds",
}


@pytest.mark.parametrize("factory", BROKEN)
def test_train_says_what_is_wrong_with_the_task(factory: str) -> None:
    line = error_line(
        invoke("train", "--task", fault_task(factory), "--policy", "FIX(k0=0.1)", "--steps",
               "10", "--json"), BROKEN[factory], "of 10 steps")  # fmt: skip
    assert line.startswith("error: task '")


def test_find_says_what_is_wrong_with_the_task(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    args = ["find", "--task", fault_task("make_label_too_big"), "--steps", "20", "--db", url(db)]
    error_line(invoke(*args), "task 'label-too-big' failed", "range-test steps")
    assert table_rows(db).get("range_tests", []) == []


def test_interpolate_says_what_is_wrong_with_the_task(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    assert invoke("train", "--task", fault_task("make_good"), "--policy", "FIX(k0=0.1)",
                  "--steps", "5", "--save-weights", str(weights)).exit_code == 0  # fmt: skip
    error_line(invoke("interpolate", "--task", fault_task("make_bad_test_labels"), "--from",
                      str(weights), "--to", str(weights), "--points", "3", "--no-store"),
               "task 'bad-test-labels' failed", "evaluations")  # fmt: skip


def test_tune_says_what_is_wrong_with_the_task(tmp_path: Path) -> None:
    error_line(invoke("tune", "--task", fault_task("make_label_too_big"), "--steps", "64",
                      "--executor", "local", "--db", url(tmp_path / "t.db"), "--quiet"),
               "make_label_too_big' failed in the range test stage: IndexError")  # fmt: skip


def test_bench_records_the_failure_and_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    result = invoke("bench", "--task", fault_task("make_label_too_big"), "--policy",
                    "FIX(k0=0.1)", "--steps", "5", "--db", url(db), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["failed"] == 1
    (trial,) = table_rows(db)["trials"]
    assert "failed" in trial
    assert any("Target 5 is out of bounds" in str(v) for v in trial)


# --- sys.exit in a task's code ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--policy", "FIX(k0=0.1)", "--steps", "5"],
        ["find", "--steps", "20"],
        ["bench", "--policy", "FIX(k0=0.1)", "--steps", "5"],
        ["tune", "--steps", "64", "--executor", "local", "--quiet"],
    ],
    ids=["train", "find", "bench", "tune"],
)
def test_a_factory_that_calls_sys_exit(args: list[str], tmp_path: Path) -> None:
    db = ["--db", url(tmp_path / "x.db")] if args[0] != "train" else []
    error_line(invoke(*args, "--task", fault_task("make_exits"), *db), "SystemExit: 0")


def test_a_module_that_calls_sys_exit_on_import(tmp_path: Path) -> None:
    path = tmp_path / "quits.py"
    path.write_text("import sys\nsys.exit(0)\n")
    error_line(invoke("train", "--task", f"{path}:make", "--policy", "FIX(k0=0.1)", "--steps",
                      "5"), "importing", "SystemExit: 0")  # fmt: skip


@pytest.mark.parametrize("command", ["train", "find"])
def test_a_model_that_calls_sys_exit(command: str, tmp_path: Path) -> None:
    args = {"train": ["train", "--policy", "FIX(k0=0.1)", "--steps", "5"],
            "find": ["find", "--steps", "20", "--db", url(tmp_path / "x.db")]}[command]  # fmt: skip
    error_line(invoke(*args, "--task", fault_task("make_model_exits")),
               "sys.exit(0) was called at", "fault_tasks.py")  # fmt: skip


def test_bench_records_a_model_that_calls_sys_exit(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    result = invoke("bench", "--task", fault_task("make_model_exits"), "--policy",
                    "FIX(k0=0.1)", "--steps", "5", "--db", url(db), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["failed"] == 1


# --- text that matplotlib would read as a formula -----------------------------


def test_find_plots_a_task_named_with_dollars(tmp_path: Path) -> None:
    plot = tmp_path / "rt.png"
    result = invoke("find", "--task", fault_task("make_dollar"), "--steps", "20", "--db",
                    url(tmp_path / "d.db"), "--plot", str(plot), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["task"] == DOLLAR_NAME
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_interpolate_plots_labels_with_dollars(stored: Path) -> None:
    plot = stored / "i.svg"
    label = r"$\undefined{ and $x^"
    result = invoke("interpolate", "--task", TINY, "--from", str(stored / "a.pt"), "--to",
                    str(stored / "b.pt"), "--points", "3", "--label", label, "--db",
                    url(stored / "lrscope.db"), "--plot", str(plot), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "undefined" in plot.read_text(encoding="utf-8")


def test_the_report_of_a_task_named_with_dollars(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    args = ["find", "--task", fault_task("make_dollar"), "--steps", "20", "--db", url(db)]
    assert invoke(*args, "--json").exit_code == 0
    bench = ["bench", "--task", fault_task("make_dollar"), "--policy", "FIX(k0=0.1)",
             "--steps", "10", "--db", url(db)]  # fmt: skip
    assert invoke(*bench).exit_code == 0
    out = tmp_path / "r.html"
    result = invoke("report", "--db", url(db), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "cost $5 and $\\frac{x$" in out.read_text(encoding="utf-8")
