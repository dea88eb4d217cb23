"""What runs in a worker (lrscope.bench.worker): identities, start-up, light imports."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lrscope
from lrscope.bench import Execution
from lrscope.bench import worker as worker_module
from lrscope.bench.worker import TrialConfig, TrialOutcome, run_config, run_group
from lrscope.cli._execution import prepare_process

HERE = Path(__file__).resolve().parent
TINY = f"{HERE / 'tiny_task.py'}:make_task"


def test_a_stored_trial_takes_the_identity_of_its_config_however_it_ran() -> None:
    """The task object is called tiny-blobs; the plan's name for it is what is stored."""
    configs = [TrialConfig("renamed", TINY, None, "FIX(k0=0.05)", seed, 20, 10) for seed in (3, 4)]
    alone = [run_config(config) for config in configs]
    grouped = run_group(configs)
    for config, one, two in zip(configs, alone, grouped, strict=True):
        for outcome in (one, two):
            assert outcome.result is not None
            identity = {k: outcome.result[k] for k in ("task", "spec", "seed", "steps")}
            assert identity == {"task": "renamed", "spec": config.spec, "seed": config.seed,
                                "steps": 20}  # fmt: skip
            assert outcome.result["eval_every"] == 10
            assert TrialOutcome.from_dict(outcome.to_dict()) == outcome


def test_a_trial_that_raises_is_an_outcome_with_the_error() -> None:
    config = TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", 0, 20, 10)
    bad = TrialConfig("x", "no-such-task", None, "FIX(k0=0.05)", 0, 20, 10)
    one, two = run_group([config, bad])
    assert one.error is None
    assert two.result is None
    assert (two.error or "").startswith("TaskError: unknown task 'no-such-task'")


class _Libc:
    """Stands in for glibc: records mallopt calls."""

    def __init__(self, calls: list[tuple[int, int]]) -> None:
        self.calls = calls

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


@pytest.fixture
def mallopt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The process's mallopt calls from now on (and the once-per-process memo cleared)."""
    calls: list[tuple[int, int]] = []
    real = ctypes.CDLL

    def cdll(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name and "libc" in str(name):
            return _Libc(calls)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(worker_module, "_MALLOC_TUNED", [])
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_training_in_groups_leaves_the_process_malloc_settings_alone(
    mallopt_calls: list[tuple[int, int]],
) -> None:
    from lrscope.batched import Member, run_batched
    from lrscope.tasks import get_task

    task = get_task(TINY)
    run_batched(task, [Member("FIX(k0=0.05)", seed=s, steps=10) for s in (0, 1)])
    run_group([TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", s, 10, 5) for s in (0, 1)])
    assert mallopt_calls == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_workers_and_the_command_line_keep_freed_memory(
    mallopt_calls: list[tuple[int, int]],
) -> None:
    prepare_process(Execution("local"))
    prepare_process(Execution("process", batch_trials=4))  # its workers do it, not the CLI
    assert mallopt_calls == []
    prepare_process(Execution("batched"))
    thresholds = [(-3, 1 << 30), (-1, 1 << 30)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    assert mallopt_calls == thresholds
    worker_module.init_worker()  # once per process
    assert mallopt_calls == thresholds
    worker_module._MALLOC_TUNED.clear()
    worker_module.init_worker()
    assert mallopt_calls == thresholds * 2


def test_the_bench_package_imports_neither_torch_nor_ray() -> None:
    src = str(Path(lrscope.__file__).resolve().parents[1])
    code = (
        "import sys\n"
        "import lrscope.bench, lrscope.bench.execution, lrscope.bench.executors\n"
        "import lrscope.bench.factory, lrscope.bench.worker, lrscope.bench.runner\n"
        "import lrscope.bench.ray_executor, lrscope.cli._execution, lrscope.cli.bench\n"
        "e = lrscope.bench.Execution('process', batch_trials='auto'); e.resolve(trials=9)\n"
        "heavy = [m for m in ('torch', 'ray', 'matplotlib', 'optuna') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
