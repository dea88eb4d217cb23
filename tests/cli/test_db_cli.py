"""``lrscope db``: info, upgrade, export, import and merge from the command line."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.store import SCHEMA_VERSION, Store
from pg_testlib import fresh_pg_schema_url, pg_base_url

runner = CliRunner()
FIXTURE = Path(__file__).parents[1] / "store" / "fixtures" / "store_v1.db"


@dataclass(frozen=True)
class _Key:
    task: str
    spec: str
    seed: int
    steps: int = 10
    eval_every: int = 5


def _result(key: _Key, top1: float) -> dict[str, object]:
    return {
        "task": key.task, "spec": key.spec, "seed": key.seed, "steps": key.steps,
        "eval_every": key.eval_every, "top1": top1, "top5": 1.0, "best_top1": top1,
        "best_iter": key.steps, "ac": 0.9, "cd": 0.1, "cdac": 0.05, "ld": 0.2, "n_params": 1,
        "wall_s": 0.5, "steps_done": key.steps, "diverged": False, "diverged_at": None,
        "curve": [{"step": key.steps, "lr": 0.1, "train_loss": 0.3, "test_loss": 0.4,
                   "top1": top1, "top5": 1.0}],
    }  # fmt: skip


def _fill(url: str) -> None:
    with Store.open(url) as store:
        store.put_task("mnist1d-cnn", {"dataset": "mnist1d"})
        store.start_trial(_Key("mnist1d-cnn", "FIX(k0=0.1)", 0))  # released as failed on close
        store.put_range_test("mnist1d-cnn", {"lr": [0.1], "loss": [float("nan")]})


def _measured(url: str, top1: float = 0.75, seeds: int = 2) -> None:
    with Store.open(url) as store:
        store.put_task("digits-mlp", {"dataset": "digits", "model_family": "mlp"})
        for seed in range(seeds):
            key = _Key("digits-mlp", "FIX(k0=0.1)", seed)
            trial_id = store.start_trial(key)
            assert trial_id is not None
            store.finish_trial(trial_id, _result(key, top1))


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    _fill(url)
    return url


def _one_line_error(result: object, *parts: str) -> str:
    assert getattr(result, "exit_code", None) == 2
    assert getattr(result, "stdout", None) == ""
    message = str(getattr(result, "stderr", ""))
    assert message.startswith("error: ")
    assert message.count("\n") == 1
    assert "Traceback" not in message
    for part in parts:
        assert part in message
    return message


def test_info_json_has_url_schema_and_counts(db_file: str) -> None:
    result = runner.invoke(app, ["db", "info", "--db", db_file, "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["url"] == db_file
    assert info["dialect"] == "sqlite"
    assert (info["schema_version"], info["readonly"]) == (SCHEMA_VERSION, True)
    assert info["counts"] == {
        "tasks": 1, "policies": 1, "trials": 1, "range_tests": 1, "interpolations": 0,
        "sources": 0,
    }  # fmt: skip
    assert info["imported"] == {"tasks": 0, "trials": 0, "range_tests": 0, "interpolations": 0}
    assert info["trials_by_status"] == {
        "running": 0,
        "done": 0,
        "diverged": 0,
        "pruned": 0,
        "failed": 1,
    }
    assert info["sources"] == []
    assert result.stderr == ""


def test_info_for_humans_names_url_version_and_counts(db_file: str) -> None:
    result = runner.invoke(app, ["db", "info", "--db", db_file])
    assert result.exit_code == 0, result.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert rows["url"] == db_file
    assert rows["schema version"] == f"{SCHEMA_VERSION} (this lrscope: {SCHEMA_VERSION})"
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
    _one_line_error(result, "no database file at")
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
    message = _one_line_error(result, expected)
    assert "s3cret" not in message


def _set_version(url: str, version: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE lrscope_meta SET value = :v WHERE key = 'schema_version'"), {"v": version}
        )
    engine.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ["db", "info"],
        ["db", "upgrade"],
        ["db", "export", "-o", "out.jsonl"],
        ["rank", "--task", "mnist1d-cnn"],
        ["report", "-o", "page.html"],
        ["recommend", "--task", "digits-mlp", "--no-range-test"],
    ],
)
def test_a_store_from_the_future_exits_2_with_upgrade_advice(
    db_file: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _set_version(db_file, "7")
    before = Path(db_file.removeprefix("sqlite:///")).read_bytes()
    result = runner.invoke(app, [*command, "--db", db_file])
    _one_line_error(
        result,
        f"schema version 7, which is newer than this lrscope supports ({SCHEMA_VERSION}); "
        "upgrade lrscope",
    )
    assert Path(db_file.removeprefix("sqlite:///")).read_bytes() == before
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "page.html").exists()


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_upgrade_migrates_a_store_of_lrscope_0_1_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    url = f"sqlite:///{path}"
    refused = runner.invoke(app, ["rank", "--task", "digits-mlp", "--db", url])
    _one_line_error(refused, "schema version 1", f"lrscope db upgrade --db {url}")
    assert path.read_bytes() == FIXTURE.read_bytes()  # read-only commands never upgrade
    result = runner.invoke(app, ["db", "upgrade", "--db", url, "--json"])
    assert result.exit_code == 0, result.stderr
    done = json.loads(result.stdout)["upgraded"]
    assert (done["from_version"], done["to_version"]) == (1, SCHEMA_VERSION)
    assert _dump(Path(done["backup"])) == _dump(FIXTURE)  # the same rows and schema
    assert Path(done["backup"]).parent == tmp_path
    assert "old.schema1-backup-" in done["backup"]
    again = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert again.exit_code == 0, again.stderr
    assert f"at schema version {SCHEMA_VERSION} already: nothing to do" in again.stdout


def test_export_import_and_merge_round_trip(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'lab.db'}"
    _measured(source)
    target = f"sqlite:///{tmp_path / 'mine.db'}"
    out = tmp_path / "lab.jsonl.gz"
    result = runner.invoke(app, ["db", "export", "-o", str(out), "--db", source, "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["compressed"] is True
    assert summary["records"]["trial"] == 2
    with gzip.open(out, "rt") as handle:
        header = json.loads(handle.readline())
    assert (header["format"], header["store"]) == ("lrscope-export", source)
    first = runner.invoke(app, ["db", "import", str(out), "--db", target, "--json"])
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["added"]["trial"] == 2
    second = runner.invoke(app, ["db", "import", str(out), "--db", target])
    assert second.exit_code == 0, second.stderr
    assert "added nothing" in second.stdout
    merged = runner.invoke(app, ["db", "merge", "--from", source, "--db", target, "--json"])
    assert merged.exit_code == 0, merged.stderr
    assert sum(json.loads(merged.stdout)["added"].values()) == 0
    info = json.loads(runner.invoke(app, ["db", "info", "--db", target, "--json"]).stdout)
    assert info["imported"]["trials"] == 2
    assert [s["store"] for s in info["sources"]] == [source]


def test_import_reports_conflicts_and_keeps_the_stored_result(tmp_path: Path) -> None:
    lab, mine = f"sqlite:///{tmp_path / 'lab.db'}", f"sqlite:///{tmp_path / 'mine.db'}"
    _measured(lab, top1=0.75)
    _measured(mine, top1=0.5, seeds=1)
    out = tmp_path / "lab.jsonl"
    assert runner.invoke(app, ["db", "export", "-o", str(out), "--db", lab]).exit_code == 0
    result = runner.invoke(app, ["db", "import", str(out), "--db", mine])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "import of lab.jsonl: added 1 trial; 2 records already stored; 1 conflict (not merged)\n"
    )
    assert re.search(
        r"conflict: line \d+, trial 'digits-mlp' / 'FIX\(k0=0.1\)' / seed 0 .*top1 0.5 stored, "
        r"0.75 in the file.*the stored one is kept",
        result.stderr,
    )
    with Store.open(mine, readonly=True) as store:
        assert sorted((t.seed, t.top1) for t in store.trials()) == [(0, 0.5), (1, 0.75)]


def test_a_malformed_file_exits_2_naming_the_record_and_writes_nothing(tmp_path: Path) -> None:
    lab = f"sqlite:///{tmp_path / 'lab.db'}"
    _measured(lab)
    out = tmp_path / "lab.jsonl"
    assert runner.invoke(app, ["db", "export", "-o", str(out), "--db", lab]).exit_code == 0
    lines = out.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if '"seed":1' in line)
    lines[number - 1] = lines[number - 1].replace('"top1":0.75', '"top1":"0.75"', 1)
    out.write_text("\n".join(lines) + "\n")
    target = tmp_path / "mine.db"
    result = runner.invoke(app, ["db", "import", str(out), "--db", f"sqlite:///{target}"])
    _one_line_error(
        result,
        f"invalid export file 'lab.jsonl': line {number} (trial 'digits-mlp' / "
        "'FIX(k0=0.1)' / seed 1 / 10 steps / eval every 5): result.top1 must be a number",
        "nothing was imported",
    )
    assert not target.exists()


def test_export_refuses_to_replace_the_store_or_another_file(db_file: str, tmp_path: Path) -> None:
    store_path = db_file.removeprefix("sqlite:///")
    before = Path(store_path).read_bytes()
    result = runner.invoke(app, ["db", "export", "-o", store_path, "--db", db_file])
    _one_line_error(result, "is the store itself")
    assert Path(store_path).read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = runner.invoke(app, ["db", "export", "-o", str(notes), "--db", db_file])
    _one_line_error(result, "exists and is not an lrscope export")
    assert notes.read_text() == "my notes\n"
    bad_since = runner.invoke(app, ["db", "export", "-o", "x.jsonl", "--since", "yesterday",
                                    "--db", db_file])  # fmt: skip
    _one_line_error(bad_since, "'since'", "ISO 8601")


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_pg_schema_url(pg_base_url())


@pytest.mark.postgres
def test_info_on_postgresql(pg_url: str) -> None:
    _fill(pg_url)
    result = runner.invoke(app, ["db", "info", "--db", pg_url, "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["dialect"], info["driver"], info["path"]) == ("postgresql", "psycopg", None)
    assert info["counts"]["trials"] == 1
    assert info["schema_version"] == SCHEMA_VERSION


def test_a_dry_run_says_what_would_be_added_and_creates_nothing(tmp_path: Path) -> None:
    lab = f"sqlite:///{tmp_path / 'lab.db'}"
    _measured(lab)
    out = tmp_path / "lab.jsonl"
    assert runner.invoke(app, ["db", "export", "-o", str(out), "--db", lab]).exit_code == 0
    target = tmp_path / "new.db"
    result = runner.invoke(
        app, ["db", "import", str(out), "--dry-run", "--db", f"sqlite:///{target}"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "import of lab.jsonl: would add 1 task, 1 policy, 2 trials; 0 records already stored\n"
    )
    assert not target.exists()
    again = runner.invoke(app, ["db", "import", str(out), "--dry-run", "--db", lab, "--json"])
    assert json.loads(again.stdout)["duplicates"]["trial"] == 2
