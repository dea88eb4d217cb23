"""Creating, upgrading and repairing a store's schema with Alembic, in one locked transaction.

:func:`migrate` opens one write transaction (``BEGIN IMMEDIATE`` on SQLite,
a transaction-level advisory lock on PostgreSQL), so two processes opening an
old store at once never both migrate it: the second waits, looks again under
the lock, and finds the store current. Inside that transaction:

1. a SQLite file that already holds a store is copied first, with SQLite's
   online backup, to ``<name>.schema<N>-backup-<UTC time><suffix>`` next to
   it (``lrscope.schema1-backup-20260101T120000Z.db``); if the copy cannot be
   written the store is left as it was;
2. Alembic upgrades the schema to the head revision (the revisions are in
   :mod:`lrscope.store.migrations`; a store of lrscope 0.1.0 has no version
   table and is upgraded from the base revision, which creates nothing there);
3. tables the models have but the database lacks (a damaged store) are
   created, with a warning naming them;
4. a new store gets ``created_at`` and ``created_by`` in ``lrscope_meta``.

It commits only when every step succeeded: PostgreSQL and SQLite run DDL
inside the transaction, so a failed upgrade leaves the store as it was.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.request import pathname2url

from sqlalchemy import Connection, inspect, text
from sqlalchemy.orm import Session

from lrscope.errors import StoreError
from lrscope.store._codec import utcnow
from lrscope.store._db import Database, sqlite_path
from lrscope.store._schema import REVISIONS, SCHEMA_VERSION, Base, MetaRow
from lrscope.store._setup import SchemaState, check_file, read_schema_state, refusal
from lrscope.store.records import SchemaUpgrade

__all__ = ["backup_path", "migrate", "prepare"]

log = logging.getLogger("lrscope.store")

ADVISORY_LOCK_KEY = 0x6C7273636F7065  # "lrscope" in ASCII: one lock for schema changes
SCRIPT_LOCATION = "lrscope.store:migrations"


def backup_path(path: Path, version: int) -> Path:
    """A new file name next to ``path`` for its copy before an upgrade from ``version``."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    base = f"{path.stem}.schema{version}-backup-{stamp}"
    candidate = path.with_name(f"{base}{path.suffix}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{base}-{n}{path.suffix}")
    return candidate


def _backup(path: Path, version: int, shown_url: str) -> Path:
    """Copy the SQLite database next to ``path`` with SQLite's online backup.

    Called while this process holds the write lock: the copy is read through
    a second connection (WAL lets it read), so it holds the last committed
    state, which nobody can change before the upgrade commits.
    """
    target = backup_path(path, version)
    try:
        source = sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    except (OSError, sqlite3.Error) as exc:
        target.unlink(missing_ok=True)
        raise StoreError(
            f"cannot upgrade the database at {shown_url!r} from schema version {version}: "
            f"its backup copy {str(target)!r} cannot be written ({exc}); the store is "
            "unchanged; make its directory writable or copy it somewhere writable"
        ) from None
    return target


def _alembic(connection: Connection, command_name: str, revision: str) -> None:
    """Run Alembic's ``upgrade`` or ``stamp`` on ``connection`` (in its transaction)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)


def _repair(connection: Connection, shown_url: str) -> None:
    missing = sorted(set(Base.metadata.tables) - set(inspect(connection).get_table_names()))
    if not missing:
        return
    Base.metadata.create_all(connection, checkfirst=True)
    log.warning(
        "the store at %s was damaged: its tables %s were missing and are created again, "
        "empty (the rows they held are lost)",
        shown_url,
        ", ".join(missing),
    )


def _upgrade(
    session: Session, db: Database, library_version: str
) -> tuple[SchemaState, Path | None]:
    """The work of :func:`migrate`: the state found under the lock, and the backup made."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    state = read_schema_state(session, db.shown_url)  # again, under the lock
    if state.kind == "current":
        return state, None
    path = sqlite_path(db.url) if db.dialect == "sqlite" else None
    backup = None
    if state.kind == "old" and state.version is not None:
        if path is not None:
            backup = _backup(path, state.version, db.shown_url)
        if state.revision is None and state.version > 1:
            _alembic(connection, "stamp", REVISIONS[state.version - 1])
        _alembic(connection, "upgrade", "head")
    elif state.kind == "empty":
        _alembic(connection, "upgrade", "head")
    _repair(connection, db.shown_url)
    if session.get(MetaRow, "created_at") is None:
        session.add(MetaRow(key="created_at", value=utcnow().isoformat()))
        session.add(MetaRow(key="created_by", value=f"lrscope {library_version}"))
    session.flush()
    return state, backup


def migrate(db: Database, library_version: str) -> SchemaUpgrade | None:
    """Create, upgrade or repair the schema of ``db`` (see the module docstring).

    Returns the upgrade done (None when the store was created, repaired or
    found current under the lock).
    """
    state, backup = db.run(
        lambda s: _upgrade(s, db, library_version),
        write=True,
        retry_conflicts=True,
        what="open",
    )
    if state.kind == "old":
        where = "" if backup is None else f"; the store as it was is copied to {str(backup)!r}"
        log.warning(
            "upgraded the store at %s from schema version %s to %s%s",
            db.shown_url,
            state.version,
            SCHEMA_VERSION,
            where,
        )
        assert state.version is not None
        return SchemaUpgrade(state.version, SCHEMA_VERSION, None if backup is None else str(backup))
    return None


def prepare(
    db: Database, *, create: bool, readonly: bool, library_version: str
) -> SchemaUpgrade | None:
    """Check the schema; create, upgrade or repair it where allowed (see the module docstring).

    Returns the upgrade done, if any.
    """
    check_file(db, create and not readonly)
    state = db.run(lambda s: read_schema_state(s, db.shown_url), write=False, what="open")
    if state.kind == "current":
        return None
    if state.kind != "empty" or not create or readonly:
        refused = refusal(db, state, readonly)
        if refused is not None:
            raise refused
    return migrate(db, library_version)
