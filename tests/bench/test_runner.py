"""run_plan with the local and process executors: storage, resume, failures, interrupts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lrscope.bench import (
    Execution,
    Executor,
    LocalExecutor,
    Plan,
    ProcessExecutor,
    TrialConfig,
    run_plan,
)
from lrscope.errors import ParameterError, TaskError
from lrscope.store import Store

TINY_FILE = Path(__file__).resolve().with_name("tiny_task.py")
TINY = f"{TINY_FILE}:make_task"
FLAKY = f"{TINY_FILE}:make_flaky_task"
CRASHING = f"{TINY_FILE}:make_crashing_task"
SPECS = ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=12)", "EXP(k0=0.1, gamma=0.99)"]


def key_counts(store: Store, task: str) -> Counter[tuple[object, ...]]:
    return Counter((r.spec, r.seed, r.steps, r.eval_every) for r in store.trials(task=task))


def test_local_run_stores_every_trial_and_a_rerun_skips_them(db_url: str) -> None:
    plan = Plan(TINY, SPECS, seeds=2, steps=40, eval_every=10)
    progress: list[tuple[int, int]] = []
    with Store.open(db_url) as store:
        summary = run_plan(plan, store, on_progress=lambda d, t: progress.append((d, t)))
        assert (summary.total, summary.ran, summary.skipped) == (6, 6, 0)
        assert (summary.failed, summary.diverged) == (0, 0)
        assert summary.task == "tiny-blobs"
        assert (summary.executor, summary.workers, summary.batch_trials) == ("local", 1, 1)
        assert progress[0] == (0, 6)
        assert progress[-1] == (6, 6)
        assert [d for d, _ in progress] == sorted(d for d, _ in progress)
        records = store.trials(task="tiny-blobs")
        assert {r.status for r in records} == {"done"}
        assert {r.key for r in records} == set(plan.keys("tiny-blobs", 6))
        assert all(r.best_top1 > 0.5 for r in records)

        again = run_plan(plan, store)
        assert (again.ran, again.skipped) == (0, 6)
        assert set(key_counts(store, "tiny-blobs").values()) == {1}


def test_a_grown_plan_runs_only_the_new_trials(db_url: str) -> None:
    with Store.open(db_url) as store:
        run_plan(Plan(TINY, SPECS[:1], seeds=1, steps=30, eval_every=10), store)
        summary = run_plan(Plan(TINY, SPECS, seeds=2, steps=30, eval_every=10), store)
        assert (summary.ran, summary.skipped) == (5, 1)
        counts = key_counts(store, "tiny-blobs")
        assert len(counts) == 6
        assert set(counts.values()) == {1}


def test_failing_and_diverging_trials_are_recorded_and_the_plan_goes_on(db_url: str) -> None:
    plan = Plan(FLAKY, ["FIX(k0=0.05)", "FIX(k0=1000)"], seeds=[12, 13], steps=30, eval_every=10)
    with Store.open(db_url) as store:
        summary = run_plan(plan, store)
        assert (summary.ran, summary.failed, summary.diverged) == (4, 2, 1)
        by_key = {(r.spec, r.seed): r for r in store.trials(task="tiny-flaky")}
        assert by_key[("FIX(k0=0.05)", 12)].status == "done"
        assert by_key[("FIX(k0=1000.0)", 12)].status == "diverged"
        for spec in ("FIX(k0=0.05)", "FIX(k0=1000.0)"):
            failed = by_key[(spec, 13)]
            assert failed.status == "failed"
            assert failed.error is not None
            assert failed.error.startswith("RuntimeError: this model refuses seed 13")
        # failed trials are retried by the next run; finished ones are not
        again = run_plan(plan, store)
        assert (again.ran, again.failed, again.skipped) == (2, 2, 2)


@pytest.mark.slow
def test_process_executor_gives_the_local_results(tmp_path: Path) -> None:
    plan = Plan(TINY, SPECS, seeds=2, steps=40, eval_every=10)
    results = {}
    for name in ("local", "process"):
        execution = Execution(name, workers=2 if name == "process" else None)
        with Store.open(f"sqlite:///{tmp_path / name}.db") as store:
            summary = run_plan(plan, store, execution)
            assert (summary.ran, summary.failed, summary.executor) == (6, 0, name)
            results[name] = {
                r.key: (r.status, r.top1, r.best_top1, r.best_iter)
                for r in store.trials(task="tiny-blobs")
            }
    assert results["process"] == results["local"]


def test_everything_is_validated_before_any_work(db_url: str) -> None:
    plan = Plan(TINY, SPECS[:1], steps=10)
    with Store.open(db_url) as store:
        with pytest.raises(TaskError, match="unknown task"):
            run_plan(Plan("no-such-task", SPECS[:1], steps=10), store)
        with pytest.raises(ParameterError, match="'execution' parameter of run_plan"):
            run_plan(plan, store, "process")  # type: ignore[arg-type]
        assert store.trials() == []


@pytest.mark.slow
def test_an_interrupted_run_marks_its_claims_failed_and_a_rerun_completes(db_url: str) -> None:
    plan = Plan(TINY, SPECS, seeds=3, steps=40, eval_every=10)

    def stop_after_three(finished: int, total: int) -> None:
        if finished == 3:
            raise KeyboardInterrupt

    with Store.open(db_url) as store:
        with pytest.raises(KeyboardInterrupt):
            run_plan(plan, store, Execution("process", workers=2), on_progress=stop_after_three)
        statuses = Counter(r.status for r in store.trials(task="tiny-blobs"))
        assert statuses["done"] == 3
        assert statuses["running"] == 0
        assert all(
            (r.error or "").startswith("interrupted: KeyboardInterrupt")
            for r in store.trials(task="tiny-blobs", status="failed")
        )
        summary = run_plan(plan, store)
        assert summary.skipped == 3
        assert summary.ran == 6
        counts = key_counts(store, "tiny-blobs")
        assert len(counts) == 9
        assert set(counts.values()) == {1}
        assert {r.status for r in store.trials(task="tiny-blobs")} == {"done"}


def test_executors_follow_the_protocol() -> None:
    assert isinstance(LocalExecutor(), Executor)
    assert isinstance(ProcessExecutor(Execution("process", workers=1)), Executor)


@pytest.mark.slow
def test_a_dead_worker_process_fails_its_trial_and_the_pool_recovers() -> None:
    configs = [
        TrialConfig("tiny-crash", CRASHING, None, "FIX(k0=0.05)", seed, 20, 10)
        for seed in (1, 66, 2)
    ]
    executor = ProcessExecutor(Execution("process", workers=1))
    try:
        outcomes = {o.config.seed: o for o in executor.run(configs)}
    finally:
        executor.close()
    assert outcomes[66].result is None
    assert outcomes[66].error is not None
    assert "worker process died" in outcomes[66].error
    assert outcomes[1].result is not None
    assert outcomes[2].result is not None
    assert outcomes[2].result["task"] == "tiny-crash"
