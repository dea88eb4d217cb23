"""Opening databases: URLs, schema versions, foreign databases, SQLite locking."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lrscope.errors import StoreError
from lrscope.store import SCHEMA_VERSION, Store, hide_credentials, resolve_url
from lrscope.store._db import parse_url
from lrscope.store._schema import HEAD_REVISION
from pg_testlib import pg_base_url
from store_testlib import Key, result_dict


def _execute(db_url: str, sql: str) -> None:
    engine = create_engine(parse_url(db_url))
    with engine.begin() as connection:
        connection.execute(text(sql))
    engine.dispose()


def test_a_newer_schema_version_is_refused_and_left_intact(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.put_task("kept")
    _execute(db_url, "UPDATE lrscope_meta SET value = '7' WHERE key = 'schema_version'")
    shown = hide_credentials(db_url)
    message = (
        f"the database at '{shown}' has schema version 7, which is newer than this "
        f"lrscope supports ({SCHEMA_VERSION}); upgrade lrscope"
    )
    with pytest.raises(StoreError) as caught:
        Store.open(db_url)
    assert str(caught.value) == message
    with pytest.raises(StoreError, match="newer than this lrscope supports"):
        Store.open(db_url, readonly=True)
    _execute(
        db_url, f"UPDATE lrscope_meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'"
    )
    with Store.open(db_url) as store:
        assert [t.name for t in store.tasks()] == ["kept"]


def test_a_revision_this_lrscope_does_not_know_is_refused(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.put_task("kept")
    _execute(db_url, "UPDATE lrscope_alembic_version SET version_num = '0009_future'")
    with pytest.raises(StoreError, match=r"revision '0009_future', which this lrscope does not"):
        Store.open(db_url)
    _execute(db_url, f"UPDATE lrscope_alembic_version SET version_num = '{HEAD_REVISION}'")
    with Store.open(db_url, readonly=True) as store:
        assert [t.name for t in store.tasks()] == ["kept"]


def test_a_database_of_another_program_is_refused_untouched(db_url: str) -> None:
    _execute(db_url, "CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, state TEXT)")
    _execute(db_url, "INSERT INTO trials VALUES (1, 'COMPLETE')")
    with pytest.raises(StoreError, match=r"tables named \['trials'\] but no lrscope_meta table"):
        Store.open(db_url)
    engine = create_engine(parse_url(db_url))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT state FROM trials")).scalar() == "COMPLETE"
        names = set(
            connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_name = 'tasks'")
                if engine.dialect.name == "postgresql"
                else text("SELECT name FROM sqlite_master WHERE name = 'tasks'")
            ).scalars()
        )
    engine.dispose()
    assert names == set()  # nothing of ours was created next to it


def test_a_missing_table_is_named_and_added_without_touching_the_others(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Store.open(db_url) as store:
        trial_id = store.start_trial(Key("t", "FIX(k0=0.1)", 0))
        assert trial_id is not None
        store.finish_trial(trial_id, result_dict(Key("t", "FIX(k0=0.1)", 0)))
    _execute(db_url, "DROP TABLE interpolations")
    with pytest.raises(StoreError) as caught:
        Store.open(db_url, readonly=True)
    message = str(caught.value)
    assert "is damaged: its lrscope tables interpolations are missing" in message
    assert "no lrscope tables yet" not in message
    with caplog.at_level("WARNING", logger="lrscope.store"), Store.open(db_url) as store:
        assert store.interpolations() == []
        assert len(store.done_keys()) == 1
    assert "tables interpolations were missing and are created again" in caplog.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("results.db", "is not a URL (did you mean sqlite:///results.db?); allowed: sqlite:///"),
        ("mysql://me:s3cret@db.example/lr", "unsupported database 'mysql' in URL 'mysql://me:***@"),
        ("postgresql+asyncpg://me:s3cret@h/db", "unsupported database driver 'asyncpg'"),
        ("sqlite+pysqlcipher:///x.db", "allowed drivers: pysqlite"),
        ("postgresql+psycopg://me:s3cret@h:notaport/db", "cannot parse database URL"),
        ("nosuchdb+drv://h/db", "unsupported database 'nosuchdb'"),
    ],
)
def test_bad_urls_name_the_url_and_what_is_allowed(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert expected in message
    assert "s3cret" not in message
    assert "allowed" in message


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    url = "postgresql+psycopg://me:s3cret@127.0.0.1:1/lrscope?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert message.startswith(
        "cannot open the database at 'postgresql+psycopg://me:***@127.0.0.1:1"
    )
    assert "s3cret" not in message
    assert "allowed URLs" in message


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_a_store_error() -> None:
    url = parse_url(pg_base_url()).set(database="lrscope_no_such_database")
    with pytest.raises(StoreError, match=r"cannot open the database at .*lrscope_no_such_database"):
        Store.open(url.render_as_string(hide_password=False))


def test_postgres_without_driver_means_psycopg() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert hide_credentials("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def test_url_falls_back_to_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LRSCOPE_DB", raising=False)
    assert resolve_url(None) == "sqlite:///lrscope.db"
    monkeypatch.setenv("LRSCOPE_DB", f"sqlite:///{tmp_path}/env.db")
    assert resolve_url(None) == f"sqlite:///{tmp_path}/env.db"
    assert resolve_url("sqlite://") == "sqlite://"
    with Store.open() as store:
        store.put_task("t")
    assert (tmp_path / "env.db").exists()
    monkeypatch.delenv("LRSCOPE_DB")
    monkeypatch.chdir(tmp_path)
    with Store.open() as store:
        assert store.url == "sqlite:///lrscope.db"
    assert (tmp_path / "lrscope.db").exists()


def test_sqlite_file_gets_parent_dirs_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "results.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.put_task("t")
        assert store.info().path == str(path.resolve())
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_path_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory of database"):
        Store.open(f"sqlite:///{blocker}/results.db")


def test_a_file_that_is_no_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="cannot open the database at"):
        Store.open(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")


def test_open_without_create_never_creates(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no database file at"):
        Store.open(f"sqlite:///{path}", create=False)
    assert not path.exists()
    sqlite3.connect(path).close()  # an empty SQLite file: no lrscope tables
    with pytest.raises(StoreError, match="holds no lrscope tables yet"):
        Store.open(f"sqlite:///{path}", create=False)


def test_memory_database_works_across_threads() -> None:
    with Store.open("sqlite://") as store:
        errors: list[BaseException] = []

        def claim(seed: int) -> None:
            try:
                store.start_trial(Key("t", "FIX(k0=0.1)", seed))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(store.trials(status="running")) == 8


def test_a_locked_sqlite_database_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    with Store.open(url, busy_timeout_s=0.05) as store:
        store.put_task("t")
        released = _hold_write_lock(path, seconds=0.6)
        start = time.monotonic()
        store.put_task("u")  # busy after 50 ms, then retried with backoff
        waited_s = time.monotonic() - start
        released.join()
        assert waited_s >= 0.4
        assert [t.name for t in store.tasks()] == ["t", "u"]


def test_a_lock_held_too_long_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    with Store.open(url, busy_timeout_s=0.05, retry_s=0.2) as store:
        store.put_task("t")
        released = _hold_write_lock(path, seconds=1.0)
        with pytest.raises(StoreError, match="database is locked"):
            store.put_task("u")
        released.join()
        assert [t.name for t in store.tasks()] == ["t"]


def _hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another connection holds SQLite's write lock for ``seconds``; returns its thread."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread
