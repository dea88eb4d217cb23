"""Schema 3: a trial's runtime is part of its key.

- ``trials.runtime`` (text, ``""`` for every existing row: they ran in fp32
  without gradient accumulation) holds the identity of the runtime a trial
  ran on (:attr:`lrscope.engine.Runtime.identity`: ``"bf16"``, ``"accum=4"``,
  ``"fp16,accum=2"``, ...): precision and accumulation change the numbers,
  so the unique key ``uq_trials_key`` becomes ``(task, spec, seed, steps,
  eval_every, runtime)``. SQLite cannot change a table's constraints in
  place, so there the table is rebuilt (Alembic's batch mode: copied into a
  new table with the same rows, indexes and foreign keys).

Task metadata and fingerprints are unchanged: a classification scored with
LRBench's metrics records no metric definitions, so every stored task keeps
its identity.

``lrscope_meta.schema_version`` becomes 3.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_runtime"
down_revision: str | None = "0002_provenance"
branch_labels = None
depends_on = None
SCHEMA_VERSION = 3

_OLD_KEY = ["task", "spec", "seed", "steps", "eval_every"]


def upgrade() -> None:
    column = sa.Column("runtime", sa.String(64), nullable=False, server_default="")
    with op.batch_alter_table("trials") as batch:  # a table rebuild on SQLite only
        batch.add_column(column)
        batch.drop_constraint("uq_trials_key", type_="unique")
        batch.create_unique_constraint("uq_trials_key", [*_OLD_KEY, "runtime"])
    meta = sa.table("lrscope_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(
        meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
    )
