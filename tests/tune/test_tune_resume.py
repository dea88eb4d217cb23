"""Real ``lrscope tune`` processes killed with SIGKILL at three moments, then resumed.

A resumed tune must reach the decisions of an uninterrupted one: the same
stored trials (keys, statuses, metrics) and the same winner. The moments: in
the range test, in the search (a round trained and stored, the next one
training) and in the confirmation. Each killed run is checked to have died in
that stage (what the store holds at the kill), so a kill that came too early
or too late fails the test instead of testing nothing.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lrscope
from lrscope.store import Store

pytestmark = pytest.mark.slow

TASKS = Path(__file__).resolve().with_name("tune_tasks.py")
TASK = "blobs4-mlp"
STEPS, TRIALS = 96, 32  # two search rounds of 16
OPTIONS = ["--steps", str(STEPS), "--trials", str(TRIALS), "--executor", "local",
           "--batch-trials", "auto", "--threads", "1"]  # fmt: skip


def command(db_url: str, *extra: str) -> list[str]:
    entry = "from lrscope.cli.app import main; main()"
    task = f"{TASKS}:make_mlp"
    return [sys.executable, "-c", entry, "tune", "--task", task, *OPTIONS, "--db", db_url, *extra]


def environment() -> dict[str, str]:
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    env["COLUMNS"] = "200"
    return env


def finish(db_url: str) -> dict[str, Any]:
    """Run the tune to the end; its ``--json`` document."""
    done = subprocess.run(
        command(db_url, "--json", "--quiet"),
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(done.stdout)
    return document


Trials = dict[tuple[object, ...], tuple[object, ...]]
"""Stored trials: key -> (status, top1, best_iter, steps_done)."""


def stored(db_url: str) -> Trials:
    """Every stored trial: key -> (status, top1, best_iter, steps_done)."""
    with Store.open(db_url) as store:
        return {
            (t.spec, t.seed, t.steps, t.eval_every): (t.status, t.top1, t.best_iter, t.steps_done)
            for t in store.trials(TASK)
        }


def kill_when(db_url: str, ready: Callable[[str], bool]) -> None:
    """Start the tune and SIGKILL it as soon as a line on its stderr makes ``ready`` true."""
    process = subprocess.Popen(
        command(db_url),
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 300
    seen: list[str] = []
    try:
        while True:
            assert time.monotonic() < deadline, "".join(seen)[-3000:]
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert process.poll() is None, "".join(seen)[-3000:]
                continue
            seen.append(line)
            if ready(line):
                os.kill(process.pid, signal.SIGKILL)
                break
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Trials]:
    url = f"sqlite:///{tmp_path_factory.mktemp('whole') / 'whole.db'}"
    document = finish(url)
    return document, stored(url)


def _search_stored(trials: dict[tuple[object, ...], tuple[object, ...]]) -> int:
    return sum(1 for (_, seed, steps, every) in trials if seed == 0 and steps == every == STEPS)


def _measured(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ranking rows without the wall times (the only numbers a second run changes)."""
    return [{k: v for k, v in row.items() if not k.startswith("wall_s")} for row in rows]


@pytest.mark.parametrize("moment", ["range test", "search", "confirmation"])
def test_a_tune_killed_and_resumed_reaches_the_uninterrupted_decisions(
    tmp_path: Path, moment: str, uninterrupted: tuple[dict[str, Any], Trials]
) -> None:
    whole, whole_trials = uninterrupted
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    if moment == "range test":
        kill_when(url, lambda line: "ramping the learning rate" in line)
        with Store.open(url) as store:
            assert store.range_tests(TASK) == []  # it died in the range test
            assert store.trials(TASK) == []
    elif moment == "search":
        kill_when(url, lambda line: "round 1/2 done" in line)
        killed = stored(url)
        assert 0 < _search_stored(killed) < TRIALS  # one round stored, the next not
        assert all(every == STEPS for (_, _, _, every) in killed)  # nothing confirmed yet
    else:
        kill_when(url, lambda line: line.startswith("confirm:"))
        killed = stored(url)
        confirmation = [k for k in killed if k[3] != STEPS]
        assert len(confirmation) < 15  # not every confirmation trial is stored
        assert _search_stored(killed) >= 16
    resumed = finish(url)
    assert resumed["winner_spec"] == whole["winner_spec"]
    assert resumed["finalists"] == whole["finalists"]
    assert [p["spec"] for p in resumed["search"]] == [p["spec"] for p in whole["search"]]
    assert _measured(resumed["ranking"]) == _measured(whole["ranking"])
    assert resumed["summary"]["time_to_accuracy"] == whole["summary"]["time_to_accuracy"]
    assert stored(url) == whole_trials
