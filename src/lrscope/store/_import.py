"""Writing a checked export into a store: one transaction, nothing held overwritten.

Identity and what happens to each record:

- a task is its name and fingerprint: a new name is added; the same name and
  fingerprint (or one side without metadata) is the same task (a stored task
  without metadata takes the file's); another fingerprint is a
  :class:`Conflict` and none of that task's records are imported;
- a policy is its spec: added when a trial that uses it is added;
- a trial is its key ``(task, spec, seed, steps, eval_every, runtime)``: a new key is
  added; a key the store holds finished with the same result (metrics, curve)
  is a duplicate, with another result a conflict (the stored one is kept); a
  key the store holds as ``failed`` takes the file's finished result; a
  running claim is left to its runner (a conflict);
- range tests and interpolations are their content (task, parameters,
  document): the file adds as many copies as it holds beyond the store's.

Records measured in the exporting store (``source: null`` in the file) get a
``sources`` row for this import (kind, the exporter's store URL, host,
lrscope version and time, this import's time, the file name); records the
exporter had imported themselves keep their origin (a ``sources`` row equal
to the file's source line, reused when the store holds it already). No
sources row is written for an import that adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from lrscope.store._codec import as_utc
from lrscope.store._export import trial_result
from lrscope.store._format import (
    RECORD_TYPES,
    DocumentLine,
    ParsedExport,
    SourceLine,
    TaskLine,
    TrialLine,
)
from lrscope.store._identity import describe_differences, task_fingerprint
from lrscope.store._schema import (
    FINISHED,
    STATUS_FAILED,
    InterpolationRow,
    PolicyRow,
    RangeTestRow,
    SourceRow,
    TaskRow,
    TrialRow,
)
from lrscope.store._validate_trial import RESULT_FIELDS
from lrscope.store.records import Conflict, ImportSummary

__all__ = ["DryRunError", "write_import"]


class DryRunError(Exception):
    """Not an error: raised inside a dry run's transaction to roll it back, with the summary."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("dry run")
        self.summary = summary


def _trial_name(line: TrialLine) -> str:
    return (
        f"trial {line.task!r} / {line.spec!r} / seed {line.seed} / {line.steps} steps / "
        f"eval every {line.eval_every}" + (f" / {line.runtime}" if line.runtime else "")
    )


def _digest(kind: str, task: str, params: object, document: object) -> str:
    text = json.dumps([kind, task, params, document], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Sources:
    """The ``sources`` rows of one import, created when a record first needs one."""

    def __init__(self, session: Session, parsed: ParsedExport, kind: str, file: str | None,
                 now: datetime) -> None:  # fmt: skip
        self.session, self.parsed, self.kind, self.file, self.now = session, parsed, kind, file, now
        self.lines = {s.ref: s for s in parsed.sources}
        self.ids: dict[int | None, int] = {}
        self.created: list[int] = []

    def id_for(self, ref: int | None) -> int:
        if ref not in self.ids:
            self.ids[ref] = self._direct() if ref is None else self._relayed(self.lines[ref])
        return self.ids[ref]

    def _add(self, row: SourceRow) -> int:
        self.session.add(row)
        self.session.flush()
        self.created.append(row.id)
        return row.id

    def _direct(self) -> int:
        header = self.parsed.header
        return self._add(SourceRow(
            kind=self.kind, store=header.store, host=header.host,
            library_version=header.lrscope_version, exported_at=header.exported_at,
            imported_at=self.now, file=self.file,
        ))  # fmt: skip

    def _relayed(self, line: SourceLine) -> int:
        wanted = (line.kind, line.store, line.host, line.lrscope_version, line.exported_at,
                  line.imported_at, line.file)  # fmt: skip
        for row in self.session.scalars(select(SourceRow).where(SourceRow.store == line.store)):
            held = (row.kind, row.store, row.host, row.library_version, as_utc(row.exported_at),
                    as_utc(row.imported_at), row.file)  # fmt: skip
            if held == wanted:
                return row.id
        return self._add(SourceRow(
            kind=line.kind, store=line.store, host=line.host,
            library_version=line.lrscope_version, exported_at=line.exported_at,
            imported_at=line.imported_at, file=line.file,
        ))  # fmt: skip


class _Import:
    """One import's work inside its transaction (see the module docstring)."""

    def __init__(self, session: Session, parsed: ParsedExport, kind: str, file: str | None,
                 now: datetime) -> None:  # fmt: skip
        self.session, self.parsed, self.now = session, parsed, now
        self.sources = _Sources(session, parsed, kind, file, now)
        self.added: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.conflicts: list[Conflict] = []
        self.refused: set[str] = set()  # tasks in conflict

    def tasks(self) -> None:
        names = [t.name for t in self.parsed.tasks]
        stored = {
            r.name: r for r in self.session.scalars(select(TaskRow).where(TaskRow.name.in_(names)))
        }
        for line in self.parsed.tasks:
            row = stored.get(line.name)
            if row is None:
                self.session.add(TaskRow(
                    name=line.name, task_metadata=line.metadata, fingerprint=line.fingerprint,
                    source_id=self.sources.id_for(line.source), created_at=line.created_at,
                    updated_at=line.created_at,
                ))  # fmt: skip
                self.added["task"] += 1
            elif line.fingerprint is None or row.fingerprint in (None, line.fingerprint):
                if row.fingerprint is None and line.metadata is not None:
                    row.task_metadata = dict(line.metadata)
                    row.fingerprint = task_fingerprint(line.metadata)
                    row.updated_at = self.now
                self.duplicates["task"] += 1
            else:
                self._refuse_task(line, row)
        self.session.flush()

    def _refuse_task(self, line: TaskLine, row: TaskRow) -> None:
        self.refused.add(line.name)
        self.skipped["task"] += 1
        self.conflicts.append(Conflict(
            "task", f"task {line.name!r}", line.line,
            f"the store holds another task of this name "
            f"({describe_differences(row.task_metadata, line.metadata)}); none of its records "
            "in the file are imported; rename the task in one of the stores, or import "
            "into another --db",
        ))  # fmt: skip

    def trials(self) -> None:
        wanted = [t for t in self.parsed.trials if t.task not in self.refused]
        self.skipped["trial"] += len(self.parsed.trials) - len(wanted)
        key_columns = (
            TrialRow.task,
            TrialRow.spec,
            TrialRow.seed,
            TrialRow.steps,
            TrialRow.eval_every,
            TrialRow.runtime,
        )
        stored: dict[tuple[str, str, int, int, int, str], tuple[int, str]] = {}
        for start in range(0, len(wanted), 500):
            keys = [t.key for t in wanted[start : start + 500]]
            query = select(*key_columns, TrialRow.id, TrialRow.status).where(
                tuple_(*key_columns).in_(keys)
            )
            for task, spec, seed, steps, every, runtime, row_id, status in self.session.execute(
                query
            ):
                stored[(task, spec, seed, steps, every, runtime)] = (row_id, status)
        specs: set[str] = set()
        for line in wanted:
            held = stored.get(line.key)
            if held is None:
                self.session.add(self._new_trial(line))
            elif not self._settle(line, *held):
                continue
            specs.add(line.spec)
            self.added["trial"] += 1
        self._policies(specs)
        self.session.flush()

    def _settle(self, line: TrialLine, row_id: int, status: str) -> bool:
        """Compare with the stored row; True when the file's result was written into it."""
        row = self.session.get(TrialRow, row_id)
        assert row is not None
        if line.status not in FINISHED:  # a failure adds nothing to what the store holds
            self.duplicates["trial"] += 1
        elif status == STATUS_FAILED:  # measured elsewhere, failed here: take the result
            self._fill(row, line)
            return True
        elif status not in FINISHED:
            self._conflict(line, "the store holds a running claim of it; its runner "
                                 "finishes it (import again afterwards)")  # fmt: skip
        elif (difference := _result_difference(row, line)) is not None:
            self._conflict(line, f"the store holds another result ({difference}); "
                                 "the stored one is kept")  # fmt: skip
        else:
            self.duplicates["trial"] += 1
        return False

    def _conflict(self, line: TrialLine, reason: str) -> None:
        self.conflicts.append(Conflict("trial", _trial_name(line), line.line, reason))

    def _new_trial(self, line: TrialLine) -> TrialRow:
        row = TrialRow(task=line.task, spec=line.spec, seed=line.seed, steps=line.steps,
                       eval_every=line.eval_every, runtime=line.runtime, attempts=1)  # fmt: skip
        self._fill(row, line)
        return row

    def _fill(self, row: TrialRow, line: TrialLine) -> None:
        result = line.result or {}
        for name in RESULT_FIELDS:
            setattr(row, name, result.get(name))
        row.status, row.error = line.status, line.error
        row.curve = None if line.curve is None else [dict(p) for p in line.curve]
        row.metrics = None if line.metrics is None else dict(line.metrics)
        row.library_version, row.host = line.lrscope_version, line.host
        row.owner = row.boot_id = None
        row.pid = row.pid_start = None
        row.created_at, row.started_at = line.created_at, line.started_at
        row.finished_at = line.finished_at
        row.heartbeat_at = line.finished_at or line.started_at
        row.source_id = self.sources.id_for(line.source)

    def _policies(self, specs: set[str]) -> None:
        """Add the policies of the added trials the store lacks."""
        every = [line.spec for line in self.parsed.policies]
        held = set(self.session.scalars(select(PolicyRow.spec).where(PolicyRow.spec.in_(every))))
        for line in self.parsed.policies:
            if line.spec in held:
                self.duplicates["policy"] += 1
            elif line.spec in specs:
                self.session.add(PolicyRow(
                    spec=line.spec, name=line.name, family=line.family,
                    n_params=line.n_params, created_at=self.now,
                ))  # fmt: skip
                self.added["policy"] += 1
            else:
                self.skipped["policy"] += 1

    def documents(self) -> None:
        tasks = {d.task for d in self.parsed.documents if d.task not in self.refused}
        held: Counter[str] = Counter()
        for row in self.session.scalars(select(RangeTestRow).where(RangeTestRow.task.in_(tasks))):
            held[_digest("range_test", row.task, row.params or {}, row.result)] += 1
        for irow in self.session.scalars(
            select(InterpolationRow).where(InterpolationRow.task.in_(tasks))
        ):
            held[_digest("interpolation", irow.task, None, irow.data)] += 1
        for line in self.parsed.documents:
            if line.task in self.refused:
                self.skipped[line.type] += 1
                continue
            digest = _digest(line.type, line.task, line.params, line.document)
            if held[digest] > 0:
                held[digest] -= 1
                self.duplicates[line.type] += 1
                continue
            self.session.add(self._new_document(line))
            self.added[line.type] += 1
        self.session.flush()

    def _new_document(self, line: DocumentLine) -> RangeTestRow | InterpolationRow:
        common = {
            "task": line.task, "library_version": line.lrscope_version, "host": line.host,
            "created_at": line.created_at, "source_id": self.sources.id_for(line.source),
        }  # fmt: skip
        if line.type == "range_test":
            return RangeTestRow(
                params=dict(line.params or {}), result=dict(line.document), **common
            )
        return InterpolationRow(data=dict(line.document), **common)


def _result_difference(row: TrialRow, line: TrialLine) -> str | None:
    """The first field in which the stored trial and the file's differ, or None."""
    if row.status != line.status:
        return f"status {row.status} stored, {line.status} in the file"
    stored = trial_result(row) or {}
    for name in RESULT_FIELDS:
        a, b = stored.get(name), (line.result or {}).get(name)
        if a != b:
            return f"{name} {a!r} stored, {b!r} in the file"
    if (row.metrics or None) != (None if line.metrics is None else dict(line.metrics)):
        return "metrics differ"
    if (row.curve or []) != [dict(p) for p in line.curve or ()]:
        return "curves differ"
    return None


def write_import(
    session: Session,
    parsed: ParsedExport,
    *,
    kind: str,
    file: str | None,
    now: datetime,
    dry_run: bool = False,
) -> ImportSummary:
    """Import ``parsed`` in the caller's transaction; a dry run raises :class:`DryRunError`."""
    work = _Import(session, parsed, kind, file, now)
    work.tasks()
    work.trials()
    work.documents()
    work.added["source"] = len(work.sources.created)
    summary = ImportSummary(
        file=parsed.name,
        kind=kind,
        added=_counts(work.added),
        duplicates=_counts(work.duplicates),
        skipped=_counts(work.skipped),
        conflicts=tuple(work.conflicts),
        sources=tuple(work.sources.created),
        dry_run=dry_run,
    )
    if dry_run:
        raise DryRunError(summary)
    return summary


def _counts(counter: Mapping[str, int]) -> dict[str, int]:
    return {kind: int(counter.get(kind, 0)) for kind in RECORD_TYPES}
