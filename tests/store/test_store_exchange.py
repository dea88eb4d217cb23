"""Export, import and merge: round trips, deduplication, conflicts, filters, provenance."""

from __future__ import annotations

import gzip
import html
import json
import math
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from lrscope.errors import ParameterError, StoreError
from lrscope.store import Store, TrialRecord
from lrscope.store._db import parse_url
from lrscope.store.exchange import export_store, import_file, merge_store, read_export
from pg_testlib import fresh_pg_schema_url, pg_base_url
from store_testlib import META, Key, claim, fill, result_dict


def lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw) if path.suffix == ".gz" else raw
    # JSON Lines end at "\n" only (str.splitlines would also cut at U+0085 and U+2028)
    return [json.loads(line) for line in text.decode("utf-8").split("\n") if line]


def records(path: Path) -> list[str]:
    """The file's records with each ``source`` resolved to its origin, sorted.

    The round trip property: the data of every record and where it was
    measured are the same; only the header (who exported, when) and the
    numbering of source lines may differ.
    """
    every = lines(path)
    header = every[0]
    sources = {s["id"]: s for s in every if s["type"] == "source"}
    out = []
    for record in every:
        if record["type"] in ("header", "end", "source"):
            continue
        if "source" in record:  # policies have no provenance
            origin = header if record["source"] is None else sources[record["source"]]
            where = ("store", "host", "lrscope_version", "exported_at")
            record = {**record, "source": [origin[k] for k in where]}
        out.append(json.dumps(record, sort_keys=True))
    return sorted(out)


def counts(url: str) -> dict[str, int]:
    with Store.open(url, readonly=True) as store:
        return dict(store.info().counts)


def same_trials(a: list[TrialRecord], b: list[TrialRecord]) -> None:
    """Equal keys, statuses, metrics, metric maps and curves (NaN equal to NaN)."""

    def comparable(t: TrialRecord) -> str:
        data = t.result_dict() if t.finished else {"error": t.error}
        data = {**data, "status": t.status, "key": list(t.key.__dict__.values())}
        return json.dumps(data, sort_keys=True, default=str).replace("NaN", "null")

    assert sorted(map(comparable, a)) == sorted(map(comparable, b))


@pytest.fixture
def lab(db_url: str) -> str:
    """A store (SQLite or PostgreSQL) holding :func:`fill`'s records."""
    with Store.open(db_url) as store:
        fill(store)
    return db_url


def test_export_import_export_gives_the_same_records(lab: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl.gz"
    with Store.open(lab, readonly=True) as store:
        summary = export_store(store, first)
        original = store.trials()
    assert summary.records == {"source": 0, "task": 1, "policy": 5, "trial": 6,
                               "range_test": 1, "interpolation": 1}  # fmt: skip
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    with Store.open(copy) as store:
        imported = import_file(store, first)
        export_store(store, second)
        copied = store.trials()
    assert imported.added == {**summary.records, "source": 1}
    assert records(first) == records(second)
    same_trials(original, copied)
    assert all(t.source_id is not None for t in copied)
    assert {t.key: dict(t.metrics) for t in copied if t.metrics} == {
        t.key: dict(t.metrics) for t in original if t.metrics
    }


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back_keeps_trials_curves_and_metrics(tmp_path: Path) -> None:
    sqlite_a, sqlite_c = (f"sqlite:///{tmp_path / n}.db" for n in ("a", "c"))
    with Store.open(sqlite_a) as store:
        fill(store)
        export_store(store, tmp_path / "a.jsonl")
        original = store.trials()
    for pg in fresh_pg_schema_url(pg_base_url()):
        with Store.open(pg) as store:
            import_file(store, tmp_path / "a.jsonl")
            export_store(store, tmp_path / "pg.jsonl")
            same_trials(original, store.trials())
    with Store.open(sqlite_c) as store:
        summary = import_file(store, tmp_path / "pg.jsonl")
        export_store(store, tmp_path / "c.jsonl")
        same_trials(original, store.trials())
        (source,) = store.sources()
    assert summary.added["trial"] == 6
    assert records(tmp_path / "a.jsonl") == records(tmp_path / "pg.jsonl")
    assert records(tmp_path / "a.jsonl") == records(tmp_path / "c.jsonl")
    assert source.store == sqlite_a  # measured in A: the relay through PostgreSQL is not it


def test_importing_the_same_file_twice_adds_nothing(lab: str, tmp_path: Path) -> None:
    path = tmp_path / "lab.jsonl"
    with Store.open(lab, readonly=True) as store:
        export_store(store, path)
    target = f"sqlite:///{tmp_path / 'mine.db'}"
    with Store.open(target) as store:
        first = import_file(store, path)
    after_first = counts(target)
    with Store.open(target) as store:
        again = import_file(store, path)
    assert first.total_added == sum(first.added.values()) > 0
    assert again.total_added == 0
    assert again.sources == ()
    assert sum(again.duplicates.values()) == first.total_added - first.added["source"]
    assert counts(target) == after_first


def test_importing_an_export_into_its_own_store_adds_nothing(lab: str, tmp_path: Path) -> None:
    with Store.open(lab) as store:
        export_store(store, tmp_path / "self.jsonl")
        before = counts(lab)
        summary = import_file(store, tmp_path / "self.jsonl")
    assert summary.total_added == 0
    assert summary.conflicts == ()
    assert counts(lab) == before


def test_a_different_result_under_the_same_key_is_a_conflict(tmp_path: Path) -> None:
    mine, theirs = (f"sqlite:///{tmp_path / n}.db" for n in ("mine", "theirs"))
    with Store.open(theirs) as store:
        fill(store, top1=0.5)
        export_store(store, tmp_path / "theirs.jsonl")
    with Store.open(mine) as store:
        store.put_task("blobs-mlp", META)
        key = Key("blobs-mlp", "FIX(k0=0.1)", 0)
        store.finish_trial(claim(store, key), result_dict(key, 0.875))
        failed = Key("blobs-mlp", "FIX(k0=0.1)", 1)
        store.fail_trial(claim(store, failed), "crashed here")
        summary = import_file(store, tmp_path / "theirs.jsonl")
        held = {t.seed: t for t in store.trials(spec="FIX(k0=0.1)")}
    (conflict,) = summary.conflicts
    assert conflict.record == "trial"
    assert (
        conflict.identity
        == "trial 'blobs-mlp' / 'FIX(k0=0.1)' / seed 0 / 100 steps / eval every 50"
    )
    assert "top1 0.875 stored, 0.5 in the file" in conflict.reason
    assert "the stored one is kept" in conflict.reason
    assert held[0].top1 == 0.875
    assert held[0].source_id is None
    assert held[1].status == "done"
    assert held[1].source_id is not None
    assert summary.added["trial"] == 5


def test_a_task_of_the_same_name_but_another_problem_is_not_merged(tmp_path: Path) -> None:
    mine, theirs = (f"sqlite:///{tmp_path / n}.db" for n in ("mine", "theirs"))
    with Store.open(theirs) as store:
        fill(store)
        fill(store, task="other-task")
        export_store(store, tmp_path / "theirs.jsonl")
    with Store.open(mine) as store:
        store.put_task("blobs-mlp", {**META, "train_size": 1000})
        summary = import_file(store, tmp_path / "theirs.jsonl")
        names = {t.task for t in store.trials()}
        (task,) = [t for t in store.tasks() if t.name == "blobs-mlp"]
    (conflict,) = summary.conflicts
    assert conflict.identity == "task 'blobs-mlp'"
    assert "train_size stored 1000, given 256" in conflict.reason
    assert "none of its records in the file are imported" in conflict.reason
    assert names == {"other-task"}
    assert task.metadata is not None
    assert task.metadata["train_size"] == 1000
    assert summary.skipped["trial"] == 6
    assert summary.skipped["range_test"] == summary.skipped["interpolation"] == 1


def test_a_task_stored_without_metadata_takes_the_imported_one(lab: str, tmp_path: Path) -> None:
    with Store.open(lab, readonly=True) as store:
        export_store(store, tmp_path / "lab.jsonl")
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    with Store.open(mine) as store:
        store.put_range_test("blobs-mlp", {"lr": [0.1]})  # creates the task without metadata
        summary = import_file(store, tmp_path / "lab.jsonl")
        (task,) = store.tasks()
    assert summary.conflicts == ()
    assert task.metadata == META
    assert task.source_id is None  # still the local task


def test_filters_choose_tasks_and_recent_records(lab: str, tmp_path: Path) -> None:
    with Store.open(lab) as store:
        fill(store, task="other-task")
    engine = create_engine(parse_url(lab))
    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE trials SET finished_at = :t WHERE task = 'other-task' AND seed = 0"),
            {"t": old},
        )
        connection.execute(text("UPDATE range_tests SET created_at = :t"), {"t": old})
    engine.dispose()
    with Store.open(lab, readonly=True) as store:
        only = export_store(store, tmp_path / "one.jsonl", tasks=["other-task"])
        recent = export_store(store, tmp_path / "recent.jsonl", since="2021-01-01")
        with pytest.raises(StoreError, match="no task 'nope' in the store"):
            export_store(store, tmp_path / "x.jsonl", tasks=["nope"])
        with pytest.raises(ParameterError, match="ISO 8601"):
            export_store(store, tmp_path / "x.jsonl", since="last week")
    assert {r["name"] for r in lines(tmp_path / "one.jsonl") if r["type"] == "task"} == {
        "other-task"
    }
    assert only.records["trial"] == 6
    assert recent.records["trial"] == 12 - 4  # other-task's 4 trials of seed 0 finished in 2020
    assert recent.records["range_test"] == 0
    header = lines(tmp_path / "recent.jsonl")[0]
    assert header["filters"] == {"tasks": None, "since": "2021-01-01T00:00:00+00:00"}


def test_provenance_names_the_store_that_measured_each_record(tmp_path: Path) -> None:
    a, b, c = (f"sqlite:///{tmp_path / n}.db" for n in "abc")
    with Store.open(a) as store:
        fill(store)
        export_store(store, tmp_path / "a.jsonl", include_host=False)
    with Store.open(b) as store:
        import_file(store, tmp_path / "a.jsonl")
        fill(store, task="b-task")
    with Store.open(c) as store:
        summary = merge_store(store, b)
        origins = {s.id: s for s in store.sources()}
        by_task = {t.task: origins[t.source_id or 0].store for t in store.trials()}
    assert summary.kind == "merge"
    assert by_task == {"blobs-mlp": a, "b-task": b}
    from_a = next(s for s in origins.values() if s.store == a)
    assert (from_a.kind, from_a.file, from_a.host) == ("import", "a.jsonl", None)
    from_b = next(s for s in origins.values() if s.store == b)
    assert (from_b.kind, from_b.file) == ("merge", None)


def test_a_dry_run_reports_and_writes_nothing(lab: str, tmp_path: Path) -> None:
    with Store.open(lab, readonly=True) as store:
        export_store(store, tmp_path / "lab.jsonl")
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    with Store.open(mine) as store:
        summary = import_file(store, tmp_path / "lab.jsonl", dry_run=True)
    assert summary.dry_run
    assert summary.added["trial"] == 6
    assert set(counts(mine).values()) == {0}


def test_an_export_replaces_only_an_export_and_appears_whole(lab: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / "lab.jsonl"
    with Store.open(lab, readonly=True) as store:
        export_store(store, target)
        first = target.read_text()
        export_store(store, target)  # an export may be replaced
        assert sorted(p.name for p in target.parent.iterdir()) == ["lab.jsonl"]
        target.write_text("my notes\n")
        with pytest.raises(StoreError, match="exists and is not an lrscope export"):
            export_store(store, target)
    assert target.read_text() == "my notes\n"
    assert first.startswith('{"type":"header","format":"lrscope-export","format_version":2,')


def test_the_report_shows_what_was_imported_and_from_where(lab: str, tmp_path: Path) -> None:
    from lrscope.report import build_report

    with Store.open(lab, readonly=True) as store:
        export_store(store, tmp_path / "lab.jsonl")
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    with Store.open(mine) as store:
        fill(store, task="local-task")
        import_file(store, tmp_path / "lab.jsonl")
        page = build_report(store)
    shown = html.escape(lab)
    assert f"imported from <code>{shown} on " in page
    assert f"Imported from {shown} on " in page
    assert "5 of 5 finished trials and 2 of 2 range tests and interpolations" in page
    assert "2 imp.</span>" in page  # FIX(k0=0.1): both seeds imported
    assert page.count("Imported from") == 1  # local-task was measured here


_finite = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
_maybe = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=64))


@st.composite
def _trial(draw: st.DrawFn, seed: int) -> tuple[Key, dict[str, object]]:
    spec = draw(st.sampled_from(["FIX(k0=0.1)", "COS(k0=0.5, k1=0.01, l=9)"]))
    key = Key("prop-task", spec, seed, draw(st.integers(1, 400)), draw(st.integers(1, 50)))
    data = result_dict(key, draw(_finite))
    data["ac"] = draw(st.one_of(_finite, st.just(math.nan)))
    data["ld"] = draw(_maybe)
    data["metrics"] = draw(st.dictionaries(st.text(min_size=1, max_size=8), _maybe, max_size=4))
    data["curve"] = [
        {"step": s, "lr": draw(_maybe), "train_loss": draw(_maybe), "test_loss": 1.0,
         "top1": draw(_finite), "top5": 1.0}
        for s in sorted(draw(st.sets(st.integers(0, key.steps), max_size=5)))
    ]  # fmt: skip
    return key, data


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), n=st.integers(1, 6))
def test_round_trip_of_generated_trials(tmp_path: Path, data: st.DataObject, n: int) -> None:
    trials = [data.draw(_trial(seed)) for seed in range(n)]
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    with Store.open("sqlite://") as source:
        for key, trial in trials:
            source.finish_trial(claim(source, key), trial)
        export_store(source, folder / "one.jsonl")
        original = source.trials()
    with Store.open("sqlite://") as copy:
        import_file(copy, folder / "one.jsonl")
        export_store(copy, folder / "two.jsonl")
        same_trials(original, copy.trials())
        again = import_file(copy, folder / "two.jsonl")
    assert records(folder / "one.jsonl") == records(folder / "two.jsonl")
    assert again.total_added == 0


def test_read_export_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no export file at"):
        read_export(tmp_path / "nothing.jsonl")


def test_the_example_of_the_format_document_is_a_valid_export(tmp_path: Path) -> None:
    document = (Path(__file__).parents[2] / "docs" / "export-format.md").read_text()
    example = document.split("## An example", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.jsonl"
    path.write_text(example)
    parsed = read_export(path)
    assert (parsed.header.store, parsed.header.host) == ("sqlite:////data/lab.db", "gpu-box")
    with Store.open("sqlite://") as store:
        summary = import_file(store, path)
        (trial,) = store.trials()
    assert summary.added["trial"] == 1
    assert math.isnan(trial.curve[0]["train_loss"])


@pytest.mark.parametrize("text", ["\x85", "\u2028", "\u2029", "\x1c", "\r", "é\x0b"])
def test_no_character_inside_a_record_can_break_its_line(text: str) -> None:
    """Every reader of JSON Lines sees one line per record (str.splitlines splits on more)."""
    from lrscope.store._export import dumps

    line = dumps({"type": "task", "name": f"a{text}b", "metrics": {text: 1.0}})
    assert line.isascii()
    assert len(line.splitlines()) == 1
    assert json.loads(line)["name"] == f"a{text}b"
