"""A real PostgreSQL for the tests: the server's URL and a fresh schema per test.

PostgreSQL tests need ``$LRSCOPE_TEST_PG_URL`` (CI's ``.ci/run`` starts the
local PostgreSQL 15 cluster and sets it). Locally::

    pg_ctlcluster 15 main start
    runuser -u postgres -- createuser -s root
    createdb -h /var/run/postgresql lrscope_dev
    export LRSCOPE_TEST_PG_URL='postgresql+psycopg://root@/lrscope_dev?host=/var/run/postgresql'

Each PostgreSQL test gets a fresh schema (``search_path`` set through the URL's
``options``), dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from lrscope.store._db import parse_url

PG_ENV = "LRSCOPE_TEST_PG_URL"
PG_SKIP_REASON = (
    f"${PG_ENV} is not set: no PostgreSQL server to test against "
    "(CI's .ci/run starts one and sets it; see tests/pg_testlib.py to run one locally)"
)


def pg_base_url() -> str:
    """The server's URL, or skip the test saying why."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP_REASON)
    return url


def fresh_pg_schema_url(base: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a new empty schema; the schema is dropped after."""
    parsed = parse_url(base)
    schema = f"lrscope_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
