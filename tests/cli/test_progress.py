"""Progress on stderr (issue 16, B): a bar in a terminal, a line every few seconds in a log.

A long command whose stderr is a file or a pipe (CI, ``nohup``, a log) used
to print nothing for minutes. :class:`lrscope.cli._common.Progress` prints a
line with done/total and the elapsed time every ``LOG_EVERY_S`` seconds
there, from a thread, so even one long trial shows up; with ``--quiet``
nothing. Also here: the interruption note and the task-failure wrapper.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from fault_testlib import fault_task, invoke
from lrscope.cli import _common
from lrscope.cli._common import Interrupted, Progress, interrupt_note, stage_progress, task_failures
from lrscope.errors import ParameterError, TaskError

pytestmark = pytest.mark.usefixtures("keep_torch_threads")

LINE = re.compile(r"^(.+): (\d+)/(\d+) \((\d+)%\), (\d+):(\d\d):(\d\d) elapsed$")


def test_a_log_gets_a_line_every_interval(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("bench tiny", 4, every_s=0.05, mode="log") as progress:
        progress.advance(1)
        time.sleep(0.3)
        progress.update(3)
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert 2 <= len(lines) <= 13  # about one per 0.05 s, never a flood
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    done = [int(m[2]) for m in parsed if m]
    assert done == sorted(done)
    assert done[0] == 1
    assert done[-1] == 3
    assert {m[1] for m in parsed if m} == {"bench tiny"}
    assert {m[4] for m in parsed if m} <= {"25", "75"}


def test_without_a_total_the_line_counts_and_times(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("sweep", None, every_s=0.05, mode="log") as progress:
        time.sleep(0.12)
        progress.advance(2)
        time.sleep(0.12)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "sweep: 0:00:00 elapsed"
    assert lines[-1] == "sweep: 2 done, 0:00:00 elapsed"


def test_quiet_prints_nothing_not_even_notes(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("x", 3, quiet=True, every_s=0.01) as progress:
        assert progress.mode == "off"
        progress.advance(1)
        progress.note("a stage")
        time.sleep(0.05)
    assert capsys.readouterr().err == ""


def test_the_log_is_the_default_when_stderr_is_not_a_terminal() -> None:
    assert Progress("x").mode == "log"  # pytest captures stderr: not a terminal
    assert Progress("x", quiet=True).mode == "off"


def test_the_bar_mode_draws_and_takes_notes(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("train", 10, mode="bar") as progress:
        progress.update(5)
        progress.restart("stage two", 3)
        progress.advance(1)
        progress.note("a note")
    assert "a note" in capsys.readouterr().err


def test_stage_events_count_and_note(capsys: pytest.CaptureFixture[str]) -> None:
    with stage_progress("tune", quiet=False) as events:
        assert events.where() is None
        events("range test", "ramping the learning rate")
        events("full trials", "3/15")
        assert (events.progress.done, events.progress.total) == (3, 15)
        assert events.progress.description == "tune: full trials"
        assert events.where() == "in the full trials stage"
        events("cheap trial", "SIN: pruned after 90 steps")
        assert events.progress.total is None  # a new stage counts again
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "range test: ramping the learning rate",
        "cheap trial: SIN: pruned after 90 steps",
    ]


def test_a_long_command_in_a_log_prints_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """``train`` with stderr captured (not a terminal): periodic done/total lines."""
    monkeypatch.setattr(_common, "LOG_EVERY_S", 0.2)
    result = invoke("train", "--task", fault_task("make_slow"), "--policy", "FIX(k0=0.1)",
                    "--steps", "60", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [LINE.match(line) for line in result.stderr.splitlines()]
    assert len(lines) >= 3, result.stderr
    assert all(lines), result.stderr
    assert all(m[1] == "slow FIX(k0=0.1)" and m[3] == "60" for m in lines if m)
    quiet = invoke("train", "--task", fault_task("make_slow"), "--policy", "FIX(k0=0.1)",
                   "--steps", "60", "--json", "--quiet")  # fmt: skip
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


# --- interruptions and task failures -----------------------------------------


def _interrupted_after_clean_up(state: dict[str, int]) -> None:
    try:
        raise KeyboardInterrupt
    finally:
        state["stored"] = 3  # the clean-up of the code inside


def test_the_note_is_read_after_the_clean_up() -> None:
    state = {"stored": 0}
    with pytest.raises(Interrupted) as info, interrupt_note(lambda: f"{state['stored']} stored"):
        _interrupted_after_clean_up(state)
    assert (info.value.signum, info.value.what) == (signal.SIGINT, "3 stored")


def test_the_innermost_note_wins_and_a_failing_note_is_empty() -> None:
    with (
        pytest.raises(Interrupted) as info,
        interrupt_note(lambda: "outer"),
        interrupt_note(lambda: "inner"),
    ):
        raise Interrupted(signal.SIGTERM)
    assert (info.value.signum, info.value.what) == (signal.SIGTERM, "inner")
    with pytest.raises(Interrupted) as info, interrupt_note(lambda: str(1 / 0)):
        raise KeyboardInterrupt
    assert info.value.what == ""


def test_task_failures_name_the_task_and_the_place() -> None:
    expected = (
        r"^task 'rings' failed after 3 of 9 steps: "
        r"IndexError: Target 5 is out of bounds\. \(LRSCOPE_TRACEBACK"
    )
    with (
        pytest.raises(TaskError, match=expected),
        task_failures("rings", lambda: "after 3 of 9 steps"),
    ):
        raise IndexError("Target 5 is out of bounds.\nmore detail")
    with pytest.raises(ParameterError), task_failures("rings", lambda: "never asked"):
        raise ParameterError("x", "y", "z", 1)  # lrscope's own errors pass unchanged


def test_the_traceback_on_request(tmp_path: Path) -> None:
    args = ["train", "--task", fault_task("make_label_too_big"), "--policy", "FIX(k0=0.1)",
            "--steps", "5"]  # fmt: skip
    result = invoke(*args, env={"LRSCOPE_TRACEBACK": "1"})
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "IndexError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: task 'label-too-big' failed")
