"""Alembic's environment for the store: migrate the connection lrscope passes in.

:mod:`lrscope.store._migrate` opens the transaction (and takes the lock)
and passes the connection as ``config.attributes["connection"]``; Alembic
sees a connection already in a transaction and leaves committing to lrscope.
Alembic runs this file; importing it as a module (a walk over the package)
does nothing, as ``alembic.context`` only has a configuration while Alembic
runs it.
"""

from __future__ import annotations

from alembic import context

from lrscope.store._schema import VERSION_TABLE, Base


def run_migrations() -> None:
    """Run the revisions Alembic chose on lrscope's connection, in its transaction."""
    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


if getattr(context, "config", None) is not None:
    run_migrations()
