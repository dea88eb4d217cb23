"""Real ``lrscope bench`` processes: killed with SIGKILL and resumed, and run side by side.

Every test here starts the command line in subprocesses on a plan file and
checks the store afterwards: each planned trial stored exactly once, as done.
The PostgreSQL variant needs ``$LRSCOPE_TEST_PG_URL`` (see
``tests/pg_testlib.py``) and skips with that reason otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import lrscope
from lrscope.store import Store
from pg_testlib import fresh_pg_schema_url, pg_base_url

pytestmark = pytest.mark.slow

TINY_FILE = Path(__file__).resolve().with_name("tiny_task.py")
TASK = "tiny-blobs"
SPECS = ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=50)", "COS(k0=0.001, k1=0.1, l=100)"]


def write_plan(path: Path, seeds: int, steps: int) -> Path:
    policies = ", ".join(json.dumps(spec) for spec in SPECS)
    path.write_text(
        f'task = "{TINY_FILE}:make_task"\npolicies = [{policies}]\n'
        f"seeds = {seeds}\nsteps = {steps}\neval_every = {steps // 4}\n"
    )
    return path


def bench_command(plan: Path, db_url: str, *extra: str) -> list[str]:
    entry = "from lrscope.cli.app import main; main()"
    return [
        sys.executable,
        "-c",
        entry,
        "bench",
        "--plan",
        str(plan),
        "--db",
        db_url,
        "--json",
        "--quiet",
        *extra,
    ]


def subprocess_env() -> dict[str, str]:
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    return env


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def assert_complete(db_url: str, n_trials: int) -> None:
    with Store.open(db_url) as store:
        records = store.trials(task=TASK)
    counts = Counter(r.key for r in records)
    assert len(counts) == n_trials
    assert set(counts.values()) == {1}
    assert Counter(r.status for r in records) == Counter({"done": n_trials})


def kill_mid_run(command: list[str], db_url: str, n_trials: int) -> set[int]:
    """Start ``command``, SIGKILL it once 2 trials are done; its descendants at that time."""
    process = subprocess.Popen(
        command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    with Store.open(db_url) as store:
        while len(store.done_keys(TASK)) < 2:
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the bench made no progress"
            time.sleep(0.02)
        workers = descendants(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        done = len(store.done_keys(TASK))
    assert process.returncode == -signal.SIGKILL
    assert 2 <= done < n_trials, "the kill came too late to test anything"
    return workers


@pytest.mark.parametrize(
    ("executor", "batch_trials"), [("local", "1"), ("process", "1"), ("local", "3")]
)
def test_kill_9_mid_run_then_rerun_stores_every_trial_once(
    tmp_path: Path, executor: str, batch_trials: str
) -> None:
    """Also with groups: the trials of the group in training are claimed and re-run."""
    seeds, steps = 4, 600
    plan = write_plan(tmp_path / "plan.toml", seeds=seeds, steps=steps)
    db_url = f"sqlite:///{tmp_path / 'bench.db'}"
    Store.open(db_url).close()  # tables exist before the poller reads
    n_workers = "2" if executor == "process" else "1"
    command = bench_command(
        plan, db_url, "--executor", executor, "--workers", n_workers, "--batch-trials", batch_trials
    )
    workers = kill_mid_run(command, db_url, len(SPECS) * seeds)
    if executor == "process":
        assert workers, "the process executor had no worker processes"
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "orphaned workers outlived the runner"

    rerun = subprocess.run(command, env=subprocess_env(), capture_output=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    summary = json.loads(rerun.stdout)
    assert summary["skipped"] >= 2
    assert summary["failed"] == 0
    assert summary["ran"] + summary["skipped"] == len(SPECS) * seeds
    assert_complete(db_url, len(SPECS) * seeds)


def concurrent_benches(db_url: str, plan: Path, n_trials: int) -> None:
    Store.open(db_url).close()
    command = bench_command(plan, db_url)
    processes = [
        subprocess.Popen(
            command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
    summaries = [json.loads(out) for out, _ in outputs]
    assert all(s["failed"] == 0 for s in summaries)
    # no trial was run twice: the claims split the plan between the two runners
    assert sum(s["ran"] for s in summaries) == n_trials
    assert_complete(db_url, n_trials)


def test_two_benches_on_one_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.toml", seeds=4, steps=200)
    concurrent_benches(f"sqlite:///{tmp_path / 'shared.db'}", plan, len(SPECS) * 4)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_pg_schema_url(pg_base_url())


@pytest.mark.postgres
def test_two_benches_on_one_postgres_database_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    plan = write_plan(tmp_path / "plan.toml", seeds=4, steps=200)
    concurrent_benches(pg_url, plan, len(SPECS) * 4)
