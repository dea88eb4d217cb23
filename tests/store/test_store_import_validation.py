"""Import treats a file as untrusted input: one bad record refuses the whole file.

Every case changes one line of a real export and checks that the import
fails with one line naming the file, the line, the record and what is
allowed, and that the store holds exactly what it held before.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lrscope.store import Store
from lrscope.store import _format as fmt
from lrscope.store.exchange import ExportFormatError, export_store, import_file
from store_testlib import fill

Lines = list[str]
TRIAL_0 = "trial 'blobs-mlp' / 'FIX(k0=0.1)' / seed 0 / 100 steps / eval every 50"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lines, Lines]:
    """Lines of an export, and of an export holding a source line (a relayed record)."""
    folder = tmp_path_factory.mktemp("exports")
    with Store.open("sqlite://") as store:
        fill(store)
        export_store(store, folder / "a.jsonl")
    with Store.open("sqlite://") as store:
        import_file(store, folder / "a.jsonl")
        export_store(store, folder / "b.jsonl")
    return (folder / "a.jsonl").read_text().splitlines(), (
        folder / "b.jsonl"
    ).read_text().splitlines()


def at(lines: Lines, predicate: Callable[[dict[str, object]], bool]) -> int:
    """Index of the first line whose record satisfies ``predicate``."""
    return next(i for i, line in enumerate(lines) if predicate(json.loads(line)))


def first_trial(record: dict[str, object]) -> bool:
    return record["type"] == "trial" and record["spec"] == "FIX(k0=0.1)" and record["seed"] == 0


def is_type(kind: str) -> Callable[[dict[str, object]], bool]:
    return lambda record: record["type"] == kind


Change = Callable[[Lines], tuple[Lines, int]]
"""Changes the lines of a file; returns them and the number of the changed line."""


def replace(where: Callable[[dict[str, object]], bool], old: str, new: str) -> Change:
    def change(lines: Lines) -> tuple[Lines, int]:
        i = at(lines, where)
        assert old in lines[i], (old, lines[i][:200])
        return [*lines[:i], lines[i].replace(old, new, 1), *lines[i + 1 :]], i + 1

    return change


def rewrite(
    where: Callable[[dict[str, object]], bool], edit: Callable[[dict[str, object]], None]
) -> Change:
    def change(lines: Lines) -> tuple[Lines, int]:
        i = at(lines, where)
        record = json.loads(lines[i])
        edit(record)
        return [*lines[:i], json.dumps(record), *lines[i + 1 :]], i + 1

    return change


def nest(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _duplicate_trial(lines: Lines) -> tuple[Lines, int]:
    i = at(lines, first_trial)
    end = json.loads(lines[-1])
    end["records"]["trial"] += 1
    return [*lines[: i + 1], lines[i], *lines[i + 1 : -1], json.dumps(end)], i + 2


def _range_test_before_trials(lines: Lines) -> tuple[Lines, int]:
    i = at(lines, is_type("range_test"))
    moved = lines[i]
    rest = [*lines[:i], *lines[i + 1 :]]
    j = at(rest, is_type("trial"))
    return [*rest[:j], moved, *rest[j:]], j + 2  # the first trial, after the range test


CASES: dict[str, tuple[Change, str, str]] = {
    # name: (change, record named in the message, what the message says)
    "truncated JSON": (lambda ls: (_cut(ls), at(ls, first_trial) + 1), "record", "not JSON"),
    "NaN": (replace(first_trial, '"top1":0.5', '"top1":NaN'), "record", "no NaN or infinity"),
    "infinity": (replace(first_trial, '"ld":0.03125', '"ld":-Infinity'), "record", "no NaN"),
    "1e999": (replace(first_trial, '"ld":0.03125', '"ld":1e999'), "record", "beyond the range"),
    "duplicate key": (
        replace(first_trial, '"seed":0,', '"seed":0,"seed":1,'),
        "record",
        "'seed' appears twice",
    ),
    "unknown field": (
        replace(first_trial, '"seed":0,', '"seed":0,"colour":"red",'),
        TRIAL_0,
        "unknown fields ['colour']",
    ),
    "missing field": (
        replace(first_trial, '"eval_every":50,', ""),
        "trial 'blobs-mlp' / 'FIX(k0=0.1)' / seed 0 / 100 steps / eval every None",
        "the field 'eval_every' is missing",
    ),
    "text for a number": (
        replace(first_trial, '"top1":0.5', '"top1":"0.5"'),
        TRIAL_0,
        "result.top1 must be a number or null, got '0.5'",
    ),
    "accuracy above 1": (
        replace(first_trial, '"top1":0.5', '"top1":1.5'),
        TRIAL_0,
        "result.top1 must be in [0.0, 1.0] or null, got 1.5",
    ),
    "negative wall time": (
        replace(first_trial, '"wall_s":0.5', '"wall_s":-0.5'),
        TRIAL_0,
        "result.wall_s must be in",
    ),
    "step beyond the trial": (
        replace(first_trial, '{"step":0,', '{"step":1000,'),
        TRIAL_0,
        "curve[0].step must be an integer in [0, 100], got 1000",
    ),
    "curve value of text": (
        replace(first_trial, '"lr":0.1', '"lr":"fast"'),
        TRIAL_0,
        "curve[0].lr must be a number or null, got 'fast'",
    ),
    "metric of text": (
        replace(first_trial, '"loss":0.25', '"loss":"low"'),
        TRIAL_0,
        "metrics['loss'] must be a number or null",
    ),
    "running status": (
        replace(first_trial, '"status":"done"', '"status":"running"'),
        TRIAL_0,
        "status must be one of done, diverged, pruned, failed, got 'running'",
    ),
    "unknown status": (
        replace(first_trial, '"status":"done"', '"status":"great"'),
        TRIAL_0,
        "status must be one of",
    ),
    "done but stopped early": (
        replace(first_trial, '"steps_done":100', '"steps_done":60'),
        TRIAL_0,
        "a done trial took all its 100 steps, but result.steps_done is 60",
    ),
    "diverged without a step": (
        replace(first_trial, '"status":"done"', '"status":"diverged"'),
        TRIAL_0,
        "a diverged trial needs result.diverged_at",
    ),
    "failed with a result": (
        replace(first_trial, '"status":"done","error":null', '"status":"failed","error":"x"'),
        TRIAL_0,
        "a failed trial has an error and no result",
    ),
    "result missing a metric": (
        replace(first_trial, '"cdac":0.0625,', ""),
        TRIAL_0,
        "result must hold exactly",
    ),
    "negative seed": (
        replace(first_trial, '"seed":0,', '"seed":-1,'),
        "seed -1",
        "seed must be an integer in [0, 9223372036854775807], got -1",
    ),
    "boolean seed": (
        replace(first_trial, '"seed":0,', '"seed":true,'),
        "seed True",
        "seed must be an integer",
    ),
    "seed beyond 64 bits": (
        replace(first_trial, '"seed":0,', f'"seed":{2**64},'),
        f"seed {2**64}",
        "seed must be an integer",
    ),
    "task name too long": (
        rewrite(is_type("task"), lambda r: r.update(name="t" * 1001)),
        "task 'tttt",
        "name must be non-empty text of at most 1000 characters",
    ),
    "spec too long": (
        rewrite(is_type("policy"), lambda r: r.update(spec="F" * 2001)),
        "policy 'FFFF",
        "spec must be non-empty text of at most 2000 characters",
    ),
    "undefined task": (
        replace(first_trial, '"task":"blobs-mlp"', '"task":"ghost"'),
        "trial 'ghost'",
        "task 'ghost' is not defined by a task line before it",
    ),
    "undefined policy": (
        replace(first_trial, '"spec":"FIX(k0=0.1)"', '"spec":"FIX(k0=9)"'),
        "'FIX(k0=9)'",
        "policy 'FIX(k0=9)' is not defined by a policy line before it",
    ),
    "undefined source": (
        replace(first_trial, '"source":null', '"source":7'),
        TRIAL_0,
        "source 7 is not defined by a source line before it",
    ),
    "duplicate trial": (_duplicate_trial, TRIAL_0, "the same trial is already on line"),
    "fingerprint of other metadata": (
        replace(is_type("task"), '"train_size":256', '"train_size":257'),
        "task 'blobs-mlp'",
        "is not that of its metadata",
    ),
    "deep nesting": (
        rewrite(is_type("task"), lambda r: r.update(metadata={"extra": nest(40)})),
        "task 'blobs-mlp'",
        "nested deeper than 32 levels",
    ),
    "unknown record type": (
        replace(is_type("interpolation"), '"type":"interpolation"', '"type":"photo"'),
        "photo line",
        "unknown record type 'photo'",
    ),
    "time without offset": (
        rewrite(first_trial, lambda r: r.update(created_at="2026-01-01T10:00:00")),
        TRIAL_0,
        "created_at must carry its UTC offset",
    ),
    "time that is no time": (
        rewrite(first_trial, lambda r: r.update(started_at="tuesday")),
        TRIAL_0,
        "started_at must be an ISO 8601 time, got 'tuesday'",
    ),
    "records out of order": (
        _range_test_before_trials,
        "trial 'blobs-mlp'",
        "trial lines come before range_test lines",
    ),
    "another format": (
        replace(is_type("header"), '"format":"lrscope-export"', '"format":"csv"'),
        "header line",
        "format must be one of lrscope-export",
    ),
    "a newer format version": (
        replace(is_type("header"), '"format_version":2', '"format_version":3'),
        "header line",
        "format version 3, written by a newer lrscope; this lrscope reads format version 2",
    ),
    "a runtime that is not a runtime's identity": (
        replace(first_trial, '"runtime":""', '"runtime":"fp64"'),
        TRIAL_0,
        "runtime must be a runtime's identity ('', 'bf16', 'accum=4', ...), got 'fp64'",
    ),
    "no header": (
        lambda ls: (ls[1:], 1),
        "task 'blobs-mlp'",
        "the first line must be the header",
    ),
}


def _cut(lines: Lines) -> Lines:
    i = at(lines, first_trial)
    return [*lines[:i], lines[i][: len(lines[i]) // 2], *lines[i + 1 :]]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store that already holds something, to check it is left exactly as it was."""
    opened = Store.open(f"sqlite:///{tmp_path / 'mine.db'}")
    fill(opened, task="mine")
    return opened


def _refused(store: Store, path: Path, *parts: str) -> str:
    before = store.info().to_dict()
    trials_before = store.trials()
    with pytest.raises(ExportFormatError) as caught:
        import_file(store, path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid export file {path.name!r}: ")
    assert message.endswith("; nothing was imported")
    for part in parts:
        assert part in message, message
    assert store.info().to_dict() == before
    assert store.trials() == trials_before
    return message


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_record_refuses_the_file_naming_the_record(
    case: str, exported: tuple[Lines, Lines], store: Store, tmp_path: Path
) -> None:
    change, record, problem = CASES[case]
    lines, number = change(list(exported[0]))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    message = _refused(store, path, f": line {number} (", problem)
    assert record in message
    store.close()


def test_a_source_line_is_checked_too(
    exported: tuple[Lines, Lines], store: Store, tmp_path: Path
) -> None:
    lines, number = rewrite(is_type("source"), lambda r: r.update(kind="teleport"))(
        list(exported[1])
    )
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _refused(store, path, f"line {number} (source 1): kind must be one of import, merge")
    store.close()


@pytest.mark.parametrize(
    ("name", "content", "parts"),
    [
        ("empty.jsonl", b"", ("it is empty",)),
        ("binary.jsonl", b"\xff\xfe\x00garbage\n", ("line 1 (record line): not UTF-8 text",)),
        ("array.jsonl", b"[1, 2]\n", ("line 1 (record line): a record is a JSON object, got",)),
        ("broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage", ("cannot read it after line 0",)),
    ],
)
def test_files_that_are_no_export_are_refused(
    name: str, content: bytes, parts: tuple[str, ...], store: Store, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _refused(store, path, *parts)
    store.close()


def test_a_file_cut_short_or_padded_is_refused(
    exported: tuple[Lines, Lines], store: Store, tmp_path: Path
) -> None:
    lines = list(exported[0])
    path = tmp_path / "short.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines[:-1]) + "\n")
    _refused(store, path, f"it has no end line (it stops at line {len(lines) - 1}: cut short?)")
    end = json.loads(lines[-1])
    end["records"]["trial"] = 99
    path = tmp_path / "miscounted.jsonl"
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")
    _refused(store, path, f"line {len(lines)} (end line): it counts", "'trial': 99")
    path = tmp_path / "padded.jsonl"
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    _refused(store, path, f"line {len(lines) + 1}", "nothing may follow the end line")
    store.close()


def test_sizes_are_bounded(
    exported: tuple[Lines, Lines], store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(exported[0]) + "\n")
    number = at(exported[0], is_type("trial")) + 1
    monkeypatch.setattr(fmt, "MAX_CURVE_POINTS", 2)
    _refused(
        store, path, f"line {number} (trial 'blobs-mlp' / ", "curve must be a list of at most 2"
    )
    monkeypatch.setattr(fmt, "MAX_LINE_BYTES", 300)
    _refused(store, path, "line 2 is longer than 300 bytes")
    monkeypatch.setattr(fmt, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(fmt, "MAX_LINE_BYTES", 100_000)
    _refused(store, path, "more than 1000 bytes of text")
    store.close()
