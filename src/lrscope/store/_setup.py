"""Opening a database: what it holds, and whether it may be created, upgraded or repaired.

Opening first looks at the database in a read transaction (nothing written,
so a read-only file works) and classifies it (:class:`SchemaState`);
:func:`lrscope.store._migrate.prepare` then acts on it:

- ``current``: an lrscope store of this schema version: used as it is;
- ``empty``: no lrscope tables: created (unless ``create`` is False or the
  store is opened read-only: then a :class:`StoreError`);
- ``old``: an lrscope store of an older schema version (for example written
  by lrscope 0.1.0, which has ``lrscope_meta.schema_version = 1`` and no
  Alembic version table): upgraded in place (:mod:`lrscope.store._migrate`;
  a backup copy first for SQLite); opened read-only it is refused, with the
  way to upgrade it;
- ``damaged``: this version's store with tables missing: writable, the
  missing tables are created (empty, with a warning that names them);
  read-only, a :class:`StoreError` that names them.

Refused always, untouched: a database whose schema version or Alembic
revision is newer than this lrscope knows ("upgrade lrscope"), one with
tables of our names but no ``lrscope_meta`` (another program's), one whose
meta table has no readable version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from lrscope.errors import StoreError
from lrscope.store._db import Database, sqlite_path
from lrscope.store._schema import (
    META_TABLE,
    REVISIONS,
    SCHEMA_VERSION,
    TABLES,
    VERSION_TABLE,
    MetaRow,
)

__all__ = ["SchemaState", "check_file", "read_schema_state", "read_schema_version", "refusal"]

StateKind = Literal["current", "empty", "old", "damaged"]
_CREATED_BY = "the first command that stores results (bench, tune, find)"


@dataclass(frozen=True)
class SchemaState:
    """What an opened database holds: its kind, schema version, revision, missing tables."""

    kind: StateKind
    version: int | None = None
    revision: str | None = None
    missing: tuple[str, ...] = ()


def read_schema_version(session: Session, shown_url: str) -> int | None:
    """The stored schema version, or None when the meta table has none."""
    value = session.scalar(select(MetaRow.value).where(MetaRow.key == "schema_version"))
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(
            f"the database at {shown_url!r} has an unreadable schema version {value!r} "
            f"in its {META_TABLE} table; this lrscope supports schema version {SCHEMA_VERSION}"
        ) from None


def read_schema_state(session: Session, shown_url: str) -> SchemaState:
    """Classify the database (see the module docstring); refuse what must be refused."""
    names = set(inspect(session.connection()).get_table_names())
    if META_TABLE not in names:
        ours = sorted(names & {*TABLES, VERSION_TABLE})
        if ours:
            raise StoreError(
                f"the database at {shown_url!r} has tables named {ours} but no "
                f"{META_TABLE} table: it is not an lrscope database, and lrscope will not "
                "write into it; use an empty database or another file"
            )
        return SchemaState("empty")
    version = read_schema_version(session, shown_url)
    if version is None:
        raise StoreError(
            f"the database at {shown_url!r} has a {META_TABLE} table without a schema "
            f"version: it is not an lrscope database; use an empty database or another file"
        )
    check_version(version, shown_url)
    revision = None
    if VERSION_TABLE in names:
        revision = session.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        if revision is not None and revision not in REVISIONS:
            raise StoreError(
                f"the database at {shown_url!r} was migrated to schema revision "
                f"{revision!r}, which this lrscope does not know (it knows up to "
                f"{REVISIONS[-1]!r}, schema version {SCHEMA_VERSION}): a newer lrscope "
                "wrote it; upgrade lrscope"
            )
    missing = tuple(name for name in TABLES if name not in names)
    if version < SCHEMA_VERSION or revision != REVISIONS[-1]:
        return SchemaState("old", version, revision, missing)
    return SchemaState("damaged" if missing else "current", version, revision, missing)


def check_version(version: int, shown_url: str) -> None:
    """Refuse a database whose schema is newer than this lrscope knows."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database at {shown_url!r} has schema version {version}, which is newer "
            f"than this lrscope supports ({SCHEMA_VERSION}); upgrade lrscope"
        )
    if version < 1:
        raise StoreError(
            f"the database at {shown_url!r} has an invalid schema version {version}; "
            f"this lrscope supports schema version {SCHEMA_VERSION}"
        )


def check_file(db: Database, create: bool) -> None:
    path = sqlite_path(db.url) if db.dialect == "sqlite" else None
    if path is None:
        return
    if not create and not path.exists():
        raise StoreError(
            f"no database file at {str(path)!r} (URL {db.shown_url!r}); it is created by "
            f"{_CREATED_BY}"
        )
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory of database {db.shown_url!r}: {exc}"
            ) from None


def refusal(db: Database, state: SchemaState, readonly: bool) -> StoreError | None:
    """Why ``state`` cannot be opened this way, or None when it can be."""
    url = db.shown_url
    if state.kind == "empty":
        return StoreError(
            f"the database at {url!r} holds no lrscope tables yet; they are created by "
            f"{_CREATED_BY}"
        )
    if not readonly:
        return None
    if state.kind == "old":
        return StoreError(
            f"the database at {url!r} has schema version {state.version} and this lrscope "
            f"reads version {SCHEMA_VERSION}; it is opened read-only here, so it is not "
            f"upgraded: upgrade it once with write access (`lrscope db upgrade --db {url}` "
            "keeps a backup of a SQLite file), then read it"
        )
    return StoreError(
        f"the database at {url!r} is damaged: its lrscope tables "
        f"{', '.join(state.missing)} are missing; opened with write access, lrscope "
        "creates them again (empty: the rows they held are lost); or restore a backup"
    )
