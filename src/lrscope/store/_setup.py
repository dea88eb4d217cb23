"""Creating the tables of a new database, and refusing databases we cannot read.

Opening a database first looks at it in a read transaction: an lrscope
database of the current schema version is used as it is (nothing is written,
so a read-only file works for ``lrscope db info``). Otherwise, in one write
transaction (serialised between processes: ``BEGIN IMMEDIATE`` on SQLite, a
transaction-level advisory lock on PostgreSQL), the missing tables are created
and the schema version is recorded. Existing tables are never altered or
dropped: a database from a newer lrscope, or one with tables of the same names
but no lrscope meta table, is refused with a :class:`StoreError`.
"""

from __future__ import annotations

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from lrscope.errors import StoreError
from lrscope.store._codec import utcnow
from lrscope.store._db import Database, sqlite_path
from lrscope.store._schema import META_TABLE, SCHEMA_VERSION, TABLES, Base, MetaRow

__all__ = ["create_schema", "prepare", "read_schema_version", "schema_state"]

_ADVISORY_LOCK_KEY = 0x6C7273636F7065  # "lrscope" in ASCII: one lock for schema setup


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


def schema_state(session: Session, shown_url: str) -> str:
    """``"ready"`` (current version, all tables), ``"partial"`` or ``"empty"``.

    Raises :class:`StoreError` for a newer schema version or a foreign database.
    """
    names = set(inspect(session.connection()).get_table_names())
    ours = names & set(TABLES)
    if META_TABLE not in names:
        if ours:
            raise StoreError(
                f"the database at {shown_url!r} has tables named {sorted(ours)} but no "
                f"{META_TABLE} table: it is not an lrscope database, and lrscope will not "
                "write into it; use an empty database or another file"
            )
        return "empty"
    version = read_schema_version(session, shown_url)
    if version is None:
        raise StoreError(
            f"the database at {shown_url!r} has a {META_TABLE} table without a schema "
            f"version: it is not an lrscope database; use an empty database or another file"
        )
    check_version(version, shown_url)
    return "ready" if ours == set(TABLES) else "partial"


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


def create_schema(session: Session, shown_url: str, library_version: str) -> None:
    """Create the missing tables and record the schema version (one transaction)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    state = schema_state(session, shown_url)  # again, under the lock
    if state == "ready":
        return
    Base.metadata.create_all(connection, checkfirst=True)
    if state == "empty":
        now = utcnow().isoformat()
        session.add_all(
            [
                MetaRow(key="schema_version", value=str(SCHEMA_VERSION)),
                MetaRow(key="created_at", value=now),
                MetaRow(key="created_by", value=f"lrscope {library_version}"),
            ]
        )
        session.flush()


def prepare(db: Database, create: bool, library_version: str) -> None:
    """Check (and with ``create``, create) the schema; see :mod:`lrscope.store._setup`."""
    path = sqlite_path(db.url) if db.dialect == "sqlite" else None
    if path is not None:
        if not create and not path.exists():
            raise StoreError(
                f"no database file at {str(path)!r} (URL {db.shown_url!r}); it is created by "
                "the first command that stores results (bench, tune, find)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory of database {db.shown_url!r}: {exc}"
            ) from None
    state = db.run(lambda s: schema_state(s, db.shown_url), write=False, what="open")
    if state == "ready":
        return
    if not create:
        raise StoreError(
            f"the database at {db.shown_url!r} holds no lrscope tables yet; they are created "
            "by the first command that stores results (bench, tune, find)"
        )
    db.run(
        lambda s: create_schema(s, db.shown_url, library_version),
        write=True,
        retry_conflicts=True,
        what="open",
    )
