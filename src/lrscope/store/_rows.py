"""Rows in and out: key checks, claims, results, task identity, and records built from rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrscope import __version__
from lrscope.errors import LRScopeError, StoreError
from lrscope.store import _codec as codec
from lrscope.store._identity import describe_differences, task_fingerprint
from lrscope.store._schema import (
    STATUS_DIVERGED,
    STATUS_DONE,
    STATUS_PRUNED,
    STATUS_RUNNING,
    InterpolationRow,
    PolicyRow,
    RangeTestRow,
    SourceRow,
    TaskRow,
    TrialRow,
)
from lrscope.store._worker import Worker
from lrscope.store.records import (
    InterpolationRecord,
    RangeTestRecord,
    SourceRecord,
    TaskRecord,
    TrialRecord,
)
from lrscope.validation import is_integer


class SupportsToDict(Protocol):
    """A value the store keeps as its ``to_dict()`` (TaskMetadata, TrialResult, ...)."""

    def to_dict(self) -> Mapping[str, object]: ...


class KeyLike(Protocol):
    """What identifies a trial: :class:`lrscope.engine.result.TrialKey` or alike.

    A key without a ``runtime`` is one of the default runtime (``""``).
    """

    @property
    def task(self) -> str: ...
    @property
    def spec(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def eval_every(self) -> int: ...


KEY_FIELDS = ("task", "spec", "seed", "steps", "eval_every", "runtime")
METRIC_FLOATS = ("top1", "top5", "best_top1", "ac", "cd", "cdac", "ld", "wall_s")
METRIC_INTS = ("best_iter", "n_params", "steps_done")
RESULT_FIELDS = (*KEY_FIELDS, *METRIC_FLOATS, *METRIC_INTS, "diverged")


def check_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"a {what} must be a non-empty string, got {value!r}")


def check_runtime(value: object) -> str:
    """A runtime's identity (``""``, ``"bf16"``, ``"accum=4"``, ...), or a StoreError."""
    from lrscope.engine.runtime import Runtime

    if isinstance(value, str):
        try:
            return Runtime.from_identity(value).identity
        except LRScopeError:
            pass
    raise StoreError(
        f"a trial key's runtime is a runtime's identity ('' or e.g. 'bf16', 'accum=4', "
        f"'fp16,accum=2'), got {value!r}"
    )


def key_fields(key: object) -> dict[str, Any]:
    """The key fields of a TrialKey (or any object with those attributes; runtime: ``""``)."""
    try:
        fields = {name: getattr(key, name) for name in KEY_FIELDS if name != "runtime"}
    except AttributeError:
        raise StoreError(
            f"a trial key has task, spec, seed, steps and eval_every (a TrialKey), got {key!r}"
        ) from None
    check_name(fields["task"], "task name")
    check_name(fields["spec"], "policy spec")
    for name in ("seed", "steps", "eval_every"):
        value = fields[name]
        if not is_integer(value) or value < 0:
            raise StoreError(f"a trial key's {name} must be an int >= 0, got {value!r}")
    fields["runtime"] = check_runtime(getattr(key, "runtime", ""))
    return fields


def key_filter(key: Mapping[str, Any]) -> list[Any]:
    return [getattr(TrialRow, name) == key[name] for name in KEY_FIELDS]


def result_data(result: object) -> dict[str, Any]:
    to_dict = getattr(result, "to_dict", None)
    data = to_dict() if callable(to_dict) else result
    if not isinstance(data, Mapping):
        raise StoreError(
            f"finish_trial takes a TrialResult or its to_dict(), got {type(result).__name__}"
        )
    fields = {"runtime": "", **data}  # a result of the default runtime may not say so
    missing = [name for name in RESULT_FIELDS if name not in fields]
    if missing:
        raise StoreError(f"the trial result lacks the fields {missing}; give a TrialResult")
    return fields


def set_claim(row: TrialRow, me: Worker, now: datetime) -> None:
    """Make ``row`` a fresh ``running`` claim of ``me`` (metrics cleared, measured here)."""
    row.status = STATUS_RUNNING
    row.error = None
    row.owner = me.token
    row.host = me.host
    row.boot_id = me.boot_id
    row.pid = me.pid
    row.pid_start = me.pid_start
    row.attempts = (row.attempts or 0) + 1
    row.started_at = now
    row.heartbeat_at = now
    row.finished_at = None
    row.library_version = __version__
    row.source_id = None
    for name in (*METRIC_FLOATS, *METRIC_INTS, "diverged_at", "curve", "metrics"):
        setattr(row, name, None)


def apply_result(row: TrialRow, data: Mapping[str, Any]) -> None:
    for name in METRIC_FLOATS:
        setattr(row, name, codec.float_in(data[name]))
    for name in METRIC_INTS:
        setattr(row, name, codec.int_in(data[name]))
    row.diverged_at = codec.int_in(data.get("diverged_at"))
    row.curve = codec.curve_in(data.get("curve", ()))
    row.metrics = codec.metrics_in(data.get("metrics"))
    if data["diverged"]:
        row.status = STATUS_DIVERGED
    elif data["steps_done"] < data["steps"]:
        row.status = STATUS_PRUNED
    else:
        row.status = STATUS_DONE
    row.error = None
    row.finished_at = row.heartbeat_at = codec.utcnow()
    row.library_version = __version__


def ensure_task(session: Session, name: str, now: datetime) -> TaskRow:
    row = session.scalars(select(TaskRow).where(TaskRow.name == name)).one_or_none()
    if row is None:
        row = TaskRow(name=name, task_metadata=None, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
    return row


def identity_clash(
    name: str, stored: Mapping[str, object] | None, given: Mapping[str, object]
) -> str:
    """The message refusing ``given`` metadata for task ``name`` stored with other metadata."""
    return (
        f"task {name!r} is stored with other metadata ({describe_differences(stored, given)}): "
        "it is a different task of the same name, and lrscope neither merges nor "
        "overwrites it; rename the task or use another --db"
    )


def record_task(session: Session, name: str, meta: dict[str, Any] | None, now: datetime) -> None:
    """Create or complete task ``name``; refuse metadata of another fingerprint.

    A task without metadata (created by a trial claim, a range test, or by
    lrscope 0.1.0) takes the first metadata given. With the same fingerprint,
    descriptive fields (``extra``) are updated.
    """
    row = ensure_task(session, name, now)
    if meta is None or row.task_metadata == meta:
        return
    fingerprint = task_fingerprint(meta)
    if row.fingerprint is not None and row.fingerprint != fingerprint:
        raise StoreError(identity_clash(name, row.task_metadata, meta))
    row.task_metadata = meta
    row.fingerprint = fingerprint
    row.updated_at = now


def ensure_policy(session: Session, spec: str, now: datetime) -> None:
    if session.scalar(select(PolicyRow.id).where(PolicyRow.spec == spec)) is not None:
        return
    name, family, n_params = _describe_policy(spec)
    session.add(PolicyRow(spec=spec, name=name, family=family, n_params=n_params, created_at=now))
    session.flush()


def _describe_policy(spec: str) -> tuple[str, str | None, int | None]:
    """Name, family and #Param of ``spec``; the text before ``(`` if it does not parse."""
    try:
        from lrscope.policies import parse

        policy = parse(spec)
        return str(policy.name), str(policy.family), int(policy.n_params)
    except (ImportError, LRScopeError):
        return spec.split("(", 1)[0].strip() or spec, None, None


def trial_record(row: TrialRow) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        task=row.task,
        spec=row.spec,
        seed=row.seed,
        steps=row.steps,
        eval_every=row.eval_every,
        runtime=row.runtime,
        status=row.status,
        error=row.error,
        top1=codec.float_out(row.top1),
        top5=codec.float_out(row.top5),
        best_top1=codec.float_out(row.best_top1),
        best_iter=row.best_iter,
        ac=codec.float_out(row.ac),
        cd=codec.float_out(row.cd),
        cdac=codec.float_out(row.cdac),
        ld=codec.float_out(row.ld),
        n_params=row.n_params,
        wall_s=codec.float_out(row.wall_s),
        steps_done=row.steps_done,
        diverged_at=row.diverged_at,
        library_version=row.library_version,
        host=row.host,
        pid=row.pid,
        attempts=row.attempts,
        created_at=codec.as_utc(row.created_at),
        started_at=codec.as_utc(row.started_at),
        heartbeat_at=codec.as_utc(row.heartbeat_at),
        finished_at=None if row.finished_at is None else codec.as_utc(row.finished_at),
        curve=codec.curve_out(row.curve),
        metrics=codec.metrics_out(row.metrics),
        source_id=row.source_id,
    )


def task_record(row: TaskRow) -> TaskRecord:
    return TaskRecord(
        name=row.name,
        metadata=row.task_metadata,
        created_at=codec.as_utc(row.created_at),
        updated_at=codec.as_utc(row.updated_at),
        fingerprint=row.fingerprint,
        source_id=row.source_id,
    )


def range_test_record(row: RangeTestRow) -> RangeTestRecord:
    return RangeTestRecord(
        id=row.id,
        task=row.task,
        params=dict(row.params or {}),
        result=dict(row.result),
        library_version=row.library_version,
        host=row.host,
        created_at=codec.as_utc(row.created_at),
        source_id=row.source_id,
    )


def interpolation_record(row: InterpolationRow) -> InterpolationRecord:
    return InterpolationRecord(
        id=row.id,
        task=row.task,
        data=dict(row.data),
        library_version=row.library_version,
        host=row.host,
        created_at=codec.as_utc(row.created_at),
        source_id=row.source_id,
    )


def source_record(row: SourceRow) -> SourceRecord:
    return SourceRecord(
        id=row.id,
        kind=row.kind,
        store=row.store,
        host=row.host,
        library_version=row.library_version,
        exported_at=codec.as_utc(row.exported_at),
        imported_at=codec.as_utc(row.imported_at),
        file=row.file,
    )
