"""Reading an export file as untrusted input: every line checked, typed, or refused.

:func:`parse_export` reads every line before anything is written. A line is
refused with an :class:`ExportFormatError` naming the file, the line number
and the record (``trial 'digits-mlp' / 'FIX(k0=0.1)' / seed 0 / 150 steps``)
and what is wrong, with what is allowed: text that is not UTF-8 JSON, a JSON
object nested deeper than :data:`MAX_DEPTH`, a non-finite number, a field of
the wrong type, a string longer than its limit, an unknown status, field or
record type, a curve longer than :data:`MAX_CURVE_POINTS` or with a step
outside the trial, a metric outside its range (accuracies are fractions),
a status that contradicts the result, a reference to a task, policy or
source line the file does not hold, a duplicate record, a missing or
disagreeing ``end`` line (a file cut short), a fingerprint that is not the
metadata's, a header of another format or of a newer format version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from lrscope.store import _format as fmt
from lrscope.store._fields import (
    Fields,
    InvalidRecordError,
    decode,
    fail,
    identity,
    parse_time,
    short,
)
from lrscope.store._format import (
    DocumentLine,
    ExportFormatError,
    Header,
    ParsedExport,
    PolicyLine,
    SourceLine,
    TaskLine,
    TrialLine,
)
from lrscope.store._identity import task_fingerprint
from lrscope.store._validate_trial import parse_trial

__all__ = ["parse_export"]


def parse_header(fields: Fields) -> Header:
    fields.choice("format", (fmt.FORMAT_NAME,))
    version = fields.required_integer("format_version", 1, fmt.MAX_INT32)
    if version > fmt.FORMAT_VERSION:
        fail(
            f"it is format version {version}, written by a newer lrscope; this lrscope reads "
            f"format version {fmt.FORMAT_VERSION}: upgrade lrscope"
        )
    filters = fields.document("filters")
    assert filters is not None
    tasks, since = filters.get("tasks"), filters.get("since")
    if set(filters) - {"tasks", "since"}:
        fail(f"filters holds unknown keys {sorted(set(filters) - {'tasks', 'since'})}")
    if tasks is not None and not (
        isinstance(tasks, list) and all(isinstance(t, str) for t in tasks)
    ):
        fail(f"filters.tasks must be a list of task names or null, got {short(tasks)}")
    return Header(
        format_version=version,
        lrscope_version=fields.required_text("lrscope_version", fmt.MAX_VERSION_CHARS),
        schema_version=fields.required_integer("schema_version", 1, fmt.MAX_INT32),
        exported_at=fields.required_time("exported_at"),
        store=fields.required_text("store", fmt.MAX_URL_CHARS),
        host=fields.text("host", fmt.MAX_HOST_CHARS, null=True),
        tasks=None if tasks is None else tuple(tasks),
        since=None if since is None else parse_time(since, "filters.since"),
    )


def parse_source(fields: Fields, line: int, known: Mapping[int, SourceLine]) -> SourceLine:
    ref = fields.required_integer("id", 1, fmt.MAX_INT)
    if ref in known:
        fail(f"source id {ref} is already defined on line {known[ref].line}")
    return SourceLine(
        line=line,
        ref=ref,
        kind=fields.choice("kind", fmt.SOURCE_KINDS),
        store=fields.required_text("store", fmt.MAX_URL_CHARS),
        host=fields.text("host", fmt.MAX_HOST_CHARS, null=True),
        lrscope_version=fields.required_text("lrscope_version", fmt.MAX_VERSION_CHARS),
        exported_at=fields.required_time("exported_at"),
        imported_at=fields.required_time("imported_at"),
        file=fields.text("file", fmt.MAX_URL_CHARS, null=True),
    )


def parse_task(fields: Fields, line: int, sources: Mapping[int, SourceLine]) -> TaskLine:
    name = fields.required_text("name", fmt.MAX_NAME_CHARS)
    metadata = fields.document("metadata", null=True)
    fingerprint = fields.text("fingerprint", 64, null=True)
    if fingerprint != task_fingerprint(metadata):
        fail(
            f"its fingerprint {short(fingerprint)} is not that of its metadata "
            f"({short(task_fingerprint(metadata))})"
        )
    return TaskLine(
        line=line,
        name=name,
        metadata=metadata,
        fingerprint=fingerprint,
        created_at=fields.required_time("created_at"),
        source=fields.source(sources),
    )


def parse_policy(fields: Fields, line: int) -> PolicyLine:
    return PolicyLine(
        line=line,
        spec=fields.required_text("spec", fmt.MAX_SPEC_CHARS),
        name=fields.required_text("name", fmt.MAX_SPEC_CHARS),
        family=fields.text("family", fmt.MAX_NAME_CHARS, null=True),
        n_params=fields.integer("n_params", 0, fmt.MAX_INT32, null=True),
    )


def parse_document(
    fields: Fields, line: int, kind: str, sources: Mapping[int, SourceLine]
) -> DocumentLine:
    task = fields.required_text("task", fmt.MAX_NAME_CHARS)
    if kind == "range_test":
        params = fields.document("params")
        document = fields.document("result")
    else:
        params = None
        document = fields.document("data")
    assert document is not None
    return DocumentLine(
        line=line,
        type="range_test" if kind == "range_test" else "interpolation",
        task=task,
        params=params,
        document=document,
        lrscope_version=fields.required_text("lrscope_version", fmt.MAX_VERSION_CHARS),
        host=fields.text("host", fmt.MAX_HOST_CHARS, null=True),
        created_at=fields.required_time("created_at"),
        source=fields.source(sources),
    )


def parse_export(name: str, lines: Iterable[tuple[int, bytes]]) -> ParsedExport:
    """Every line of the file ``name``, checked and typed; see the module docstring.

    Raises:
        ExportFormatError: the first invalid line (or a missing header or end).
    """
    header: Header | None = None
    sources: dict[int, SourceLine] = {}
    tasks: dict[str, TaskLine] = {}
    policies: dict[str, PolicyLine] = {}
    trials: dict[tuple[str, str, int, int, int, str], TrialLine] = {}
    documents: list[DocumentLine] = []
    counts: Counter[str] = Counter()
    order = 0
    end: tuple[int, dict[str, object]] | None = None
    number = 0
    for number, raw in lines:
        data: dict[str, object] = {}
        kind = "record"
        try:
            if end is not None:
                fail(f"nothing may follow the end line (line {end[0]})")
            data = decode(raw)
            kind = str(data.get("type"))
            fields = Fields(data)
            if header is None:
                if kind != "header":
                    fail(
                        f"the first line must be the header of an {fmt.FORMAT_NAME} file "
                        f"(type 'header'), got type {short(data.get('type'))}: this is not "
                        "an lrscope export"
                    )
                header = parse_header(fields)
            elif kind == "end":
                end = (number, fields.document("records") or {})
            elif kind in fmt.RECORD_TYPES:
                rank = fmt.RECORD_TYPES.index(kind)
                if rank < order:
                    fail(
                        f"{kind} lines come before {fmt.RECORD_TYPES[order]} lines "
                        f"(order: {', '.join(fmt.RECORD_TYPES)})"
                    )
                order = rank
                _parse_record(fields, number, kind, sources, tasks, policies, trials, documents)
                counts[kind] += 1
            else:
                allowed = ", ".join(("header", *fmt.RECORD_TYPES, "end"))
                fail(f"unknown record type {short(data.get('type'))}; allowed: {allowed}")
            fields.finish()
        except InvalidRecordError as exc:
            raise ExportFormatError(
                f"invalid export file {name!r}: line {number} ({identity(data, kind)}): "
                f"{exc}; nothing was imported"
            ) from None
    if header is None:
        raise ExportFormatError(f"invalid export file {name!r}: it is empty; nothing was imported")
    _check_end(name, number, end, counts)
    return ParsedExport(
        name=name,
        header=header,
        sources=tuple(sources.values()),
        tasks=tuple(tasks.values()),
        policies=tuple(policies.values()),
        trials=tuple(trials.values()),
        documents=tuple(documents),
    )


def _parse_record(
    fields: Fields,
    number: int,
    kind: str,
    sources: dict[int, SourceLine],
    tasks: dict[str, TaskLine],
    policies: dict[str, PolicyLine],
    trials: dict[tuple[str, str, int, int, int, str], TrialLine],
    documents: list[DocumentLine],
) -> None:
    if kind == "source":
        source = parse_source(fields, number, sources)
        sources[source.ref] = source
    elif kind == "task":
        task = parse_task(fields, number, sources)
        if task.name in tasks:
            fail(f"task {task.name!r} is already defined on line {tasks[task.name].line}")
        tasks[task.name] = task
    elif kind == "policy":
        policy = parse_policy(fields, number)
        if policy.spec in policies:
            fail(f"the policy is already defined on line {policies[policy.spec].line}")
        policies[policy.spec] = policy
    elif kind == "trial":
        trial = parse_trial(fields, number, sources, tasks, policies)
        if trial.key in trials:
            fail(f"the same trial is already on line {trials[trial.key].line}")
        trials[trial.key] = trial
    else:
        document = parse_document(fields, number, kind, sources)
        if document.task not in tasks:
            fail(f"task {document.task!r} is not defined by a task line before it")
        documents.append(document)


def _check_end(
    name: str, last: int, end: tuple[int, dict[str, object]] | None, counts: Counter[str]
) -> None:
    if end is None:
        raise ExportFormatError(
            f"invalid export file {name!r}: it has no end line (it stops at line {last}: cut "
            "short?); nothing was imported"
        )
    stated = {k: v for k, v in end[1].items() if v != 0}
    found = {k: v for k, v in counts.items() if v != 0}
    if stated != found:
        raise ExportFormatError(
            f"invalid export file {name!r}: line {end[0]} (end line): it counts {stated} "
            f"records but the file holds {found}; nothing was imported"
        )
