"""Schema 1: the tables of lrscope 0.1.0, created where they are missing.

Stores written by lrscope 0.1.0 have these tables but no Alembic version
table; lrscope runs this revision on them too: it creates nothing there
(every table exists) and records the revision. On an empty database it
creates the schema-1 tables, which the next revisions then change. The
definitions are frozen copies of that release's models, not imports.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision: str | None = None
branch_labels = None
depends_on = None
SCHEMA_VERSION = 1


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tables() -> dict[str, tuple[sa.schema.SchemaItem, ...]]:
    floats = ("top1", "top5", "best_top1")
    return {
        "lrscope_meta": (
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        ),
        "tasks": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.Text, nullable=False, unique=True),
            sa.Column("metadata", sa.JSON, nullable=True),
            _when("created_at"),
            _when("updated_at"),
        ),
        "policies": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("spec", sa.Text, nullable=False, unique=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("family", sa.Text, nullable=True),
            sa.Column("n_params", sa.Integer, nullable=True),
            _when("created_at"),
        ),
        "trials": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task", sa.Text, nullable=False),
            sa.Column("spec", sa.Text, nullable=False),
            *(sa.Column(n, sa.BigInteger, nullable=False) for n in ("seed", "steps", "eval_every")),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("error", sa.Text, nullable=True),
            *(sa.Column(n, sa.Float, nullable=True) for n in floats),
            sa.Column("best_iter", sa.BigInteger, nullable=True),
            *(sa.Column(n, sa.Float, nullable=True) for n in ("ac", "cd", "cdac", "ld")),
            sa.Column("n_params", sa.Integer, nullable=True),
            sa.Column("wall_s", sa.Float, nullable=True),
            sa.Column("steps_done", sa.BigInteger, nullable=True),
            sa.Column("diverged_at", sa.BigInteger, nullable=True),
            sa.Column("curve", sa.JSON, nullable=True),
            sa.Column("library_version", sa.String(64), nullable=False),
            sa.Column("owner", sa.String(64), nullable=True),
            sa.Column("host", sa.Text, nullable=True),
            sa.Column("boot_id", sa.String(64), nullable=True),
            sa.Column("pid", sa.BigInteger, nullable=True),
            sa.Column("pid_start", sa.BigInteger, nullable=True),
            sa.Column("attempts", sa.Integer, nullable=False),
            _when("created_at"),
            _when("started_at"),
            _when("heartbeat_at"),
            _when("finished_at", nullable=True),
            sa.UniqueConstraint(
                "task", "spec", "seed", "steps", "eval_every", name="uq_trials_key"
            ),
        ),
        "range_tests": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task", sa.Text, nullable=False),
            sa.Column("params", sa.JSON, nullable=True),
            sa.Column("result", sa.JSON, nullable=False),
            sa.Column("library_version", sa.String(64), nullable=False),
            sa.Column("host", sa.Text, nullable=True),
            _when("created_at"),
        ),
        "interpolations": (
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("task", sa.Text, nullable=False),
            sa.Column("data", sa.JSON, nullable=False),
            sa.Column("library_version", sa.String(64), nullable=False),
            sa.Column("host", sa.Text, nullable=True),
            _when("created_at"),
        ),
    }


_INDEXES = {
    "trials": ("ix_trials_task_status", ("task", "status")),
    "range_tests": ("ix_range_tests_task", ("task",)),
    "interpolations": ("ix_interpolations_task", ("task",)),
}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, items in _tables().items():
        if name in existing:
            continue
        op.create_table(name, *items)
        if name in _INDEXES:
            index, columns = _INDEXES[name]
            op.create_index(index, name, list(columns))
    meta = sa.table("lrscope_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    bind = op.get_bind()
    if bind.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first() is None:
        op.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
