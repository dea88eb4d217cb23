"""``lrscope db info``: URL (password hidden), schema version and counts."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.store import Store
from lrscope.store._db import parse_url

runner = CliRunner()


@dataclass(frozen=True)
class _Key:
    task: str
    spec: str
    seed: int
    steps: int = 10
    eval_every: int = 5


def _fill(url: str) -> None:
    with Store.open(url) as store:
        store.put_task("mnist1d-cnn", {"dataset": "mnist1d"})
        store.start_trial(_Key("mnist1d-cnn", "FIX(k0=0.1)", 0))  # released as failed on close
        store.put_range_test("mnist1d-cnn", {"lr": [0.1], "loss": [float("nan")]})


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    _fill(url)
    return url


def test_info_json_has_url_schema_and_counts(db_file: str) -> None:
    result = runner.invoke(app, ["db", "info", "--db", db_file, "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["url"] == db_file
    assert info["dialect"] == "sqlite"
    assert info["schema_version"] == 1
    assert info["counts"] == {
        "tasks": 1, "policies": 1, "trials": 1, "range_tests": 1, "interpolations": 0,
    }  # fmt: skip
    assert info["trials_by_status"] == {
        "running": 0,
        "done": 0,
        "diverged": 0,
        "pruned": 0,
        "failed": 1,
    }
    assert result.stderr == ""


def test_info_for_humans_names_url_version_and_counts(db_file: str) -> None:
    result = runner.invoke(app, ["db", "info", "--db", db_file])
    assert result.exit_code == 0, result.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert rows["url"] == db_file
    assert rows["schema version"] == "1 (this lrscope: 1)"
    assert rows["trials"] == "1"
    assert rows["range_tests"] == "1"
    assert rows["trials by status"] == "0 running, 0 done, 0 diverged, 0 pruned, 1 failed"


def test_info_uses_lrscope_db_from_the_environment(
    db_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRSCOPE_DB", db_file)
    result = runner.invoke(app, ["db", "info", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["url"] == db_file


def test_info_on_a_missing_file_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "results.db"
    result = runner.invoke(app, ["db", "info", "--db", f"sqlite:///{path}", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: no database file at")
    assert result.stderr.count("\n") == 1
    assert not path.exists()
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("results.db", "did you mean sqlite:///results.db?"),
        ("mysql://me:s3cret@host/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg://me:s3cret@127.0.0.1:1/db?connect_timeout=2", "cannot open"),
    ],
)
def test_bad_or_unreachable_databases_exit_2_without_password(url: str, expected: str) -> None:
    result = runner.invoke(app, ["db", "info", "--db", url])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert expected in result.stderr
    assert "s3cret" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1


def test_a_newer_schema_exits_2_with_upgrade_advice(db_file: str) -> None:
    engine = create_engine(db_file)
    with engine.begin() as connection:
        connection.execute(text("UPDATE lrscope_meta SET value = '7' WHERE key = 'schema_version'"))
    engine.dispose()
    result = runner.invoke(app, ["db", "info", "--db", db_file])
    assert result.exit_code == 2
    assert "schema version 7, which is newer than this lrscope supports (1); upgrade lrscope" in (
        result.stderr
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("LRSCOPE_TEST_PG_URL")
    if not base:
        pytest.skip("$LRSCOPE_TEST_PG_URL is not set: no PostgreSQL server to test against")
    parsed = parse_url(base)
    schema = f"lrscope_cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.mark.postgres
def test_info_on_postgresql(pg_url: str) -> None:
    _fill(pg_url)
    result = runner.invoke(app, ["db", "info", "--db", pg_url, "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["dialect"], info["driver"], info["path"]) == ("postgresql", "psycopg", None)
    assert info["counts"]["trials"] == 1
    assert info["schema_version"] == 1
