"""Database URLs, engines and retried transactions for the store.

Allowed URLs: ``sqlite:///PATH`` (a file, created with its parent directories),
``sqlite://`` (in memory, one process), and
``postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB`` (``postgresql://`` and
``postgres://`` mean the same driver; ``postgresql+psycopg2://`` works where
psycopg2 is installed). URLs are shown with :func:`lrscope.store.hide_credentials`.

SQLite with several writer processes: WAL journal (readers never block the
writer), ``busy_timeout``, and every write transaction opened with ``BEGIN
IMMEDIATE`` (it takes the write lock at once, so two writers never deadlock
half-way through a transaction). pysqlite would issue its own deferred
``BEGIN``; the ``connect`` / ``begin`` event hooks documented by SQLAlchemy
turn that off and issue ours. A transaction that still meets "database is
locked" (or a PostgreSQL serialization failure or deadlock) is retried whole,
with exponential backoff and jitter, for up to ``retry_s`` seconds.

Read-only databases (``readonly=True``): SQLite files are opened with the
URI ``mode=ro`` (and ``PRAGMA query_only``), so a read-only file or directory
is readable and nothing is ever written; a WAL-mode file in a directory where
SQLite cannot create its shared-memory file is opened ``immutable`` (correct
as long as no ``-wal`` file holds unmerged changes; otherwise it is an error).
PostgreSQL sessions are ``READ ONLY`` (psycopg's read-only transactions).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.request import pathname2url

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    ProgrammingError,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from lrscope.errors import StoreError
from lrscope.store._urls import hide_credentials, scrub_secrets, secrets_in

__all__ = ["ALLOWED_URLS", "Database", "parse_url", "sqlite_path"]

T = TypeVar("T")

ALLOWED_URLS = (
    "sqlite:///PATH (a file), sqlite:// (in memory), "
    "or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
)
_SQLITE_DRIVERS = ("pysqlite",)
_PG_DRIVERS = ("psycopg", "psycopg2")
_BEGIN_OPTION = "lrscope_sqlite_begin"
_RETRY_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock detected
_MAX_CONFLICTS = 20
_SQLITE_HEADER = b"SQLite format 3\x00"
_WAL_FORMAT = 2  # file format numbers at offsets 18 and 19 of the header: 2 means WAL


def parse_url(url: str) -> URL:
    """Check ``url`` and normalise its driver; raise :class:`StoreError` if not allowed."""
    text = url.strip()
    if "://" not in text:
        hint = f" (did you mean sqlite:///{text}?)" if text else ""
        raise StoreError(f"database URL {text!r} is not a URL{hint}; allowed: {ALLOWED_URLS}")
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"cannot parse database URL {hide_credentials(text)!r} "
            f"({scrub_secrets(str(exc), secrets_in(text))}); "
            f"allowed: {ALLOWED_URLS}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        driver = driver or "psycopg"
        if driver not in _PG_DRIVERS:
            raise _bad_driver(parsed, driver, _PG_DRIVERS)
        return parsed.set(drivername=f"postgresql+{driver}")
    if backend == "sqlite":
        if driver and driver not in _SQLITE_DRIVERS:
            raise _bad_driver(parsed, driver, _SQLITE_DRIVERS)
        return parsed
    raise StoreError(
        f"unsupported database {backend!r} in URL {hide_credentials(parsed)!r}; "
        f"allowed: {ALLOWED_URLS}"
    )


def _bad_driver(url: URL, driver: str, allowed: tuple[str, ...]) -> StoreError:
    return StoreError(
        f"unsupported database driver {driver!r} in URL {hide_credentials(url)!r}; "
        f"allowed drivers: {', '.join(allowed)}; allowed URLs: {ALLOWED_URLS}"
    )


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):
        return Path(database[5:].split("?", 1)[0])
    return Path(database)


class Database:
    """An engine plus retried transactions, with errors turned into StoreError.

    Args:
        url: an allowed URL (see :func:`parse_url`).
        busy_timeout_s: how long SQLite waits on a lock inside one statement.
        retry_s: how long a transaction is retried on lock or serialization
            errors before giving up with :class:`StoreError`.
        readonly: open the database so that nothing can be written (see the
            module docstring).
    """

    def __init__(
        self, url: URL, *, busy_timeout_s: float, retry_s: float, readonly: bool = False
    ) -> None:
        self.url = url
        self.shown_url = hide_credentials(url)
        self.secrets = secrets_in(url)
        self.dialect = url.get_backend_name()
        self.retry_s = retry_s
        self.readonly = readonly
        self.engine = self._create(url, busy_timeout_s)
        # an in-memory SQLite database is one shared connection: one transaction at a time
        self._memory_lock = (
            threading.RLock() if self.dialect == "sqlite" and sqlite_path(url) is None else None
        )
        self._write = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})

    def _create(self, url: URL, busy_timeout_s: float) -> Engine:
        serializer = _strict_json_dumps
        try:
            if self.dialect != "sqlite":
                options = {"postgresql_readonly": True} if self.readonly else {}
                return create_engine(
                    url, json_serializer=serializer, pool_pre_ping=True, execution_options=options
                )
            path = sqlite_path(url)
            kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s}}
            if path is None:
                kwargs["poolclass"] = StaticPool
                kwargs["connect_args"]["check_same_thread"] = False
            elif self.readonly:
                uri = _readonly_uri(path, self.shown_url)
                kwargs["creator"] = lambda: sqlite3.connect(
                    uri, uri=True, timeout=busy_timeout_s, check_same_thread=False
                )
            engine = create_engine(url, json_serializer=serializer, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"the driver of database URL {self.shown_url!r} is not installed ({exc}); "
                "PostgreSQL needs `pip install 'lrscope[postgres]'` (psycopg 3); "
                f"allowed: {ALLOWED_URLS}"
            ) from None
        except ArgumentError as exc:
            raise StoreError(
                f"invalid database URL {self.shown_url!r} "
                f"({scrub_secrets(str(exc), self.secrets)}); allowed: {ALLOWED_URLS}"
            ) from None
        mode = "readonly" if self.readonly else ("memory" if path is None else "wal")
        _install_sqlite_hooks(engine, busy_timeout_s, mode=mode)
        return engine

    def run(
        self,
        work: Callable[[Session], T],
        *,
        write: bool,
        retry_conflicts: bool = False,
        snapshot: bool = False,
        what: str = "access",
    ) -> T:
        """Run ``work`` in one transaction (committed on return), retrying it whole.

        ``retry_conflicts`` also retries an :class:`IntegrityError` (a unique
        key inserted concurrently by another writer: the retry sees its row).
        ``snapshot`` reads one state of the whole database (``REPEATABLE
        READ`` on PostgreSQL; every SQLite transaction is one).
        """
        deadline = time.monotonic() + self.retry_s
        delay_s = 0.005
        conflicts = 0
        while True:
            try:
                return self._once(work, write, snapshot, what)
            except IntegrityError:
                conflicts += 1
                if not retry_conflicts or conflicts > _MAX_CONFLICTS:
                    raise
            except ProgrammingError:
                raise  # a bug in our SQL: keep the traceback
            except DBAPIError as exc:
                if not _transient(exc) or time.monotonic() > deadline:
                    raise self.error(exc, what) from None
            time.sleep(delay_s * (0.5 + random.random()))
            delay_s = min(delay_s * 2.0, 0.5)

    def _once(self, work: Callable[[Session], T], write: bool, snapshot: bool, what: str) -> T:
        lock = self._memory_lock or contextlib.nullcontext()
        bind = self._write if write else self.engine
        if snapshot and self.dialect == "postgresql":
            bind = bind.execution_options(isolation_level="REPEATABLE READ")
        with (
            lock,
            self._connect(bind, what) as connection,
            Session(connection) as session,
            session.begin(),
        ):
            return work(session)

    def _connect(self, bind: Engine, what: str) -> Connection:
        """A connection from ``bind``; a failure to connect is the database's, never our bug.

        (A driver refusing the URL's options raises ProgrammingError here, which
        :meth:`run` would otherwise keep as a bug of ours.)
        """
        try:
            return bind.connect()
        except DBAPIError as exc:
            if _transient(exc):
                raise
            raise self.error(exc, what) from None

    def error(self, exc: BaseException, what: str) -> StoreError:
        """A one-line StoreError for a failed database operation (credentials hidden)."""
        detail = str(getattr(exc, "orig", None) or exc)
        detail = " ".join(scrub_secrets(detail, self.secrets).split())
        hint = f"; allowed URLs: {ALLOWED_URLS}" if what == "open" else ""
        return StoreError(f"cannot {what} the database at {self.shown_url!r}: {detail}{hint}")

    def dispose(self) -> None:
        self.engine.dispose()


def _strict_json_dumps(value: Any) -> str:
    """JSON text of ``value``; a NaN or infinity left in it is an error, never stored."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _transient(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a lock / serialization conflict worth retrying."""
    text = str(exc.orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True
    if "database is busy" in text or "schema has changed" in text:
        return True
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state in _RETRY_SQLSTATES


def _readonly_uri(path: Path, shown_url: str) -> str:
    """The ``file:`` URI that opens ``path`` read-only (``immutable`` where it must be)."""
    if not path.is_file():
        raise StoreError(
            f"no database file at {str(path)!r} (URL {shown_url!r}); it is created by "
            "the first command that stores results (bench, tune, find)"
        )
    uri = f"file:{pathname2url(str(path.resolve()))}?mode=ro"
    shm, wal = Path(f"{path}-shm"), Path(f"{path}-wal")
    if not _is_wal(path) or shm.exists() or os.access(path.parent, os.W_OK):
        return uri
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"cannot read the database at {shown_url!r} read-only: its directory is not "
            f"writable and {wal.name} holds changes not yet merged into the file; open it "
            "once where the directory is writable"
        )
    return f"{uri}&immutable=1"  # nothing outside the file: reading it as it is is exact


def _is_wal(path: Path) -> bool:
    """Whether the SQLite file's header says WAL journal mode."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return header.startswith(_SQLITE_HEADER) and len(header) == 20 and header[18] == _WAL_FORMAT


def _install_sqlite_hooks(engine: Engine, busy_timeout_s: float, *, mode: str) -> None:
    """WAL (``mode="wal"``) or query-only (``"readonly"``), busy_timeout, foreign
    keys, and our own BEGIN (IMMEDIATE for writes)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite issues no BEGIN of its own
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if mode == "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
            elif mode == "readonly":
                cursor.execute("PRAGMA query_only = ON")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
