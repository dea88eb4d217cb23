"""The tables of the results store (SQLAlchemy 2 typed ORM).

Schema version 3. Any change to these tables bumps :data:`SCHEMA_VERSION`
and adds an Alembic revision in :mod:`lrscope.store.migrations` (which moves
:data:`HEAD_REVISION`); a database written by a newer lrscope is refused
rather than misread. The migrations, applied to an empty database, give
exactly these tables (a test compares them).

Units: times are UTC timestamps; ``wall_s`` is seconds; ``steps``,
``eval_every``, ``best_iter``, ``steps_done`` and ``diverged_at`` count
optimizer steps; accuracies are fractions in [0, 1]; losses are nats. Float
metrics that are NaN are stored as SQL NULL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lrscope.store._codec import StoredJson

SCHEMA_VERSION = 3
"""The schema version this lrscope reads and writes (``lrscope_meta.schema_version``)."""

REVISIONS = ("0001_baseline", "0002_provenance", "0003_runtime")
"""The Alembic revision of each schema version: ``REVISIONS[v - 1]`` is version ``v``."""
HEAD_REVISION = REVISIONS[SCHEMA_VERSION - 1]
"""The revision of :data:`SCHEMA_VERSION` (a test checks it is Alembic's head)."""

META_TABLE = "lrscope_meta"
VERSION_TABLE = "lrscope_alembic_version"
"""Alembic's version table, under a name no other application's migrations use."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}

STATUS_RUNNING = "running"
STATUS_DONE = "done"
STATUS_DIVERGED = "diverged"
STATUS_FAILED = "failed"
STATUS_PRUNED = "pruned"
"""Stopped early on purpose (a tuning pruner): a result, but not of the full budget."""
STATUSES = (STATUS_RUNNING, STATUS_DONE, STATUS_DIVERGED, STATUS_PRUNED, STATUS_FAILED)
FINISHED = (STATUS_DONE, STATUS_DIVERGED, STATUS_PRUNED)

Json = StoredJson()
"""JSON columns: SQL NULL for None; text that no longer decodes reads as ``UnreadableJson``."""


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MetaRow(Base):
    """Key/value facts about the database itself (``schema_version``, ...)."""

    __tablename__ = META_TABLE

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SourceRow(Base):
    """Where imported rows came from: one row per import (or merge) that added rows.

    ``kind`` is ``import`` (an export file) or ``merge`` (another store read
    directly); ``store`` the URL of the store that measured the rows
    (credentials hidden), ``host`` its host name when the exporter gave it,
    ``library_version`` the lrscope that exported them, ``exported_at`` and
    ``imported_at`` the times, ``file`` the export file's name (None for a merge).
    """

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    store: Mapped[str] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    library_version: Mapped[str] = mapped_column(String(64))
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    file: Mapped[str | None] = mapped_column(Text)


def _source_id() -> Mapped[int | None]:
    """A row's source: NULL when measured in this store, else the import it came with."""
    return mapped_column(ForeignKey("sources.id"), nullable=True, default=None)


class TaskRow(Base):
    """A task by name, with its metadata (dataset, model family, shapes) and fingerprint.

    ``fingerprint`` hashes the metadata fields that identify the problem
    (:func:`lrscope.store.task_fingerprint`); None while no metadata is known.
    """

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    task_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", Json)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = _source_id()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyRow(Base):
    """A policy by its spec string, with the name and family parsed from it."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    spec: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    family: Mapped[str | None] = mapped_column(Text)
    n_params: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrialRow(Base):
    """One trial: its key, its claim (owner, heartbeat) and, once finished, its metrics.

    The key ``(task, spec, seed, steps, eval_every, runtime)`` is unique: a key
    has one row for its whole life (claimed, failed, re-claimed, done).
    ``runtime`` is the identity of the runtime the trial ran on
    (:attr:`lrscope.engine.Runtime.identity`: ``""`` for fp32 without
    gradient accumulation, ``"bf16"``, ``"accum=4"``, ...).
    """

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint(
            "task", "spec", "seed", "steps", "eval_every", "runtime", name="uq_trials_key"
        ),
        Index("ix_trials_task_status", "task", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(Text)
    spec: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(BigInteger)
    steps: Mapped[int] = mapped_column(BigInteger)
    eval_every: Mapped[int] = mapped_column(BigInteger)
    runtime: Mapped[str] = mapped_column(String(64), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)

    top1: Mapped[float | None] = mapped_column(Float)
    top5: Mapped[float | None] = mapped_column(Float)
    best_top1: Mapped[float | None] = mapped_column(Float)
    best_iter: Mapped[int | None] = mapped_column(BigInteger)
    ac: Mapped[float | None] = mapped_column(Float)
    cd: Mapped[float | None] = mapped_column(Float)
    cdac: Mapped[float | None] = mapped_column(Float)
    ld: Mapped[float | None] = mapped_column(Float)
    n_params: Mapped[int | None] = mapped_column(Integer)
    wall_s: Mapped[float | None] = mapped_column(Float)
    steps_done: Mapped[int | None] = mapped_column(BigInteger)
    diverged_at: Mapped[int | None] = mapped_column(BigInteger)
    curve: Mapped[list[dict[str, Any]] | None] = mapped_column(Json)
    metrics: Mapped[dict[str, float | None] | None] = mapped_column(Json)
    source_id: Mapped[int | None] = _source_id()

    library_version: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(Text)
    boot_id: Mapped[str | None] = mapped_column(String(64))
    pid: Mapped[int | None] = mapped_column(BigInteger)
    pid_start: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RangeTestRow(Base):
    """One stored range test: its parameters and its result (curves, suggestions)."""

    __tablename__ = "range_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(Text, index=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(Json)
    result: Mapped[dict[str, Any]] = mapped_column(Json)
    source_id: Mapped[int | None] = _source_id()
    library_version: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InterpolationRow(Base):
    """One stored interpolation between two weight sets (the landscape helper)."""

    __tablename__ = "interpolations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(Text, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    source_id: Mapped[int | None] = _source_id()
    library_version: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


TABLES = tuple(Base.metadata.tables)
"""Every table name of the schema, the meta table included (not Alembic's version table)."""
