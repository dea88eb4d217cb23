"""The ray executor on a local Ray started for the run: the same trials as local.

One ``ray.init`` in this module: the executor's own (as ``--executor ray``
without ``--ray-address`` does), started with ``num_cpus=workers`` and shut
down by ``close()``; both plans run on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lrscope.bench import Plan, make_executor, run_plan
from lrscope.store import Store

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
    executor = make_executor("ray", 2)  # starts a local Ray with 2 CPUs, no dashboard
    try:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 2
        with Store.open(urls["ray"]) as store:
            summary = run_plan(plan, store, executor)
            assert (summary.executor, summary.workers, summary.ran) == ("ray", 2, 4)
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
