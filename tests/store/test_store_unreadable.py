"""Damaged rows: named by the store, left out on request, never a crash of the whole read.

Rows are damaged with plain SQL, as a hand edit or a broken tool would. On
SQLite anything goes (text in a float column, JSON text that does not
decode); PostgreSQL refuses those at write time, so there the damage is a
JSON document of the wrong shape. Either way the reader raises one
:class:`~lrscope.store.UnreadableRowError` naming the row, or with
``on_unreadable`` hands it over and returns every other row.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lrscope.engine.result import TrialKey
from lrscope.store import Store, UnreadableRowError

SHAPES = {  # damage PostgreSQL accepts too: valid JSON of the wrong shape
    "curve is a string": ("trials", "UPDATE trials SET curve = '\"x\"' WHERE id = {id}",
                          "its curve is str 'x', not a list of evaluation points"),
    "curve of numbers": ("trials", "UPDATE trials SET curve = '[1]' WHERE id = {id}",
                         "point 0 of its curve is int 1, not an object"),
    "curve step is text": ("trials", "UPDATE trials SET curve = '[{{\"step\": \"s\"}}]' "
                           "WHERE id = {id}", "point 0 of its curve has step str 's'"),
    "range-test params": ("range_tests", "UPDATE range_tests SET params = '[1]'",
                          "its params is list [1], not a JSON object"),
    "interpolation data": ("interpolations", "UPDATE interpolations SET data = '3'",
                           "its data is int 3, not a JSON object"),
}  # fmt: skip
SQLITE_ONLY = {  # damage only a database without types allows
    "curve that is no JSON": ("trials", "UPDATE trials SET curve = 'no json' WHERE id = {id}",
                              "text that is not JSON ('no json')"),
    "metric that is text": ("trials", "UPDATE trials SET ld = 'abc' WHERE id = {id}",
                            "its ld is str 'abc', not a number"),
    "seed that is text": ("trials", "UPDATE trials SET seed = 'one' WHERE id = {id}",
                          "its seed is str 'one', not an int"),
}  # fmt: skip


def _result(key: TrialKey) -> dict[str, object]:
    return {**dataclasses.asdict(key), "top1": 0.5, "top5": 0.9, "best_top1": 0.6, "best_iter": 5,
            "ac": 0.7, "cd": 0.1, "cdac": 0.05, "ld": 0.2, "n_params": 1, "wall_s": 1.0,
            "steps_done": 10, "diverged": False, "diverged_at": None,
            "curve": [{"step": 5, "lr": 0.1, "train_loss": 1.0, "test_loss": 1.1,
                       "top1": 0.6, "top5": 0.9}]}  # fmt: skip


def _fill(store: Store) -> list[int]:
    ids = []
    for seed in range(3):
        key = TrialKey("blobs", "FIX(k0=0.1)", seed, 10, 5)
        trial_id = store.start_trial(key)
        assert trial_id is not None
        store.finish_trial(trial_id, _result(key))
        ids.append(trial_id)
    store.put_range_test("blobs", {"lr": [0.1]}, {"mode": "exp"})
    store.put_interpolation("blobs", {"points": []})
    return ids


def _damage(db_url: str, statement: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _read(store: Store, table: str, **options: object) -> list[object]:
    reader = {"trials": store.trials, "range_tests": store.range_tests,
              "interpolations": store.interpolations}[table]  # fmt: skip
    return list(reader(**options))  # type: ignore[operator]


def _named_or_left_out(db_url: str, table: str, statement: str, problem: str) -> None:
    with Store.open(db_url) as store:
        ids = _fill(store)
        intact = len(_read(store, table))
        _damage(db_url, statement.format(id=ids[1]))
        with pytest.raises(UnreadableRowError) as info:
            _read(store, table)
        assert problem in str(info.value)
        assert info.value.table == table
        seen: list[UnreadableRowError] = []
        assert len(_read(store, table, on_unreadable=seen.append)) == intact - 1
        assert [str(e) for e in seen] == [str(info.value)]


@pytest.mark.parametrize("case", SHAPES)
def test_a_damaged_row_is_named_or_left_out(db_url: str, case: str) -> None:
    _named_or_left_out(db_url, *SHAPES[case])


@pytest.mark.parametrize("case", SQLITE_ONLY)
def test_damage_only_sqlite_holds(tmp_path: Path, case: str) -> None:
    _named_or_left_out(f"sqlite:///{tmp_path / 'store.db'}", *SQLITE_ONLY[case])


def test_damaged_metadata_leaves_the_task_without_it(db_url: str) -> None:
    with Store.open(db_url) as store:
        _fill(store)
        store.put_task("other", {"dataset": "d", "model_family": "m", "input_shape": [2],
                                 "train_size": 4, "num_classes": 2, "batch_size": 2,
                                 "extra": {}})  # fmt: skip
        _damage(db_url, "UPDATE tasks SET metadata = '[1]' WHERE name = 'other'")
        with pytest.raises(UnreadableRowError, match="the metadata of task 'other'"):
            store.tasks()
        seen: list[UnreadableRowError] = []
        tasks = {t.name: t.metadata for t in store.tasks(on_unreadable=seen.append)}
        assert tasks == {"blobs": None, "other": None}
        assert len(seen) == 1


def test_an_intact_store_reads_as_before(db_url: str) -> None:
    with Store.open(db_url) as store:
        _fill(store)
        seen: list[UnreadableRowError] = []
        trials = store.trials(on_unreadable=seen.append)
        assert seen == []
        assert [t.seed for t in trials] == [0, 1, 2]
        assert trials[0].curve[0]["top1"] == 0.6
