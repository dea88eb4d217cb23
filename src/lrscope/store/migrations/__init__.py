"""Alembic migrations of the results store, run by lrscope itself (no ``alembic.ini``).

``env.py`` runs the revisions in ``versions/`` on the connection
:mod:`lrscope.store._migrate` hands it, inside that connection's transaction;
Alembic's version table is ``lrscope_alembic_version``. Each revision is one
schema version and records it in ``lrscope_meta.schema_version`` (which is
what an older lrscope reads to refuse a newer store):

====================  ======  ==============================================
revision              schema  what it does
====================  ======  ==============================================
``0001_baseline``     1       the tables of lrscope 0.1.0 (creates those missing)
``0002_provenance``   2       ``sources``; ``source_id`` on tasks, trials,
                              range tests and interpolations;
                              ``tasks.fingerprint`` (filled);
                              ``trials.metrics``
====================  ======  ==============================================

A new revision: add ``versions/vNNNN_<name>.py`` with ``revision``,
``down_revision``, ``SCHEMA_VERSION`` and an ``upgrade()`` that works on
SQLite and PostgreSQL inside one transaction (no SQLite batch copies of
tables; constraints inline), change :mod:`lrscope.store._schema` to match
(``SCHEMA_VERSION``, ``HEAD_REVISION``, the models) and run
``tests/store/test_store_migrations.py``: it checks that the migrations give
exactly the models' tables and that the store of lrscope 0.1.0 in
``tests/store/fixtures`` still opens and ranks the same. There are no
downgrades: a newer store is refused by an older lrscope, and the backup
copy taken before a SQLite upgrade is the way back.
"""
