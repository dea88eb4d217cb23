"""Schema migrations: the store of lrscope 0.1.0 opens, upgrades once, and ranks the same.

``fixtures/store_v1.db`` was written by lrscope 0.1.0 (schema 1) with real
``digits-mlp`` trials; ``fixtures/store_v1.json`` holds what that release
printed for it. Every later schema must keep these tests passing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.errors import StoreError
from lrscope.store import SCHEMA_VERSION, Store, task_fingerprint
from lrscope.store._db import parse_url
from lrscope.store._schema import HEAD_REVISION, REVISIONS, Base
from pg_testlib import fresh_pg_schema_url, pg_base_url
from store_testlib import (
    STORE_V1,
    STORE_V1_EXPECTED,
    build_v1_store,
    sqlite_dump,
    store_v1_copy,
    subprocess_env,
)

EXPECTED = json.loads(STORE_V1_EXPECTED.read_text())
runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def v1_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The lrscope 0.1.0 store: a copy of the SQLite file, or its rows in PostgreSQL."""
    if request.param == "sqlite":
        yield store_v1_copy(tmp_path)
        return
    for url in fresh_pg_schema_url(pg_base_url()):
        build_v1_store(url)
        yield url


def _cli_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _schema_drift(url: str) -> list[object]:
    """Alembic's comparison of the database's tables with the models (empty: identical)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(parse_url(url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        drift = [d for d in compare_metadata(context, Base.metadata) if "alembic" not in str(d)]
    engine.dispose()
    return drift


def _ranked_as_before(rows: object, before: list[dict[str, object]]) -> None:
    """The ranked rows carry every field 0.1.0 printed, with its values, in its order.

    Later releases add fields (``eval_every``, ``apart``) and list the rows
    shown apart after the ranked ones (0.1.0 left the pruned trial out).
    """
    assert isinstance(rows, list)
    ranked = [row for row in rows if row["rank"] is not None]
    assert len(ranked) == len(before)
    assert [
        {key: row[key] for key in old} for row, old in zip(ranked, before, strict=True)
    ] == before


def test_the_store_of_lrscope_0_1_opens_and_ranks_the_same(v1_url: str) -> None:
    upgraded = _cli_json("db", "upgrade", "--db", v1_url)
    assert upgraded["upgraded"]["from_version"] == 1  # type: ignore[index]
    # 0.1.0's rule: by the metric alone (--tie 0); its default metric was best_top1
    rank = ("rank", "--task", "digits-mlp", "--tie", "0", "--db", v1_url)
    _ranked_as_before(_cli_json(*rank, "--metric", "best_top1"), EXPECTED["rank"])
    _ranked_as_before(_cli_json(*rank, "--metric", "top1"), EXPECTED["rank_top1"])
    info = _cli_json("db", "info", "--db", v1_url)
    assert isinstance(info, dict)
    old = EXPECTED["info"]
    assert {k: v for k, v in info["counts"].items() if k != "sources"} == old["counts"]
    assert info["counts"]["sources"] == 0
    assert info["trials_by_status"] == old["trials_by_status"]
    assert (info["created_at"], info["schema_version"]) == (old["created_at"], SCHEMA_VERSION)
    with Store.open(v1_url, readonly=True) as store:
        (task,) = store.tasks()
        assert task.metadata is not None
        assert task.fingerprint == task_fingerprint(task.metadata)
        finished = [t for t in store.trials() if t.finished]
        assert len(finished) == 9
        assert all(t.to_result().key == t.key for t in finished)  # results still read back
        assert all(t.source_id is None and t.metrics == {} for t in finished)


def test_an_upgraded_store_has_exactly_the_tables_of_the_models(v1_url: str) -> None:
    with Store.open(v1_url):
        pass
    assert _schema_drift(v1_url) == []


def test_a_new_store_has_exactly_the_tables_of_the_models(db_url: str) -> None:
    with Store.open(db_url):
        pass
    assert _schema_drift(db_url) == []


def test_the_head_revision_is_the_schema_version() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "lrscope.store:migrations")
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD_REVISION
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert tuple(chain) == REVISIONS
    assert len(REVISIONS) == SCHEMA_VERSION


def test_an_upgrade_keeps_a_backup_next_to_the_file(tmp_path: Path) -> None:
    url = store_v1_copy(tmp_path)
    with Store.open(url) as store:
        assert store.upgrade is not None
        backup = Path(store.upgrade.backup or "")
    assert backup.parent == tmp_path
    assert backup.name.startswith("store_v1.schema1-backup-")
    assert backup.suffix == ".db"
    assert sqlite_dump(backup) == sqlite_dump(STORE_V1)
    with Store.open(url) as store:
        assert store.upgrade is None  # once
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [backup.name]


def test_an_upgrade_that_fails_leaves_the_store_as_it_was(
    v1_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrscope.store._identity as identity

    def broken(metadata: object) -> str:
        raise StoreError("the upgrade broke half-way")

    before = _tables(v1_url)
    monkeypatch.setattr(identity, "task_fingerprint", broken)
    with pytest.raises(StoreError, match="the upgrade broke half-way"):
        Store.open(v1_url)
    assert _tables(v1_url) == before  # no sources table, no new column, version 1
    monkeypatch.undo()
    with Store.open(v1_url) as store:
        assert store.upgrade is not None
        assert len(store.trials()) == 10


def _tables(url: str) -> dict[str, object]:
    engine = create_engine(parse_url(url))
    with engine.connect() as connection:
        names = sorted(inspect(connection).get_table_names())
        columns = {n: sorted(c["name"] for c in inspect(connection).get_columns(n)) for n in names}
        version = connection.execute(
            text("SELECT value FROM lrscope_meta WHERE key = 'schema_version'")
        ).scalar()
    engine.dispose()
    return {"columns": columns, "version": version}


def test_two_processes_opening_an_old_store_upgrade_it_once(v1_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = (
        "import pathlib, sys, time\n"
        "from lrscope.store import Store\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.001)\n"
        "with Store.open(sys.argv[1]) as s:\n"
        "    print('upgraded' if s.upgrade else 'current', len(s.trials()))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, v1_url, str(go)],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(out.strip() for out, _ in outputs) == ["current 10", "upgraded 10"]
    assert sum("upgraded the store" in err for _, err in outputs) == 1
    if v1_url.startswith("sqlite"):
        assert len([p for p in tmp_path.iterdir() if "backup" in p.name]) == 1


def test_a_read_only_open_never_upgrades(v1_url: str) -> None:
    before = _tables(v1_url)
    with pytest.raises(StoreError) as caught:
        Store.open(v1_url, readonly=True)
    assert f"has schema version 1 and this lrscope reads version {SCHEMA_VERSION}" in str(
        caught.value
    )
    assert "lrscope db upgrade --db" in str(caught.value)
    assert _tables(v1_url) == before


def test_a_backup_that_cannot_be_written_stops_the_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrscope.store._migrate as migrate

    url = store_v1_copy(tmp_path)
    before = sqlite_dump(tmp_path / "store_v1.db")
    monkeypatch.setattr(migrate, "backup_path", lambda path, version: tmp_path / "no" / "x.db")
    with pytest.raises(StoreError, match=r"its backup copy .* cannot be written .* unchanged"):
        Store.open(url)
    assert sqlite_dump(tmp_path / "store_v1.db") == before
