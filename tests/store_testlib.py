"""Helpers of the store tests (imported by tests/store: conftest.py, the tests, store_worker.py).

The PostgreSQL helpers live in ``tests/pg_testlib.py``, shared with the bench tests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lrscope

HERE = Path(__file__).resolve().parent
WORKER = HERE / "store" / "store_worker.py"


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


def subprocess_env() -> dict[str, str]:
    """The environment of a worker process: it must import this very lrscope and these helpers."""
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    paths = [src, str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def worker_command(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]


FIXTURES = HERE / "store" / "fixtures"
STORE_V1 = FIXTURES / "store_v1.db"
"""A store written by lrscope 0.1.0 (schema 1); see fixtures/make_store_v1.py."""
STORE_V1_EXPECTED = FIXTURES / "store_v1.json"
"""What lrscope 0.1.0 printed for it: rank --json (two metrics) and db info --json."""
V1_TABLES = ("lrscope_meta", "tasks", "policies", "trials", "range_tests", "interpolations")


def store_v1_copy(directory: Path) -> str:
    """A copy of the lrscope 0.1.0 store in ``directory``; its URL."""
    import shutil

    path = directory / "store_v1.db"
    shutil.copy(STORE_V1, path)
    return f"sqlite:///{path}"


def sqlite_dump(path: Path) -> list[str]:
    """Schema and rows of a SQLite file as SQL text (equal files, equal dumps)."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives naive datetimes (written in UTC): make them aware for PostgreSQL."""
    from datetime import datetime, timezone

    return {
        k: v.replace(tzinfo=timezone.utc) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


def build_v1_store(url: str) -> None:
    """Make the empty database at ``url`` a schema-1 store holding the fixture's rows.

    The schema-1 tables come from the baseline revision (a frozen copy of
    lrscope 0.1.0's); the rows are copied from ``fixtures/store_v1.db``; the
    Alembic version table is dropped, as lrscope 0.1.0 had none.
    """
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import MetaData, create_engine

    from lrscope.store._db import parse_url

    engine = create_engine(parse_url(url))
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", "lrscope.store:migrations")
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_baseline")
        connection.exec_driver_sql("DROP TABLE lrscope_alembic_version")
        connection.exec_driver_sql("DELETE FROM lrscope_meta")
    source = create_engine(f"sqlite:///{STORE_V1}")
    old, new = MetaData(), MetaData()
    old.reflect(source)
    new.reflect(engine)
    with source.connect() as reading, engine.begin() as writing:
        for name in V1_TABLES:
            rows = [_utc(dict(r._mapping)) for r in reading.execute(old.tables[name].select())]
            if rows:
                writing.execute(new.tables[name].insert(), rows)
        if engine.dialect.name == "postgresql":  # ids were copied: move the sequences on
            for name in V1_TABLES[1:]:
                writing.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
                )
    source.dispose()
    engine.dispose()


META = {
    "dataset": "blobs",
    "model_family": "mlp",
    "input_shape": [8],
    "train_size": 256,
    "num_classes": 4,
    "batch_size": 32,
    "extra": {"note": "synthetic"},
}


def claim(store: Any, key: Key) -> int:
    """``store.start_trial(key)``, which must claim it (a new key)."""
    trial_id = store.start_trial(key)
    assert isinstance(trial_id, int), f"{key} was not claimed"
    return trial_id


def fill(store: Any, task: str = "blobs-mlp", top1: float = 0.5) -> None:
    """Trials of every status (metrics maps, NaN in curves), a range test, an interpolation."""
    store.put_task(task, META)
    for seed, spec in enumerate(("FIX(k0=0.1)", "FIX(k0=0.1)", "TRI2(k0=0.01, k1=0.1, l=8)")):
        key = Key(task, spec, seed)
        trial_id = claim(store, key)
        data = result_dict(key, top1 + seed / 100)
        data["metrics"] = {"top1": data["top1"], "loss": 0.25 + seed, "mae": None}
        data["curve"][0]["train_loss"] = float("nan")
        store.finish_trial(trial_id, data)
    diverged = Key(task, "FIX(k0=50.0)", 0)
    store.finish_trial(claim(store, diverged), result_dict(diverged, 0.1, diverged=True))
    pruned = Key(task, "EXP(k0=0.1, gamma=0.99)", 0)
    early = result_dict(pruned, 0.3)
    early["steps_done"] = 50
    store.finish_trial(claim(store, pruned), early)
    failed = Key(task, "SGDR(k0=0.5, t0=50)", 0)
    store.fail_trial(claim(store, failed), RuntimeError("out of memory"))
    store.put_range_test(
        task,
        {"lr": [1e-4, 1e-3, 1e-2], "loss": [2.3, float("nan"), 1.9],
         "suggestions": {"suggested_lr": {"lr": 0.01, "method": "valley"}}},
        {"mode": "exp", "steps": 3},
    )  # fmt: skip
    store.put_interpolation(task, {"alphas": [0.0, 1.0], "points": [{"alpha": 0.5}]})
