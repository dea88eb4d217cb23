"""The ray executor on a local Ray started for the run: the same trials as local.

Each test starts the executor's own Ray (as ``--executor ray`` without
``--ray-address`` does), with ``num_cpus=workers``, and checks that
``close()`` shuts it down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lrscope.bench import Execution, Plan, make_executor, run_plan
from lrscope.store import Store
from trial_testlib import assert_same_trials, stored_trials

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TINY = f"{Path(__file__).resolve().with_name('tiny_task.py')}:make_task"
FLAKY = f"{Path(__file__).resolve().with_name('tiny_task.py')}:make_flaky_task"


def stored(db_url: str, task: str) -> dict[object, tuple[object, ...]]:
    with Store.open(db_url) as store:
        return {
            r.key: (r.status, r.top1, r.best_top1, r.best_iter, (r.error or "")[:40])
            for r in store.trials(task=task)
        }


def test_ray_executor_stores_the_same_trials_as_local(tmp_path: Path) -> None:
    import ray

    plan = Plan(
        TINY, ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=12)"], seeds=2, steps=40, eval_every=10
    )
    flaky = Plan(FLAKY, ["FIX(k0=0.05)", "FIX(k0=1000)"], seeds=[12, 13], steps=20, eval_every=10)
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("local", "ray")}
    with Store.open(urls["local"]) as store:
        run_plan(plan, store)
        run_plan(flaky, store)

    assert not ray.is_initialized()
    executor = make_executor(Execution("ray", workers=2))  # a local Ray: 2 CPUs, no dashboard
    try:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 2  # type: ignore[no-untyped-call,unused-ignore]
        with Store.open(urls["ray"]) as store:
            summary = run_plan(plan, store, executor)
            assert (summary.executor, summary.workers, summary.ran) == ("ray", 2, 4)
            assert summary.batch_trials == 1
            assert summary.failed == 0
            # a failing and a diverging trial under Ray are recorded like anywhere else
            flaky_summary = run_plan(flaky, store, executor)
            assert (flaky_summary.failed, flaky_summary.diverged) == (2, 1)
    finally:
        executor.close()
    assert not ray.is_initialized(), "the executor must shut down the Ray it started"

    for task in ("tiny-blobs", "tiny-flaky"):
        local, remote = stored(urls["local"], task), stored(urls["ray"], task)
        assert set(remote) == set(local)
        assert remote == local


def test_ray_tasks_train_groups(tmp_path: Path) -> None:
    import ray

    plan = Plan(
        TINY,
        ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=12)", "FIX(k0=1000)"],
        seeds=2,
        steps=30,
        eval_every=10,
    )
    local, remote = (f"sqlite:///{tmp_path / n}.db" for n in ("local", "ray"))
    with Store.open(local) as store:
        run_plan(plan, store)
    with make_executor(Execution("ray", workers=2, batch_trials="auto"), trials=6) as executor:
        assert (executor.workers, executor.batch_trials) == (2, 3)
        with Store.open(remote) as store:
            summary = run_plan(plan, store, executor)
    assert not ray.is_initialized()
    assert (summary.executor, summary.batch_trials, summary.ran, summary.failed) == (
        "ray",
        3,
        6,
        0,
    )
    assert summary.diverged == 2
    assert_same_trials(stored_trials(remote, "tiny-blobs"), stored_trials(local, "tiny-blobs"))


def test_without_an_address_a_new_local_ray_starts_whatever_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RAY_ADDRESS (or ``ray start``'s record of a cluster, maybe long dead) is for
    ``--ray-address auto``; without an address the run gets its own Ray."""
    import ray

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # the discard port: nothing there
    with make_executor(Execution("ray", workers=1)) as executor:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 1  # type: ignore[no-untyped-call,unused-ignore]
        assert executor.workers == 1
    assert not ray.is_initialized()
