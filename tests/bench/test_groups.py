"""Trials in groups (``batch_trials`` K) through run_plan and the CLI: same trials, fallbacks.

The tiny task is an MLP; grouped trials train in one stacked model, whose
float32 results differ from one-at-a-time trials by summation order only, so
the comparisons are exact for identities, statuses and integers and within
``trial_testlib.FLOAT_RTOL`` for losses (see there).
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lrscope.bench.executors as executors_module
from lrscope.bench import (
    BenchSummary,
    Execution,
    Executor,
    LocalExecutor,
    Plan,
    ProcessExecutor,
    TrialConfig,
    make_executor,
    run_plan,
)
from lrscope.bench.worker import run_group
from lrscope.cli.app import app
from lrscope.store import Store
from lrscope.tasks import Task, get_task
from trial_testlib import assert_same_trials, stored_trials

HERE = Path(__file__).resolve().parent
TINY = f"{HERE / 'tiny_task.py'}:make_task"
FLAKY = f"{HERE / 'tiny_task.py'}:make_flaky_task"
CRASHING = f"{HERE / 'tiny_task.py'}:make_crashing_task"
BN = f"{HERE / 'test_groups.py'}:make_batchnorm_task"
SPECS = [
    "FIX(k0=0.05)",
    "TRI2(k0=0.01, k1=0.1, l=12)",
    "onecycle(max_lr=0.1, total_steps=40)",
    "FIX(k0=1000)",
]


def make_batchnorm_task() -> Task:
    """The tiny task with a BatchNorm layer: cannot be batched (loaded by file path)."""
    from torch import nn

    task = get_task(TINY)
    task.name = "tiny-bn"
    task.model = lambda: nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 3))
    return task


def run(plan: Plan, url: str, execution: Execution | Executor) -> BenchSummary:
    with Store.open(url) as store:
        return run_plan(plan, store, execution)


def test_groups_store_the_same_trials_as_one_at_a_time(tmp_path: Path) -> None:
    plan = Plan(TINY, SPECS, seeds=2, steps=40, eval_every=10)
    alone, grouped = (f"sqlite:///{tmp_path / n}.db" for n in ("alone", "grouped"))
    run(plan, alone, Execution("local"))
    summary = run(plan, grouped, Execution("local", batch_trials=3))
    assert (summary.total, summary.ran, summary.failed, summary.diverged) == (8, 8, 0, 2)
    assert (summary.executor, summary.workers, summary.batch_trials) == ("local", 1, 3)
    assert_same_trials(stored_trials(grouped, "tiny-blobs"), stored_trials(alone, "tiny-blobs"))
    again = run(plan, grouped, Execution("batched"))  # the old name: everything is stored
    assert (again.ran, again.skipped) == (0, 8)


@pytest.mark.slow
def test_process_workers_train_auto_sized_groups(tmp_path: Path) -> None:
    plan = Plan(TINY, SPECS[:3], seeds=2, steps=30, eval_every=10)
    alone, grouped = (f"sqlite:///{tmp_path / n}.db" for n in ("alone", "grouped"))
    run(plan, alone, Execution("local"))
    summary = run(plan, grouped, Execution("process", workers=2, batch_trials="auto"))
    # six trials on two workers: one group of three each
    assert (summary.ran, summary.failed, summary.workers, summary.batch_trials) == (6, 0, 2, 3)
    assert summary.executor == "process"
    assert_same_trials(stored_trials(grouped, "tiny-blobs"), stored_trials(alone, "tiny-blobs"))


def test_a_failing_member_falls_back_to_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Seed 13's model factory raises: its trials fail, the others are stored done."""
    plan = Plan(FLAKY, ["FIX(k0=0.05)", "FIX(k0=1000)"], seeds=[12, 13], steps=20, eval_every=10)
    url = f"sqlite:///{tmp_path / 'flaky.db'}"
    with caplog.at_level(logging.WARNING, logger="lrscope.bench.worker"):
        summary = run(plan, url, Execution("local", batch_trials=4))
    assert (summary.ran, summary.failed, summary.diverged) == (4, 2, 1)
    assert "running them one by one" in caplog.text
    assert "this model refuses seed 13" in caplog.text
    statuses = {(k.spec, k.seed): v["status"] for k, v in stored_trials(url, "tiny-flaky").items()}
    assert statuses == {
        ("FIX(k0=0.05)", 12): "done",
        ("FIX(k0=1000.0)", 12): "diverged",
        ("FIX(k0=0.05)", 13): "failed",
        ("FIX(k0=1000.0)", 13): "failed",
    }


def test_a_task_that_cannot_be_batched_runs_one_at_a_time_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = Plan(BN, SPECS[:2], seeds=2, steps=20, eval_every=10)
    alone, grouped = (f"sqlite:///{tmp_path / n}.db" for n in ("alone", "grouped"))
    run(plan, alone, Execution("local"))
    with caplog.at_level(logging.INFO, logger="lrscope.bench"):
        summary = run(plan, grouped, Execution("local", batch_trials=4))
    assert summary.batch_trials == 1
    (record,) = [r for r in caplog.records if "not in groups" in r.getMessage()]
    assert record.name == "lrscope.bench"
    assert "tiny-bn" in record.getMessage()
    assert "buffers" in record.getMessage()
    assert stored_trials(grouped, "tiny-bn") == stored_trials(alone, "tiny-bn")


def test_make_executor_keeps_the_reason_it_did_not_group() -> None:
    bn, tiny = make_batchnorm_task(), get_task(TINY)
    with make_executor(Execution("batched"), tasks=[bn], trials=8) as executor:
        assert (executor.batch_trials, executor.describe()) == (1, "local, one trial at a time")
        assert executor.ungrouped_reason is not None
        assert executor.ungrouped_reason.startswith("tiny-bn: ")
    with make_executor(Execution("batched"), tasks=[tiny], trials=8) as executor:
        assert (executor.batch_trials, executor.ungrouped_reason) == (8, None)
        assert executor.describe() == "local, groups of 8"


def test_run_group_keeps_the_order_and_splits_tasks(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrscope.bench.worker as worker

    monkeypatch.setattr(worker, "_TOLD", set())  # the reason is logged once per process
    configs = [
        TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", 0, 10, 5),
        TrialConfig("tiny-bn", BN, None, "FIX(k0=0.05)", 0, 10, 5),
        TrialConfig("tiny-bn", BN, None, "FIX(k0=0.02)", 1, 10, 5),
        TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.02)", 1, 10, 5),
    ]
    with caplog.at_level(logging.INFO, logger="lrscope.bench.worker"):
        outcomes = run_group(configs)
    assert [o.config for o in outcomes] == configs
    assert all(o.error is None and o.result is not None for o in outcomes)
    assert [(o.result or {})["spec"] for o in outcomes] == [c.spec for c in configs]
    assert "running the trials of tiny-bn one by one" in caplog.text


class _Watched:
    """A config source that records, in one event list, each pull and each outcome."""

    def __init__(self, configs: list[TrialConfig], events: list[tuple[str, int]]) -> None:
        self.configs, self.events = configs, events

    def __iter__(self) -> Iterator[TrialConfig]:
        for config in self.configs:
            self.events.append(("pull", config.seed))
            yield config


def _configs(n: int) -> list[TrialConfig]:
    return [TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", s, 10, 5) for s in range(n)]


def test_the_local_executor_hands_over_a_group_before_training_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What ``kill -9`` may lose: only the group training, never finished ones not yet recorded."""
    events: list[tuple[str, int]] = []

    def watched_run_group(group: list[TrialConfig]) -> list[object]:
        events.append(("train", group[0].seed))
        return run_group(group)  # type: ignore[return-value]

    monkeypatch.setattr(executors_module, "run_group", watched_run_group)
    executor = LocalExecutor(Execution("local", batch_trials=2))
    for outcome in executor.run(_Watched(_configs(5), events)):
        events.append(("record", outcome.config.seed))
    trains = [i for i, (kind, _) in enumerate(events) if kind == "train"]
    assert [events[i][1] for i in trains] == [0, 2, 4]
    for before, after in itertools.pairwise(trains):
        recorded = {seed for kind, seed in events[before:after] if kind == "record"}
        assert recorded == {events[before][1], events[before][1] + 1}
    assert sorted(seed for kind, seed in events if kind == "record") == list(range(5))


@pytest.mark.slow
def test_process_workers_hold_at_most_their_groups(tmp_path: Path) -> None:
    """Claims follow the workers: never more than (workers + 1) groups pulled and unrecorded."""
    events: list[tuple[str, int]] = []
    workers, size = 2, 2
    with ProcessExecutor(Execution("process", workers=workers, batch_trials=size)) as executor:
        outcomes = []
        for outcome in executor.run(_Watched(_configs(11), events)):
            events.append(("record", outcome.config.seed))
            outcomes.append(outcome)
    assert sorted(o.config.seed for o in outcomes) == list(range(11))
    assert all(o.error is None for o in outcomes)
    open_ = 0
    for kind, _ in events:
        open_ += 1 if kind == "pull" else -1
        assert open_ <= (workers + 1) * size


@pytest.mark.slow
def test_a_dead_worker_fails_its_group_and_the_pool_recovers() -> None:
    configs = [
        TrialConfig("tiny-crash", CRASHING, None, "FIX(k0=0.05)", seed, 20, 10)
        for seed in (1, 66, 2, 3)
    ]
    with ProcessExecutor(Execution("process", workers=1, batch_trials=2)) as executor:
        outcomes = {o.config.seed: o for o in executor.run(configs)}
    for seed in (1, 66):  # the group the dead process held
        assert outcomes[seed].result is None
        assert "worker process died" in (outcomes[seed].error or "")
    for seed in (2, 3):
        assert outcomes[seed].error is None
        assert (outcomes[seed].result or {})["task"] == "tiny-crash"


def _cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["bench", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_bench_with_batch_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["--task", TINY, "--policy", "FIX(k0=0.05)", "--policy", "FIX(k0=0.02)"]
    args += ["--seeds", "2", "--steps", "20", "--eval-every", "10", "--db", url, "--json"]
    code, out, err = _cli([*args, "--batch-trials", "3"])
    assert code == 0, err
    document = json.loads(out)
    assert (document["executor"], document["batch_trials"], document["ran"]) == ("local", 3, 4)
    code, out, err = _cli([*args, "--executor", "batched", "--steps", "30"])
    assert code == 0, err
    document = json.loads(out)  # "auto": all four new trials in one group
    assert (document["executor"], document["batch_trials"], document["ran"]) == ("local", 4, 4)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--executor", "process", "--batch-trials", "0"], "'batch_trials' parameter of Execution"),
        (["--batch-trials", "many"], "Got 'many' instead"),
        (["--executor", "batched", "--workers", "2"], "executor 'process'"),
        (["--executor", "dask"], "'executor' parameter of Execution"),
        (["--ray-address", "head:6379"], "an address is for executor 'ray'"),
        (["--executor", "ray", "--ray-address", "head"], "'host:port'"),
        (["--executor", "ray", "--ray-timeout", "0"], "'ray_timeout_s'"),
    ],
)
def test_bad_execution_options_exit_2_before_anything_is_stored(
    tmp_path: Path, options: list[str], words: str
) -> None:
    db = tmp_path / "never.db"
    args = ["--task", TINY, "--policy", "FIX(k0=0.05)", "--steps", "10", "--db", f"sqlite:///{db}"]
    code, out, err = _cli([*args, *options])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert words in err
    assert not db.exists()


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
