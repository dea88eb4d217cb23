"""Fixtures of the tuning tests: one torch thread, task references, a SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TASKS_FILE = Path(__file__).with_name("tune_tasks.py")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mlp_ref() -> str:
    return f"{TASKS_FILE}:make_mlp"


@pytest.fixture
def linear_ref() -> str:
    return f"{TASKS_FILE}:make_linear"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tune.db'}"
