"""Damaged stored rows (issue 16, A): rank and report show the rest and name the bad row.

A row edited by hand or damaged on disk (a curve that is no list of points,
text where a number belongs, JSON that no longer decodes, a document that is
no object) used to crash ``rank`` and ``report``. Now each command exits 0,
shows every other row, prints one ``warning:`` line naming the row (and the
report a note on the page), and leaves the store as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fault_testlib import execute, invoke, table_rows, url
from lrscope.store import Store, UnreadableRowError

DAMAGE = {
    "a curve that is text": ("UPDATE trials SET curve = '\"garbage\"' WHERE id = 1",
                             "trial 1", "its curve is str 'garbage'"),
    "a curve of numbers": ("UPDATE trials SET curve = '[1, 2]' WHERE id = 1",
                           "trial 1", "point 0 of its curve is int 1"),
    "a curve step that is text": ("UPDATE trials SET curve = '[{\"step\": \"x\"}]' WHERE id = 1",
                                  "trial 1", "has step str 'x'"),
    "a curve value that is text": (
        "UPDATE trials SET curve = '[{\"step\": 1, \"top1\": \"high\"}]' WHERE id = 1",
        "trial 1", "has top1 str 'high'"),
    "a curve that is no JSON": ("UPDATE trials SET curve = 'not json' WHERE id = 1",
                                "trial 1", "text that is not JSON"),
    "a metric that is text": ("UPDATE trials SET top1 = 'abc' WHERE id = 2",
                              "trial 2", "its top1 is str 'abc'"),
    "a seed that is text": ("UPDATE trials SET seed = 'abc' WHERE id = 3",
                            "trial 3", "its seed is str 'abc'"),
    "metrics that are a list": ("UPDATE trials SET metrics = '[1]' WHERE id = 1",
                                "trial 1", "its metrics are list"),
    "metrics that are no JSON": ("UPDATE trials SET metrics = '{not json' WHERE id = 1",
                                 "trial 1", "its metrics are text that is not JSON"),
    "a best_iter below 0": ("UPDATE trials SET best_iter = -5 WHERE id = 1",
                            "trial 1", "its best_iter is -5, outside [0, "),
    "a steps_done past the steps": ("UPDATE trials SET steps_done = steps + 1 WHERE id = 1",
                                    "trial 1", "its steps_done is "),
}  # fmt: skip
DOCUMENTS = {
    "range-test params that are a list": ("UPDATE range_tests SET params = '[1]'",
                                          "range test 1", "its params is list"),
    "a range-test result that is a list": ("UPDATE range_tests SET result = '[1]'",
                                           "range test 1", "its result is list"),
    "a range-test result that is no JSON": ("UPDATE range_tests SET result = '{'",
                                            "range test 1", "not JSON"),
    "an interpolation that is a number": ("UPDATE interpolations SET data = '5'",
                                          "interpolation 1", "its data is int 5"),
    "task metadata that is a list": ("UPDATE tasks SET metadata = '[1]'",
                                     "the metadata of task 'tiny-blobs'", "it is list [1]"),
}  # fmt: skip


def _rank(db: Path) -> tuple[int, list[dict[str, object]], list[str]]:
    result = invoke("rank", "--task", "tiny-blobs", "--db", url(db), "--json")
    assert "Traceback" not in result.output
    rows = json.loads(result.stdout) if result.exit_code == 0 else []
    return result.exit_code, rows, result.stderr.splitlines()


@pytest.mark.parametrize("case", DAMAGE)
def test_rank_leaves_out_a_damaged_trial(case: str, stored: Path) -> None:
    statement, row, problem = DAMAGE[case]
    db = stored / "lrscope.db"
    _, intact, _ = _rank(db)
    execute(db, statement)
    before = table_rows(db)
    code, rows, warnings = _rank(db)
    assert code == 0
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {row} (")
    assert problem in warnings[0]
    assert "left out of the ranking" in warnings[0]
    assert [r["spec"] for r in rows]
    assert {r["spec"] for r in rows} == {r["spec"] for r in intact}
    assert sum(int(r["n"]) for r in rows) == sum(int(r["n"]) for r in intact) - 1  # type: ignore[call-overload]
    assert table_rows(db) == before


@pytest.mark.parametrize("case", [*DAMAGE, *DOCUMENTS])
def test_the_report_leaves_out_a_damaged_row(case: str, stored: Path) -> None:
    statement, row, problem = {**DAMAGE, **DOCUMENTS}[case]
    db = stored / "lrscope.db"
    execute(db, statement)
    before = table_rows(db)
    out = stored / "report.html"
    result = invoke("report", "--db", url(db), "-o", str(out))
    assert result.exit_code == 0, result.output
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"warning: {row}")
    assert problem in warnings[0]
    page = out.read_text(encoding="utf-8")
    assert "left out of this page" in page
    assert "tiny-blobs" in page
    assert "TRI(k0=0.01, k1=0.1, l=6)" in page
    assert table_rows(db) == before


def test_a_spec_that_no_longer_parses(stored: Path) -> None:
    db = stored / "lrscope.db"
    execute(db, "UPDATE trials SET spec = 'WOBBLE(k0=1)' WHERE spec = 'FIX(k0=0.05)'")
    code, rows, warnings = _rank(db)
    assert code == 0
    assert warnings == []
    assert {r["spec"] for r in rows} == {"WOBBLE(k0=1)", "TRI(k0=0.01, k1=0.1, l=6)"}
    out = stored / "r.html"
    result = invoke("report", "--db", url(db), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "The lr curve of &#x27;WOBBLE(k0=1)&#x27; is not drawn" in out.read_text("utf-8")


def test_other_readers_name_the_damaged_row(stored: Path) -> None:
    """Without ``on_unreadable`` the store raises one StoreError naming the row."""
    db = stored / "lrscope.db"
    execute(db, "UPDATE trials SET curve = 'not json' WHERE id = 2")
    with Store.open(url(db)) as store:
        with pytest.raises(UnreadableRowError, match=r"trial 2 \(.*\) cannot be read") as info:
            store.trials()
        assert (info.value.table, info.value.row_id) == ("trials", 2)
        skipped: list[UnreadableRowError] = []
        assert len(store.trials(on_unreadable=skipped.append)) == len(table_rows(db)["trials"]) - 1
        assert [e.row_id for e in skipped] == [2]


def test_recommend_leaves_out_a_damaged_trial_and_says_which(stored: Path) -> None:
    """``recommend`` reads every task's trials: the damaged one is named and left out."""
    db = stored / "lrscope.db"
    execute(db, "UPDATE trials SET top1 = 'abc' WHERE id = 1")
    before = table_rows(db)
    result = invoke("recommend", "--task", "mnist1d-cnn", "--no-range-test", "--db", url(db))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("warning: trial 1 (")
    assert "its top1 is str 'abc'" in warnings[0]
    assert "left out of the recommendation" in warnings[0]
    assert table_rows(db) == before


@pytest.mark.parametrize("case", [*DAMAGE, *DOCUMENTS])
def test_export_leaves_out_a_damaged_row_and_the_file_imports(case: str, stored: Path) -> None:
    """``db export`` writes every readable row, names the damaged one, and the file is valid."""
    statement, row, problem = {**DAMAGE, **DOCUMENTS}[case]
    db = stored / "lrscope.db"
    execute(db, statement)
    before = table_rows(db)
    out = stored / "all.jsonl"
    result = invoke("db", "export", "-o", str(out), "--db", url(db), "--json")
    assert result.exit_code == 0, result.output
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"warning: {row}")
    assert problem in warnings[0]
    assert "left out of the export" in warnings[0]
    assert json.loads(result.stdout)["left_out"] == 1
    assert table_rows(db) == before
    fresh = stored / "fresh.db"
    imported = invoke("db", "import", str(out), "--db", url(fresh), "--json")
    assert imported.exit_code == 0, imported.output
    intact = len(before["trials"]) - (row.startswith("trial "))
    assert len(table_rows(fresh)["trials"]) == intact


def test_export_through_the_api_refuses_a_damaged_row_and_writes_no_file(stored: Path) -> None:
    from lrscope.store.exchange import export_store

    db = stored / "lrscope.db"
    execute(db, "UPDATE trials SET metrics = '{not json' WHERE id = 2")
    out = stored / "all.jsonl"
    with Store.open(url(db), readonly=True) as store:
        with pytest.raises(UnreadableRowError, match=r"trial 2 \(.*\) cannot be read"):
            export_store(store, out)
        assert not out.exists()
        assert not list(stored.glob(".all.jsonl.*"))
        left_out: list[UnreadableRowError] = []
        summary = export_store(store, out, on_unreadable=left_out.append)
    assert [e.row_id for e in left_out] == [2]
    assert summary.left_out == 1
    assert summary.records["trial"] == len(table_rows(db)["trials"]) - 1


def test_merge_leaves_out_a_damaged_row_of_the_source(stored: Path) -> None:
    db = stored / "lrscope.db"
    execute(db, "UPDATE trials SET curve = 'not json' WHERE id = 1")
    target = stored / "target.db"
    result = invoke("db", "merge", "--from", url(db), "--db", url(target))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "left out of the merge" in warnings[0]
    assert len(table_rows(target)["trials"]) == len(table_rows(db)["trials"]) - 1
