"""Ctrl-C and SIGTERM during real ``lrscope`` processes (issue 16, B): exit 130 and 143.

Each command runs as a subprocess on ``fault_tasks.py:make_slow`` (20 ms per
forward pass), which touches a marker file once training is under way; then
the test sends SIGINT (what Ctrl-C sends) or SIGTERM to the lrscope process
alone. Expected: exit status 128 + the signal (130, 143), nothing on stdout
(no partial result printed as if it had finished), exactly one line on
stderr saying what was interrupted and what is stored, no worker process
left behind, and for the commands that store trials, no trial left
``running``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lrscope
from fault_testlib import fault_task, url

pytestmark = pytest.mark.slow

SLOW = fault_task("make_slow")
SIGNALS = {
    "SIGINT": (signal.SIGINT, 130, "SIGINT (Ctrl-C)"),
    "SIGTERM": (signal.SIGTERM, 143, "SIGTERM"),
}


def _env(marker: Path) -> dict[str, str]:
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["LRSCOPE_TEST_MARKER"] = str(marker)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def _interrupt(args: list[str], signum: int, tmp_path: Path) -> tuple[int, str, list[str]]:
    """Run ``lrscope args``, signal it once training has started; status, stdout, stderr lines."""
    marker = tmp_path / "started"
    command = [sys.executable, "-c", "from lrscope.cli.app import main; main()", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(marker), text=True
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"training never started: {process.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the run
    workers = _children(process.pid)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    limit = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < limit:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "worker processes outlived lrscope"
    return process.returncode, out, err.splitlines()


def _statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM trials")]


def _check(result: tuple[int, str, list[str]], signame: str, *needles: str) -> str:
    _, status, name = SIGNALS[signame]
    code, out, lines = result
    assert code == status, (code, out, lines)
    assert out == ""
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: interrupted by {name}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("signame", SIGNALS)
def test_train(signame: str, tmp_path: Path) -> None:
    checkpoint = tmp_path / "trial.ckpt"
    args = ["train", "--task", SLOW, "--policy", "FIX(k0=0.1)", "--steps", "2000",
            "--eval-every", "5", "--checkpoint", str(checkpoint), "--json", "--quiet"]  # fmt: skip
    result = _interrupt(args, SIGNALS[signame][0], tmp_path)
    needles = ("lrscope train stopped after", "of 2000 steps", "the same command resumes it")
    line = _check(result, signame, *needles)
    assert str(checkpoint) in line
    assert checkpoint.is_file()


@pytest.mark.parametrize("signame", SIGNALS)
def test_bench(signame: str, tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    args = ["bench", "--task", SLOW, "--policy", "FIX(k0=0.1)", "--policy", "FIX(k0=0.05)",
            "--seeds", "2", "--steps", "2000", "--executor", "process", "--workers", "2",
            "--db", url(db), "--json", "--quiet"]  # fmt: skip
    _check(_interrupt(args, SIGNALS[signame][0], tmp_path), signame,
           "lrscope bench stopped with", "of 4 trials stored", "resumes the plan")  # fmt: skip
    statuses = _statuses(db)
    assert statuses
    assert "running" not in statuses
    assert "failed" in statuses  # the trials in flight


@pytest.mark.parametrize("signame", SIGNALS)
def test_find(signame: str, tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    plot = tmp_path / "rt.png"
    args = ["find", "--task", SLOW, "--steps", "2000", "--db", url(db), "--plot", str(plot),
            "--json", "--quiet"]  # fmt: skip
    _check(_interrupt(args, SIGNALS[signame][0], tmp_path), signame,
           "the range test stopped after", "of 2000 steps; nothing is stored")  # fmt: skip
    assert not plot.exists()


@pytest.mark.parametrize("signame", SIGNALS)
def test_tune(signame: str, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    args = ["tune", "--task", SLOW, "--steps", "2000", "--trials", "4", "--round-size", "4",
            "--executor", "process", "--workers", "2", "--db", url(db), "--json",
            "--quiet"]  # fmt: skip
    _check(_interrupt(args, SIGNALS[signame][0], tmp_path), signame,
           "lrscope tune stopped during the", "stored")  # fmt: skip
    assert "running" not in _statuses(db)
