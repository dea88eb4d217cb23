"""Helpers of the store tests (imported by conftest.py and the test modules).

PostgreSQL tests need ``$LRSCOPE_TEST_PG_URL`` (CI's ``.ci/run`` starts the
local PostgreSQL 15 cluster and sets it). Locally::

    pg_ctlcluster 15 main start
    runuser -u postgres -- createuser -s root
    createdb -h /var/run/postgresql lrscope_dev
    export LRSCOPE_TEST_PG_URL='postgresql+psycopg://root@/lrscope_dev?host=/var/run/postgresql'

Each PostgreSQL test gets a fresh schema (``search_path`` set through the URL's
``options``), dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

import lrscope
from lrscope.store._db import parse_url

PG_ENV = "LRSCOPE_TEST_PG_URL"
PG_SKIP_REASON = (
    f"${PG_ENV} is not set: no PostgreSQL server to test against "
    "(CI's .ci/run starts one and sets it; see tests/store/store_testlib.py to run one locally)"
)
WORKER = Path(__file__).with_name("store_worker.py")


@dataclass(frozen=True)
class Key:
    """A trial key with TrialKey's fields (the store reads them by name)."""

    task: str
    spec: str
    seed: int
    steps: int = 100
    eval_every: int = 50


def result_dict(key: Key, top1: float = 0.5, *, diverged: bool = False) -> dict[str, Any]:
    """A TrialResult.to_dict()-shaped result for ``key`` (no torch needed)."""
    return {
        "task": key.task,
        "spec": key.spec,
        "seed": key.seed,
        "steps": key.steps,
        "eval_every": key.eval_every,
        "top1": top1,
        "top5": min(1.0, top1 + 0.25),
        "best_top1": top1,
        "best_iter": key.steps,
        "ac": 0.75,
        "cd": 0.125,
        "cdac": 0.0625,
        "ld": 0.03125,
        "n_params": 1,
        "wall_s": 0.5,
        "steps_done": key.steps,
        "diverged": diverged,
        "diverged_at": key.steps // 2 if diverged else None,
        "curve": [
            {
                "step": step,
                "lr": 0.1,
                "train_loss": 1.0,
                "test_loss": 1.5,
                "top1": top1,
                "top5": top1,
            }
            for step in range(0, key.steps + 1, key.eval_every)
        ],
    }


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP_REASON)
    return url


def fresh_pg_schema_url(base: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a new empty schema; the schema is dropped after."""
    parsed = parse_url(base)
    schema = f"lrscope_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def subprocess_env() -> dict[str, str]:
    """The environment of a worker process: it must import this very lrscope."""
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def worker_command(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]
