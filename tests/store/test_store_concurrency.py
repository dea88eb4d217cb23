"""Several OS processes writing into one database at once lose and duplicate nothing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from lrscope.store import Store
from store_testlib import subprocess_env, worker_command

N_SHARED = 100  # keys every worker tries to claim: each must be run exactly once
N_OWN = 25  # keys (and range tests) of one worker only: none may be lost
N_WORKERS = 2


@pytest.mark.slow
def test_concurrent_workers_run_each_key_once_and_lose_nothing(db_url: str, tmp_path: Path) -> None:
    # the database is empty: the workers also race to create the tables
    barrier = tmp_path / "go"
    workers = [
        subprocess.Popen(
            worker_command("bench", db_url, f"w{i}", str(N_SHARED), str(N_OWN), str(barrier)),
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_WORKERS)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-w{i}").exists() for i in range(N_WORKERS)):
        assert all(w.poll() is None for w in workers), "a worker died before starting"
        assert time.monotonic() < deadline, "the workers never opened the store"
        time.sleep(0.01)
    barrier.touch()  # both start claiming at the same moment
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))

    claimed = [set(report["claimed"]) for report in reports]
    assert set.union(*claimed) == set(range(N_SHARED))
    assert sum(len(c) for c in claimed) == N_SHARED  # no key was run twice
    windows = sorted((r["start"], r["end"]) for r in reports)
    assert windows[1][0] < windows[0][1], "the workers did not overlap in time"

    with Store.open(db_url) as store:
        shared = store.trials(task="shared")
        assert len(shared) == N_SHARED
        assert {t.status for t in shared} == {"done"}
        assert {t.attempts for t in shared} == {1}
        assert sorted(t.seed for t in shared) == list(range(N_SHARED))
        for trial in shared:  # each row holds its own result
            assert trial.top1 == trial.seed / N_SHARED
        for i in range(N_WORKERS):
            own = store.trials(task=f"own-w{i}")
            assert sorted(t.seed for t in own) == list(range(N_OWN))
            tests = store.range_tests(f"own-w{i}")
            firsts = [r.result["lr"][0] for r in tests]  # type: ignore[index]
            assert sorted(firsts) == [0.1 * j for j in range(N_OWN)]
        info = store.info()
        assert info.counts["trials"] == N_SHARED + N_WORKERS * N_OWN
        assert info.counts["range_tests"] == N_WORKERS * N_OWN
        assert info.trials_by_status["done"] == N_SHARED + N_WORKERS * N_OWN
        assert info.counts["tasks"] == 1 + N_WORKERS
        assert info.counts["policies"] == 1
