"""Schema 2: provenance of imported rows, task fingerprints, every metric of a trial.

- ``sources``: one row per import or merge that added rows (kind, origin
  store URL with credentials hidden, host, exporting lrscope version,
  exported and imported times, file name);
- ``source_id`` on ``tasks``, ``trials``, ``range_tests`` and
  ``interpolations`` (NULL: measured in this store), a foreign key to
  ``sources``;
- ``tasks.fingerprint``, filled here for every task with metadata
  (:func:`lrscope.store.task_fingerprint`);
- ``trials.metrics``: every final metric of a trial by name (JSON).

Only columns are added (nullable, so SQLite adds them in place: no table is
copied) and ``lrscope_meta.schema_version`` becomes 2.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lrscope.store._identity import task_fingerprint

revision = "0002_provenance"
down_revision: str | None = "0001_baseline"
branch_labels = None
depends_on = None
SCHEMA_VERSION = 2

_PROVENANCE_TABLES = ("tasks", "trials", "range_tests", "interpolations")


def _add_source_id(table: str) -> None:
    """``table.source_id``, a nullable foreign key to ``sources.id``."""
    name = f"fk_{table}_source_id_sources"
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a constraint only inline
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN source_id INTEGER "
            f"CONSTRAINT {name} REFERENCES sources (id)"
        )
        return
    op.add_column(table, sa.Column("source_id", sa.Integer, nullable=True))
    op.create_foreign_key(name, table, "sources", ["source_id"], ["id"])


def _fill_fingerprints() -> None:
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Integer),
        sa.column("metadata", sa.JSON),
        sa.column("fingerprint", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(tasks.c.id, tasks.c.metadata)).all()
    for task_id, metadata in rows:
        if isinstance(metadata, dict):
            fingerprint = task_fingerprint(metadata)
            bind.execute(
                tasks.update().where(tasks.c.id == task_id).values(fingerprint=fingerprint)
            )


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=True),
        sa.Column("library_version", sa.String(64), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file", sa.Text, nullable=True),
    )
    op.add_column("tasks", sa.Column("fingerprint", sa.String(64), nullable=True))
    op.add_column("trials", sa.Column("metrics", sa.JSON, nullable=True))
    for table in _PROVENANCE_TABLES:
        _add_source_id(table)
    _fill_fingerprints()
    meta = sa.table("lrscope_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(
        meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
    )
