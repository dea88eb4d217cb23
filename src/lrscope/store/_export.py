"""Writing a store's records as export lines (see ``docs/export-format.md``).

Everything is read in one snapshot transaction (``REPEATABLE READ`` on
PostgreSQL; a SQLite read transaction is a snapshot), so the file is
consistent even while runners write. Lines are in a fixed order (sources by
id, tasks by name, policies by spec, trials by key, range tests and
interpolations by task and time), so exporting the same records twice gives
the same lines. Running claims are not exported: they belong to the store
that runs them.
"""

from __future__ import annotations

import json
import math
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from lrscope import __version__
from lrscope.store import _codec as codec
from lrscope.store import _format as fmt
from lrscope.store._identity import task_fingerprint
from lrscope.store._read import UnreadableRowError, check_document, check_trial, task_metadata
from lrscope.store._schema import (
    SCHEMA_VERSION,
    STATUS_FAILED,
    STATUS_RUNNING,
    InterpolationRow,
    PolicyRow,
    RangeTestRow,
    SourceRow,
    TaskRow,
    TrialRow,
)
from lrscope.store._validate_trial import RESULT_FIELDS

__all__ = ["ExportFilter", "dumps", "trial_result", "write_records"]

_BATCH = 200


def dumps(record: dict[str, object]) -> str:
    """One record as a line of JSON (no NaN: the store never holds one in JSON).

    Everything outside ASCII is escaped (``\\u0085``), so no character of a
    name or an error text can end a line for a reader that splits on more
    than ``\\n`` (Python's ``str.splitlines`` splits on U+0085 and U+2028 too).
    """
    return json.dumps(record, allow_nan=False, ensure_ascii=True, separators=(",", ":"))


def _when(value: datetime | None) -> str | None:
    return None if value is None else codec.as_utc(value).isoformat()


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def trial_result(row: TrialRow) -> dict[str, float | int | None] | None:
    """The ``result`` of a trial line: its metric columns (None for a failed trial)."""
    if row.status == STATUS_FAILED:
        return None
    result: dict[str, float | int | None] = {}
    for name in RESULT_FIELDS:
        value = getattr(row, name)
        result[name] = _finite(value) if isinstance(value, float) else value
    return result


class ExportFilter:
    """Which records an export holds: of ``tasks`` (None: all), stored since ``since``."""

    def __init__(self, tasks: Sequence[str] | None, since: datetime | None) -> None:
        self.tasks = None if tasks is None else tuple(tasks)
        self.since = since

    def trials(self) -> list[ColumnElement[bool]]:
        """Conditions on trials: finished or failed, of the tasks, finished since."""
        where = [TrialRow.status != STATUS_RUNNING]
        if self.tasks is not None:
            where.append(TrialRow.task.in_(self.tasks))
        if self.since is not None:
            where.append(TrialRow.finished_at >= self.since)
        return where

    def documents(self, table: type[RangeTestRow | InterpolationRow]) -> list[ColumnElement[bool]]:
        """Conditions on range tests or interpolations: of the tasks, stored since."""
        where: list[ColumnElement[bool]] = []
        if self.tasks is not None:
            where.append(table.task.in_(self.tasks))
        if self.since is not None:
            where.append(table.created_at >= self.since)
        return where

    def header_filters(self) -> dict[str, object]:
        return {
            "tasks": None if self.tasks is None else list(self.tasks),
            "since": _when(self.since),
        }


_TRIAL_ORDER = (
    TrialRow.task,
    TrialRow.spec,
    TrialRow.seed,
    TrialRow.steps,
    TrialRow.eval_every,
    TrialRow.runtime,
)


def _referenced(
    session: Session, chosen: ExportFilter
) -> tuple[list[TaskRow], list[str], list[int]]:
    """The tasks, policy specs and source ids the exported records refer to."""
    where = chosen.trials()
    task_names = set(session.scalars(select(TrialRow.task).where(*where).distinct()))
    specs = sorted(set(session.scalars(select(TrialRow.spec).where(*where).distinct())))
    source_ids = set(session.scalars(select(TrialRow.source_id).where(*where).distinct()))
    for table in (RangeTestRow, InterpolationRow):
        conditions = chosen.documents(table)
        task_names |= set(session.scalars(select(table.task).where(*conditions).distinct()))
        source_ids |= set(session.scalars(select(table.source_id).where(*conditions).distinct()))
    tasks_query = select(TaskRow).order_by(TaskRow.name)
    if chosen.tasks is not None:
        tasks_query = tasks_query.where(TaskRow.name.in_(chosen.tasks))
    tasks = [
        row
        for row in session.scalars(tasks_query)
        if row.name in task_names or chosen.since is None
    ]
    source_ids |= {row.source_id for row in tasks}
    return tasks, specs, sorted(i for i in source_ids if i is not None)


def _task_line(
    row: TaskRow, ref: Callable[[int | None], int | None], left_out: list[UnreadableRowError]
) -> dict[str, object]:
    metadata, error = task_metadata(row)  # damaged metadata: the task goes without it
    if error is not None:
        left_out.append(error)
    return {
        "type": "task",
        "name": row.name,
        "metadata": metadata,
        "fingerprint": task_fingerprint(metadata),
        "created_at": _when(row.created_at),
        "source": ref(row.source_id),
    }


def _trial_line(
    row: TrialRow, ref: Callable[[int | None], int | None], host: bool
) -> dict[str, object]:
    failed = row.status == STATUS_FAILED
    return {
        "type": "trial",
        "task": row.task,
        "spec": row.spec,
        "seed": row.seed,
        "steps": row.steps,
        "eval_every": row.eval_every,
        "runtime": row.runtime,
        "status": row.status,
        "error": row.error if failed else None,
        "result": trial_result(row),
        "metrics": None if failed else row.metrics,
        "curve": None if failed else (row.curve or []),
        "lrscope_version": row.library_version,
        "host": row.host if host else None,
        "created_at": _when(row.created_at),
        "started_at": _when(row.started_at),
        "finished_at": _when(row.finished_at or row.heartbeat_at),
        "source": ref(row.source_id),
    }


def _document_line(
    row: RangeTestRow | InterpolationRow, ref: Callable[[int | None], int | None], host: bool
) -> dict[str, object]:
    if isinstance(row, RangeTestRow):
        content: dict[str, object] = {"params": row.params or {}, "result": row.result}
        kind = "range_test"
    else:
        content, kind = {"data": row.data}, "interpolation"
    return {
        "type": kind,
        "task": row.task,
        **content,
        "lrscope_version": row.library_version,
        "host": row.host if host else None,
        "created_at": _when(row.created_at),
        "source": ref(row.source_id),
    }


def _source_line(row: SourceRow, ref: int, host: bool) -> dict[str, object]:
    return {
        "type": "source",
        "id": ref,
        "kind": row.kind,
        "store": row.store,
        "host": row.host if host else None,
        "lrscope_version": row.library_version,
        "exported_at": _when(row.exported_at),
        "imported_at": _when(row.imported_at),
        "file": row.file,
    }


_DocumentT = TypeVar("_DocumentT", RangeTestRow, InterpolationRow)


def _documents(
    session: Session, table: type[_DocumentT], chosen: ExportFilter
) -> Iterator[_DocumentT]:
    """The chosen rows of ``table`` by task and time, read in batches."""
    query = (
        select(table)
        .where(*chosen.documents(table))
        .order_by(table.task, table.created_at, table.id)
        .execution_options(yield_per=_BATCH)
    )
    yield from session.scalars(query)


_RowT = TypeVar("_RowT")


def _readable(
    check: Callable[[_RowT], None], row: _RowT, left_out: list[UnreadableRowError]
) -> bool:
    """Whether ``check(row)`` passes; its :class:`UnreadableRowError` goes to ``left_out``."""
    try:
        check(row)
    except UnreadableRowError as exc:
        left_out.append(exc)
        return False
    return True


def _check_range_test(row: RangeTestRow) -> None:
    check_document("range_tests", row, "range test", {"params": True, "result": False})


def _check_interpolation(row: InterpolationRow) -> None:
    check_document("interpolations", row, "interpolation", {"data": False})


def write_records(
    session: Session,
    emit: Callable[[str], object],
    *,
    store_url: str,
    chosen: ExportFilter,
    host: bool,
    now: datetime,
    left_out: list[UnreadableRowError],
) -> dict[str, int]:
    """Emit every line of the export (header to end); the records per type.

    A damaged row (see :mod:`lrscope.store._read`) is not written: its error is
    appended to ``left_out`` (a task with damaged metadata is written without it).
    """
    tasks, specs, source_ids = _referenced(session, chosen)
    refs = {source_id: i for i, source_id in enumerate(source_ids, start=1)}

    def ref(source_id: int | None) -> int | None:
        return None if source_id is None else refs[source_id]

    emit(dumps({
        "type": "header", "format": fmt.FORMAT_NAME, "format_version": fmt.FORMAT_VERSION,
        "lrscope_version": __version__, "schema_version": SCHEMA_VERSION,
        "exported_at": _when(now), "store": store_url,
        "host": socket.gethostname() if host else None, "filters": chosen.header_filters(),
    }))  # fmt: skip
    counts: Counter[str] = Counter()

    def put(record: dict[str, object]) -> None:
        counts[str(record["type"])] += 1
        emit(dumps(record))

    sources = select(SourceRow).where(SourceRow.id.in_(source_ids)).order_by(SourceRow.id)
    for source in session.scalars(sources):
        put(_source_line(source, refs[source.id], host))
    for task in tasks:
        put(_task_line(task, ref, left_out))
    policies = select(PolicyRow).where(PolicyRow.spec.in_(specs)).order_by(PolicyRow.spec)
    for policy in session.scalars(policies):
        put({"type": "policy", "spec": policy.spec, "name": policy.name,
             "family": policy.family, "n_params": policy.n_params})  # fmt: skip
    trials = select(TrialRow).where(*chosen.trials()).order_by(*_TRIAL_ORDER)
    for trial in session.scalars(trials.execution_options(yield_per=_BATCH)):
        if _readable(check_trial, trial, left_out):
            put(_trial_line(trial, ref, host))
    for range_test in _documents(session, RangeTestRow, chosen):
        if _readable(_check_range_test, range_test, left_out):
            put(_document_line(range_test, ref, host))
    for interpolation in _documents(session, InterpolationRow, chosen):
        if _readable(_check_interpolation, interpolation, left_out):
            put(_document_line(interpolation, ref, host))
    records = {kind: counts[kind] for kind in fmt.RECORD_TYPES}
    emit(dumps({"type": "end", "records": records}))
    return records
