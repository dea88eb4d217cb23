"""The batched executors through run_plan and the CLI: stored trials, fallbacks, options.

The tiny task is an MLP, whose stacked layers use the same matrix kernels as
the unbatched ones, so batched and local runs store the same numbers.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.bench import BenchSummary, Executor, Plan, TrialConfig, make_executor, run_plan
from lrscope.bench.batched import BatchedExecutor, BatchedProcessExecutor, run_group
from lrscope.bench.executors import check_executor_options
from lrscope.cli.app import app
from lrscope.engine import TrialKey
from lrscope.errors import PlanError
from lrscope.store import Store

HERE = Path(__file__).resolve().parent
TINY = f"{HERE / 'tiny_task.py'}:make_task"
FLAKY = f"{HERE / 'tiny_task.py'}:make_flaky_task"
BN = f"{HERE / 'test_batched.py'}:make_batchnorm_task"
SPECS = [
    "FIX(k0=0.05)",
    "TRI2(k0=0.01, k1=0.1, l=12)",
    "onecycle(max_lr=0.1, total_steps=40)",
    "FIX(k0=1000)",
]


def make_batchnorm_task() -> object:
    """The tiny task with a BatchNorm layer: not batchable (loaded by file path)."""
    import sys

    from torch import nn

    sys.path.insert(0, str(HERE))
    from tiny_task import make_task

    task = make_task()
    task.name = "tiny-bn"
    task.model = lambda: nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 3))
    return task


def stored(url: str, task: str) -> dict[TrialKey, tuple[object, ...]]:
    with Store.open(url) as store:
        return {
            r.key: (r.status, r.top1, r.best_top1, r.best_iter, r.steps_done, r.curve)
            for r in store.trials(task=task)
        }


def run(plan: Plan, url: str, executor: str | Executor) -> BenchSummary:
    with Store.open(url) as store:
        return run_plan(plan, store, executor)


def test_batched_stores_the_same_trials_as_local(tmp_path: Path) -> None:
    plan = Plan(TINY, SPECS, seeds=2, steps=40, eval_every=10)
    local, batched = (f"sqlite:///{tmp_path / n}.db" for n in ("local", "batched"))
    run(plan, local, "local")
    executor = make_executor("batched", batch_trials=3)
    assert isinstance(executor, BatchedExecutor)
    summary = run(plan, batched, executor)
    assert (summary.total, summary.ran, summary.failed, summary.diverged) == (8, 8, 0, 2)
    assert summary.executor == "batched"
    assert stored(batched, "tiny-blobs") == stored(local, "tiny-blobs")
    again = run(plan, batched, "batched")  # by name, default K: everything is stored
    assert (again.ran, again.skipped) == (0, 8)


def test_process_workers_train_batched_groups(tmp_path: Path) -> None:
    plan = Plan(TINY, SPECS[:3], seeds=2, steps=30, eval_every=10)
    local, batched = (f"sqlite:///{tmp_path / n}.db" for n in ("local", "batched"))
    run(plan, local, "local")
    executor = make_executor("process", 2, batch_trials=3)
    assert isinstance(executor, BatchedProcessExecutor)
    try:
        summary = run(plan, batched, executor)
    finally:
        executor.close()
    assert (summary.ran, summary.failed, summary.workers) == (6, 0, 2)
    assert summary.executor == "process+batched"
    assert stored(batched, "tiny-blobs") == stored(local, "tiny-blobs")


def test_a_failing_member_falls_back_to_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Seed 13's model factory raises: its trials fail, the others are stored done."""
    plan = Plan(FLAKY, ["FIX(k0=0.05)", "FIX(k0=1000)"], seeds=[12, 13], steps=20, eval_every=10)
    url = f"sqlite:///{tmp_path / 'flaky.db'}"
    with caplog.at_level(logging.WARNING, logger="lrscope.bench.batched"):
        summary = run(plan, url, make_executor("batched", batch_trials=4))
    assert (summary.ran, summary.failed, summary.diverged) == (4, 2, 1)
    assert "running them one by one" in caplog.text
    statuses = {(k.spec, k.seed): v[0] for k, v in stored(url, "tiny-flaky").items()}
    assert statuses == {
        ("FIX(k0=0.05)", 12): "done",
        ("FIX(k0=1000.0)", 12): "diverged",
        ("FIX(k0=0.05)", 13): "failed",
        ("FIX(k0=1000.0)", 13): "failed",
    }


def test_an_unbatchable_task_runs_unbatched_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrscope.bench.batched as batched

    monkeypatch.setattr(batched, "_TOLD", set())  # the reason is logged once per process
    plan = Plan(BN, SPECS[:2], seeds=1, steps=20, eval_every=10)
    local, batched = (f"sqlite:///{tmp_path / n}.db" for n in ("local", "batched"))
    run(plan, local, "local")
    with caplog.at_level(logging.INFO, logger="lrscope.bench.batched"):
        run(plan, batched, make_executor("batched"))
    assert "unbatched" in caplog.text
    assert "buffers" in caplog.text
    assert stored(batched, "tiny-bn") == stored(local, "tiny-bn")


def test_run_group_keeps_the_order_and_splits_tasks() -> None:
    configs = [
        TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", 0, 10, 5),
        TrialConfig("tiny-bn", BN, None, "FIX(k0=0.05)", 0, 10, 5),
        TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.02)", 1, 10, 5),
    ]
    outcomes = run_group(configs)
    assert [o.config for o in outcomes] == configs
    assert all(o.error is None and o.result is not None for o in outcomes)
    assert [o.result["spec"] for o in outcomes if o.result] == [c.spec for c in configs]


@pytest.mark.parametrize(
    ("name", "workers", "batch", "words"),
    [
        ("batched", 2, None, "--executor process --workers N --batch-trials K"),
        ("process", 2, 0, "batch_trials must be an int >= 1"),
        ("local", None, True, "batch_trials must be an int >= 1"),
    ],
)
def test_bad_batched_options_raise_plan_error(
    name: str, workers: int | None, batch: object, words: str
) -> None:
    with pytest.raises(PlanError, match=words):
        check_executor_options(name, workers, None, batch)  # type: ignore[arg-type]
    with pytest.raises(PlanError, match=words):
        make_executor(name, workers, batch_trials=batch)  # type: ignore[arg-type]


def test_cli_bench_with_batch_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["bench", "--task", TINY, "--policy", "FIX(k0=0.05)", "--policy", "FIX(k0=0.02)"]
    args += ["--seeds", "2", "--steps", "20", "--eval-every", "10", "--db", url, "--json"]
    result = CliRunner().invoke(app, [*args, "--executor", "batched", "--batch-trials", "3"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["executor"], document["ran"], document["failed"]) == ("batched", 4, 0)
    bad = CliRunner().invoke(app, [*args, "--executor", "process", "--batch-trials", "0"])
    assert bad.exit_code == 2
    assert "batch_trials must be an int >= 1" in bad.stderr


@pytest.mark.ray
@pytest.mark.slow
def test_ray_tasks_train_batched_groups(tmp_path: Path) -> None:
    import ray

    from lrscope.bench.batched import BatchedRayExecutor

    plan = Plan(TINY, SPECS, seeds=1, steps=30, eval_every=10)
    local, remote = (f"sqlite:///{tmp_path / n}.db" for n in ("local", "ray"))
    run(plan, local, "local")
    executor = make_executor("ray", 2, batch_trials=2)
    assert isinstance(executor, BatchedRayExecutor)
    try:
        summary = run(plan, remote, executor)
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert (summary.executor, summary.ran, summary.failed, summary.diverged) == (
        "ray+batched",
        4,
        0,
        1,
    )
    assert stored(remote, "tiny-blobs") == stored(local, "tiny-blobs")


def test_the_plain_loop_benchmark_runs_the_same_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/plain_loop.py's torch schedulers give the lrscope specs' lr (and momentum)."""
    import importlib.util

    import torch

    from lrscope.policies import parse

    path = HERE.parents[1] / "benchmarks" / "plain_loop.py"
    spec = importlib.util.spec_from_file_location("plain_loop", path)
    assert spec is not None
    assert spec.loader is not None
    plain = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plain_loop", plain)
    spec.loader.exec_module(plain)
    steps = 200
    specs = plain.plan_specs(steps)
    assert len(specs) == len(set(specs)) == 16
    for entry, text in zip(plain.PLAN, specs, strict=True):
        policy = parse(text)
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=entry.base_lr, momentum=0.9)
        scheduler = entry.scheduler(optimizer, steps)
        for t in range(steps):
            group = optimizer.param_groups[0]
            assert group["lr"] == pytest.approx(policy(t), rel=1e-9), (text, t)
            if policy.has_momentum:
                assert group["momentum"] == pytest.approx(policy.momentum(t), rel=1e-9)
            optimizer.step()
            scheduler.step()
