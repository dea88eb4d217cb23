"""Fixtures for the landscape tests: one torch thread, a tiny BatchNorm task, snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lrscope.engine import run_trial
from lrscope.tasks import Task, get_task

TASK_FILE = Path(__file__).with_name("landscape_task.py")
TASK_REF = f"{TASK_FILE}:make_task"
WIDE_TASK_REF = f"{TASK_FILE}:make_wide_task"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Train on one thread (the machine is shared) and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_task() -> Task:
    return get_task(TASK_REF)


@pytest.fixture(scope="session")
def tri_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Snapshots of a TRI run with 6-step half cycles: cycle ends at 12, 24, 36 steps."""
    directory = tmp_path_factory.mktemp("tri_snapshots")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_trial(
            get_task(TASK_REF),
            "TRI(k0=0.01, k1=0.2, l=6)",
            steps=36,
            seed=0,
            eval_every=12,
            snapshot_dir=directory,
            snapshot_every_cycle=True,
            save_weights=directory / "final.pt",
            checkpoint=directory / "trial.ckpt",
        )
    finally:
        torch.set_num_threads(threads)
    return directory
