"""Fixtures of the store tests: every test runs on SQLite and on PostgreSQL.

See ``tests/pg_testlib.py`` for how to point the PostgreSQL half at a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lrscope.store import Store
from pg_testlib import fresh_pg_schema_url, pg_base_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from fresh_pg_schema_url(pg_base_url())


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened
