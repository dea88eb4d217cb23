"""The :class:`Store`: tasks, policies, trials, range tests and interpolations.

See the package docstring (:mod:`lrscope.store`) for the tables and the claim
protocol that keeps concurrent runners from running a trial twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from lrscope import __version__
from lrscope.errors import LRScopeError, StoreError
from lrscope.store import _codec as codec
from lrscope.store._db import Database, parse_url, sqlite_path
from lrscope.store._migrate import prepare
from lrscope.store._read import (
    OnUnreadable,
    UnreadableRowError,
    check_document,
    check_trial,
    hand_over,
    split_readable,
    task_metadata,
)
from lrscope.store._rows import (
    KEY_FIELDS,
    KeyLike,
    SupportsToDict,
    apply_result,
    check_name,
    ensure_policy,
    ensure_task,
    interpolation_record,
    key_fields,
    key_filter,
    range_test_record,
    record_task,
    result_data,
    set_claim,
    source_record,
    task_record,
    trial_record,
)
from lrscope.store._schema import (
    FINISHED,
    SCHEMA_VERSION,
    STATUS_FAILED,
    STATUS_RUNNING,
    STATUSES,
    InterpolationRow,
    MetaRow,
    PolicyRow,
    RangeTestRow,
    SourceRow,
    TaskRow,
    TrialRow,
)
from lrscope.store._setup import read_schema_version
from lrscope.store._worker import Worker, current_worker, is_dead
from lrscope.store.records import (
    InterpolationRecord,
    PolicyRecord,
    RangeTestRecord,
    SchemaUpgrade,
    SourceRecord,
    StoreInfo,
    TaskRecord,
    TrialRecord,
)
from lrscope.validation import is_integer

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialKey

__all__ = ["DEFAULT_DB_URL", "DEFAULT_LEASE_S", "Store", "database_file", "resolve_url"]

log = logging.getLogger("lrscope.store")
T = TypeVar("T")

DEFAULT_DB_URL = "sqlite:///lrscope.db"
DEFAULT_LEASE_S = 900.0
"""A claim whose heartbeat is older than this (seconds) may be taken over."""

_MAX_ERROR_CHARS = 20_000


def resolve_url(url: str | None = None) -> str:
    """``url``, else ``$LRSCOPE_DB``, else ``sqlite:///lrscope.db``."""
    return url or os.environ.get("LRSCOPE_DB") or DEFAULT_DB_URL


def database_file(url: str | None = None) -> Path | None:
    """The SQLite file of the store at ``url`` (resolved as :func:`resolve_url` does).

    None for PostgreSQL and in-memory SQLite. Raises :class:`StoreError` for
    a URL that is not allowed.
    """
    parsed = parse_url(resolve_url(url))
    return sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None


_RowT = TypeVar("_RowT", RangeTestRow, InterpolationRow)
_RecordT = TypeVar("_RecordT")
_R = TypeVar("_R")


class Store:
    """The results database. Open with :meth:`Store.open`; use as a context manager.

    One ``Store`` per process (a forked child gets a fresh identity and
    connection pool on first use); it is safe to share between threads.
    """

    def __init__(self, db: Database, *, lease_s: float | None) -> None:
        self._db = db
        self._lease_s = lease_s
        self._worker = current_worker()
        self._beats: dict[int, float] = {}
        self._claimed = False  # whether close() has claims of this store to release
        self._closed = False
        self._upgrade: SchemaUpgrade | None = None

    # --- opening and closing -------------------------------------------
    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        create: bool = True,
        readonly: bool = False,
        lease_s: float | None = DEFAULT_LEASE_S,
        busy_timeout_s: float = 10.0,
        retry_s: float = 60.0,
    ) -> Store:
        """Open (and with ``create``, create) the database at ``url``.

        A store of an older schema version is upgraded in place first (in
        one transaction, a backup copy of a SQLite file next to it; see
        :mod:`lrscope.store._migrate`).

        Args:
            url: SQLAlchemy URL; None means ``$LRSCOPE_DB``, else
                ``sqlite:///lrscope.db``. Allowed: ``sqlite:///PATH``,
                ``sqlite://`` (memory), ``postgresql+psycopg://...``.
            create: create the file and the tables if missing; when False, a
                missing database is a :class:`StoreError`.
            readonly: only read: nothing is ever written (no table created,
                no upgrade, no claim released); a read-only SQLite file or
                directory is readable. Writing methods raise
                :class:`StoreError`. An older-schema store is refused.
            lease_s: seconds after its last heartbeat at which a running claim
                may be taken over by another runner; None: only claims of
                provably dead processes are taken over.
            busy_timeout_s: SQLite's wait for a lock inside one statement.
            retry_s: how long a transaction is retried on lock conflicts.

        Raises:
            StoreError: bad URL, unknown driver, unreachable database, a
                database of a newer schema version or not made by lrscope, a
                damaged one (tables missing) or an old one opened read-only.
        """
        if lease_s is not None and lease_s <= 0:
            raise StoreError(f"lease_s must be a positive number of seconds or None, got {lease_s}")
        parsed = parse_url(resolve_url(url))
        db = Database(parsed, busy_timeout_s=busy_timeout_s, retry_s=retry_s, readonly=readonly)
        try:
            upgrade = prepare(db, create=create, readonly=readonly, library_version=__version__)
        except BaseException:
            db.dispose()
            raise
        store = cls(db, lease_s=lease_s)
        store._upgrade = upgrade
        return store

    @property
    def url(self) -> str:
        """The database URL, credentials hidden (:func:`lrscope.store.hide_credentials`)."""
        return self._db.shown_url

    @property
    def readonly(self) -> bool:
        """Whether the store was opened read-only."""
        return self._db.readonly

    @property
    def upgrade(self) -> SchemaUpgrade | None:
        """The schema upgrade done when this store was opened (None if none was needed)."""
        return self._upgrade

    @property
    def path(self) -> Path | None:
        """The SQLite file of the store (None for PostgreSQL and in-memory SQLite)."""
        return sqlite_path(self._db.url) if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def close(self) -> None:
        """Release this store's unfinished claims (marked failed) and close connections.

        A store that never claimed a trial (or is read-only) writes nothing here.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._claimed and not self.readonly:
                self._release_claims()
        except LRScopeError as exc:
            log.warning("could not release the running claims of %s: %s", self.url, exc)
        finally:
            self._db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # --- tasks and policies --------------------------------------------
    def put_task(
        self, name: str, metadata: SupportsToDict | Mapping[str, object] | None = None
    ) -> None:
        """Record task ``name`` with ``metadata`` (a TaskMetadata, its ``to_dict()``, or None).

        A task is identified by its name *and* the fingerprint of its
        metadata (:func:`lrscope.store.task_fingerprint`). A task stored
        without metadata takes the first metadata given; one stored with the
        same fingerprint has its descriptive fields updated.

        Raises:
            StoreError: the task is stored with metadata of another
                fingerprint (another problem under the same name): the message
                names what differs; nothing is changed.
        """
        check_name(name, "task name")
        meta = None if metadata is None else codec.json_in(metadata, "task metadata")
        if meta is not None and not isinstance(meta, dict):
            raise StoreError(
                f"task metadata is a TaskMetadata or a dict, got {type(metadata).__name__}"
            )
        self._write(lambda s: record_task(s, name, meta, codec.utcnow()), conflicts=True)

    def tasks(self, *, on_unreadable: OnUnreadable | None = None) -> list[TaskRecord]:
        """Every stored task, by name.

        A task whose metadata is damaged is read without it (``metadata``
        None), after its :class:`UnreadableRowError` is raised or, with
        ``on_unreadable``, handed over (see :meth:`trials`).
        """

        def work(session: Session) -> tuple[list[TaskRecord], list[UnreadableRowError]]:
            records, bad = [], []
            for r in session.scalars(select(TaskRow).order_by(TaskRow.name)):
                metadata, error = task_metadata(r)
                if error is not None:
                    bad.append(error)
                records.append(dataclasses.replace(task_record(r), metadata=metadata))
            return records, bad

        records, bad = self._read(work)
        hand_over(bad, on_unreadable)
        return records

    def sources(self) -> list[SourceRecord]:
        """Where imported rows came from: one record per import or merge, oldest first."""
        query = select(SourceRow).order_by(SourceRow.id)
        return self._read(lambda s: [source_record(r) for r in s.scalars(query)])

    def policies(self) -> list[PolicyRecord]:
        """Every policy a trial was claimed for, by spec."""

        def work(session: Session) -> list[PolicyRecord]:
            rows = session.scalars(select(PolicyRow).order_by(PolicyRow.spec))
            return [PolicyRecord(r.spec, r.name, r.family, r.n_params) for r in rows]

        return self._read(work)

    # --- the claim protocol --------------------------------------------
    def start_trial(self, key: KeyLike) -> int | None:
        """Claim ``key`` for this process; the trial id, or None to skip it.

        None means the key is finished (done or diverged) or claimed by a
        live runner. A new key, a failed one, or a running one whose owner is
        provably dead or whose lease ran out is (re-)claimed: status
        ``running``, owner this store, attempts + 1.
        """
        fields = key_fields(key)
        me = self._me()
        self._check_writable()
        if self._read(lambda s: self._must_skip(s, fields, me)):
            return None  # cheap path: no write lock taken for finished or live keys
        self._claimed = True
        trial_id = self._write(lambda s: self._claim(s, fields, me), conflicts=True)
        if trial_id is not None:
            self._beats[trial_id] = time.monotonic()  # the claim is a heartbeat
        return trial_id

    def _must_skip(self, session: Session, key: Mapping[str, Any], me: Worker) -> bool:
        """Whether the committed state already says skip (finished is final; live is live)."""
        row = session.scalars(select(TrialRow).where(*key_filter(key))).one_or_none()
        if row is None:
            return False
        if row.status in FINISHED:
            return True
        return row.status == STATUS_RUNNING and not self._is_stale(row, codec.utcnow(), me)

    def _claim(self, session: Session, key: Mapping[str, Any], me: Worker) -> int | None:
        now = codec.utcnow()
        query = select(TrialRow).where(*key_filter(key)).with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            ensure_task(session, key["task"], now)
            ensure_policy(session, key["spec"], now)
            row = TrialRow(**key, attempts=0, created_at=now, library_version=__version__)
            set_claim(row, me, now)
            session.add(row)
            session.flush()
            return row.id
        if row.status in FINISHED:
            return None
        if row.status == STATUS_RUNNING and not self._is_stale(row, now, me):
            return None
        log.info("re-claiming trial %d (%s, was %s)", row.id, row.spec, row.status)
        set_claim(row, me, now)
        return row.id

    def _is_stale(self, row: TrialRow, now: datetime, me: Worker) -> bool:
        if row.owner == me.token:
            return False
        if is_dead(row.host, row.boot_id, row.pid, row.pid_start, me):
            return True
        if self._lease_s is None:
            return False
        return (now - codec.as_utc(row.heartbeat_at)).total_seconds() > self._lease_s

    def heartbeat(self, trial_id: int) -> bool:
        """Tell other runners the trial is still being worked on.

        Cheap to call often (every step): it writes at most every
        ``min(60, lease_s / 4)`` seconds per trial. Returns whether it wrote.
        """
        interval_s = 60.0 if self._lease_s is None else min(60.0, self._lease_s / 4.0)
        now_s = time.monotonic()
        if now_s - self._beats.get(trial_id, -float("inf")) < interval_s:
            return False
        self._beats[trial_id] = now_s
        statement = (
            update(TrialRow)
            .where(TrialRow.id == trial_id, TrialRow.status == STATUS_RUNNING)
            .values(heartbeat_at=codec.utcnow())
        )
        self._write(lambda s: s.execute(statement))
        return True

    def finish_trial(self, trial_id: int, result: SupportsToDict | Mapping[str, object]) -> bool:
        """Store ``result`` (a TrialResult or its ``to_dict()``) in trial ``trial_id``.

        The status becomes ``diverged`` or ``done``. Returns False (and stores
        nothing) when the trial is already finished, so a key never holds two
        results; a failed or re-claimed row still takes the result.
        """
        data = result_data(result)

        def work(session: Session) -> bool:
            row = self._row_for_update(session, trial_id)
            stored_key = {name: getattr(row, name) for name in KEY_FIELDS}
            given_key = {name: data[name] for name in KEY_FIELDS}
            if stored_key != given_key:
                raise StoreError(
                    f"the result is for {given_key} but trial {trial_id} is {stored_key}; "
                    "a trial stores only its own result"
                )
            if row.status in FINISHED:
                return False
            apply_result(row, data)
            return True

        self._beats.pop(trial_id, None)
        return self._write(work)

    def fail_trial(self, trial_id: int, error: str | BaseException) -> bool:
        """Mark trial ``trial_id`` failed with ``error`` (text or an exception).

        A failed trial is claimed again by the next run. Returns False when
        the trial is already finished (its result is kept).
        """
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = text[:_MAX_ERROR_CHARS]

        def work(session: Session) -> bool:
            row = self._row_for_update(session, trial_id)
            if row.status in FINISHED:
                return False
            row.status = STATUS_FAILED
            row.error = text
            row.finished_at = codec.utcnow()
            return True

        self._beats.pop(trial_id, None)
        return self._write(work)

    def _row_for_update(self, session: Session, trial_id: int) -> TrialRow:
        if not is_integer(trial_id):
            raise StoreError(f"a trial id is an int from start_trial, got {trial_id!r}")
        row = session.get(TrialRow, trial_id, with_for_update=True)
        if row is None:
            raise StoreError(f"no trial with id {trial_id} in {self.url}")
        return row

    def _release_claims(self) -> None:
        me = self._worker
        if me.pid != os.getpid():
            return  # a forked child never opened a claim under this identity
        message = (
            f"released: the store of {me.label} was closed while the trial was running "
            "(interrupted or abandoned); the next run claims it again"
        )
        statement = (
            update(TrialRow)
            .where(TrialRow.owner == me.token, TrialRow.status == STATUS_RUNNING)
            .values(status=STATUS_FAILED, error=message, finished_at=codec.utcnow())
        )
        self._db.run(lambda s: s.execute(statement), write=True, what="write to")

    # --- reading trials -------------------------------------------------
    def done_keys(self, task: str | None = None) -> set[TrialKey]:
        """Keys of the finished (done or diverged) trials, of ``task`` or of all."""
        from lrscope.engine.result import TrialKey

        columns = [getattr(TrialRow, name) for name in KEY_FIELDS]
        query = select(*columns).where(TrialRow.status.in_(FINISHED))
        if task is not None:
            query = query.where(TrialRow.task == task)
        rows = self._read(lambda s: list(s.execute(query)))
        return {TrialKey(*row) for row in rows}

    def trials(
        self,
        task: str | None = None,
        status: str | None = None,
        spec: str | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[TrialRecord]:
        """Stored trials, oldest first, filtered by task, status and spec when given.

        A damaged row (a curve that is not a list of points, a metric that is
        not a number, JSON that does not decode) raises its
        :class:`UnreadableRowError` (a ``StoreError`` naming the row and the
        problem), or, with ``on_unreadable``, is handed to it and left out.
        """
        query = select(TrialRow).order_by(TrialRow.id)
        if task is not None:
            query = query.where(TrialRow.task == task)
        if status is not None:
            if status not in STATUSES:
                raise StoreError(f"unknown trial status {status!r}; allowed: {', '.join(STATUSES)}")
            query = query.where(TrialRow.status == status)
        if spec is not None:
            query = query.where(TrialRow.spec == spec)

        def record(r: TrialRow) -> TrialRecord:
            check_trial(r)
            return trial_record(r)

        return self._records(query, record, on_unreadable)

    # --- range tests and interpolations ---------------------------------
    def put_range_test(
        self,
        task: str,
        result: SupportsToDict | Mapping[str, object],
        params: Mapping[str, object] | None = None,
    ) -> int:
        """Store a range test (``RangeTestResult.to_dict()``); returns its id."""
        check_name(task, "task name")
        data = codec.json_in(result, "range test result")
        settings = codec.json_in(params or {}, "range test params")
        if not isinstance(data, dict) or not isinstance(settings, dict):
            raise StoreError("a range test result and its params are dicts (to_dict())")
        return self._insert(task, lambda: RangeTestRow(params=settings, result=data))

    def range_tests(
        self, task: str | None = None, *, on_unreadable: OnUnreadable | None = None
    ) -> list[RangeTestRecord]:
        """Stored range tests, oldest first (of ``task`` when given; a damaged row: see
        :meth:`trials`)."""

        def record(r: RangeTestRow) -> RangeTestRecord:
            check_document("range_tests", r, "range test", {"params": True, "result": False})
            return range_test_record(r)

        return self._select(RangeTestRow, task, record, on_unreadable)

    def put_interpolation(self, task: str, data: SupportsToDict | Mapping[str, object]) -> int:
        """Store an interpolation (``InterpolationResult.to_dict()``); returns its id."""
        check_name(task, "task name")
        document = codec.json_in(data, "interpolation")
        if not isinstance(document, dict):
            raise StoreError("an interpolation is stored as a dict (to_dict())")
        return self._insert(task, lambda: InterpolationRow(data=document))

    def interpolations(
        self, task: str | None = None, *, on_unreadable: OnUnreadable | None = None
    ) -> list[InterpolationRecord]:
        """Stored interpolations, oldest first (of ``task`` when given; a damaged row: see
        :meth:`trials`)."""

        def record(r: InterpolationRow) -> InterpolationRecord:
            check_document("interpolations", r, "interpolation", {"data": False})
            return interpolation_record(r)

        return self._select(InterpolationRow, task, record, on_unreadable)

    def _insert(self, task: str, make_row: Callable[[], RangeTestRow | InterpolationRow]) -> int:
        """Add the row ``make_row`` builds for ``task`` (created now, by this host); its id."""

        def work(session: Session) -> int:
            now = codec.utcnow()
            ensure_task(session, task, now)
            row = make_row()
            row.task = task
            row.library_version = __version__
            row.host = self._worker.host
            row.created_at = now
            session.add(row)
            session.flush()
            return row.id

        return self._write(work, conflicts=True)

    def _select(
        self,
        table: type[_RowT],
        task: str | None,
        record: Callable[[_RowT], _RecordT],
        on_unreadable: OnUnreadable | None,
    ) -> list[_RecordT]:
        """Every row of ``table`` (of ``task`` when given), oldest first, as records."""
        query = select(table).order_by(table.id)
        if task is not None:
            query = query.where(table.task == task)
        return self._records(query, record, on_unreadable)

    def _records(
        self,
        query: Select[_R],
        record: Callable[[_R], _RecordT],
        on_unreadable: OnUnreadable | None,
    ) -> list[_RecordT]:
        """The rows of ``query`` as records; damaged rows raise or go to ``on_unreadable``."""
        records, bad = self._read(lambda session: split_readable(session.scalars(query), record))
        hand_over(bad, on_unreadable)
        return records

    # --- info -------------------------------------------------------------
    def info(self) -> StoreInfo:
        """URL (credentials hidden), dialect, schema version, row counts (imported ones too)."""
        me = self._me()

        def work(session: Session) -> StoreInfo:
            tables = (TaskRow, PolicyRow, TrialRow, RangeTestRow, InterpolationRow, SourceRow)
            counts = {
                table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                for table in tables
            }
            imported = {
                table.__tablename__: session.scalar(
                    select(func.count()).select_from(table).where(table.source_id.is_not(None))
                )
                or 0
                for table in (TaskRow, TrialRow, RangeTestRow, InterpolationRow)
            }
            by_status = dict.fromkeys(STATUSES, 0)
            for status, n in session.execute(
                select(TrialRow.status, func.count()).group_by(TrialRow.status)
            ):
                by_status[status] = int(n)
            running = session.scalars(select(TrialRow).where(TrialRow.status == STATUS_RUNNING))
            now = codec.utcnow()
            path = self.path
            return StoreInfo(
                url=self.url,
                dialect=self.dialect,
                driver=str(self._db.engine.dialect.driver),
                path=None if path is None else str(path.resolve()),
                readonly=self.readonly,
                schema_version=read_schema_version(session, self.url),
                supported_schema_version=SCHEMA_VERSION,
                library_version=__version__,
                created_at=session.scalar(select(MetaRow.value).where(MetaRow.key == "created_at")),
                counts=counts,
                imported=imported,
                trials_by_status=by_status,
                stale_running=sum(1 for row in running if self._is_stale(row, now, me)),
            )

        return self._read(work)

    # --- plumbing ---------------------------------------------------------
    def _me(self) -> Worker:
        """This process's identity; a forked child gets its own (and a fresh pool)."""
        if self._worker.pid != os.getpid():
            self._db.engine.dispose(close=False)
            self._worker = current_worker()
            self._beats = {}
        return self._worker

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.url} is closed; open it again with Store.open")

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(
                f"the store {self.url} is opened read-only; open it with "
                "Store.open(url) to write to it"
            )

    def _write(self, work: Callable[[Session], T], *, conflicts: bool = False) -> T:
        self._check_open()
        self._check_writable()
        self._me()
        return self._db.run(work, write=True, retry_conflicts=conflicts, what="write to")

    def _read(self, work: Callable[[Session], T]) -> T:
        self._check_open()
        self._me()
        return self._db.run(work, write=False, what="read")

    def _read_snapshot(self, work: Callable[[Session], T]) -> T:
        """``work`` in one read transaction that sees one state of the whole database."""
        self._check_open()
        self._me()
        return self._db.run(work, write=False, snapshot=True, what="read")
