"""Results that travel: export a store to a file, import a file, merge two stores.

LRBench (Wu, Liu et al. 2019) meant its database as a shared platform: a new
task starts from what others measured on similar ones. An export file is
JSON Lines (gzip when its name ends in ``.gz``), versioned and documented in
``docs/export-format.md``: tasks with their metadata and fingerprints,
policies, trials with their metrics and curves, range tests,
interpolations, and where each came from.

>>> from lrscope.store import Store
>>> from lrscope.store.exchange import export_store, import_file
>>> with Store.open("sqlite:///lab.db", readonly=True) as lab:   # doctest: +SKIP
...     export_store(lab, "lab.jsonl.gz", tasks=["digits-mlp"])
>>> with Store.open("sqlite:///mine.db") as mine:                # doctest: +SKIP
...     summary = import_file(mine, "lab.jsonl.gz")
...     summary.added, summary.conflicts

An import reads and checks the whole file first (every record is untrusted
input: :mod:`lrscope.store._validate`), refusing a malformed file with one
:class:`ExportFormatError` that names the line and the record, and then
writes in one transaction: a trial already held is never overwritten,
conflicts are reported (:class:`lrscope.store.Conflict`), not merged, and
importing the same file twice adds nothing (:mod:`lrscope.store._import`).
A merge is an export of another store read directly, imported the same way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm import Session

from lrscope.errors import ParameterError, StoreError
from lrscope.store import _codec as codec
from lrscope.store._export import ExportFilter, write_records
from lrscope.store._fields import InvalidRecordError, decode
from lrscope.store._format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ExportFormatError,
    ParsedExport,
    lines_of_text,
    open_lines,
    open_output,
)
from lrscope.store._import import DryRunError, write_import
from lrscope.store._read import OnUnreadable, UnreadableRowError, hand_over
from lrscope.store._validate import parse_export
from lrscope.store.records import ExportSummary, ImportSummary
from lrscope.store.store import Store

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ExportFormatError",
    "ParsedExport",
    "export_store",
    "import_export",
    "import_file",
    "merge_store",
    "parse_since",
    "read_export",
]


def parse_since(value: datetime | str | None, owner: str = "export_store") -> datetime | None:
    """``since`` as an aware UTC time: an ISO 8601 date or time (a naive one is UTC).

    Raises:
        ParameterError: ``value`` is no ISO 8601 date or time.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(
                owner, "since", "an ISO 8601 date or time, e.g. 2026-01-31 or "
                "2026-01-31T12:00:00+00:00", value,
            ) from None  # fmt: skip
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def _check_tasks(store: Store, tasks: Sequence[str] | None) -> tuple[str, ...] | None:
    if tasks is None:
        return None
    names = tuple(dict.fromkeys(tasks))
    known = {record.name for record in store.tasks()}
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(repr(n) for n in sorted(known)[:20]) or "none"
        raise StoreError(f"no task {unknown[0]!r} in the store {store.url}; stored tasks: {listed}")
    return names


def _is_export(path: Path) -> bool:
    """Whether ``path`` starts with an export header (then it may be replaced)."""
    try:
        for _, line in open_lines(path):
            header = decode(line)
            return header.get("type") == "header" and header.get("format") == FORMAT_NAME
    except (StoreError, InvalidRecordError):
        return False
    return False


def _check_output(store: Store, path: Path) -> None:
    """Refuse to write over the store itself or over a file that is not an export."""
    if store.path is not None and path.exists() and path.resolve() == store.path.resolve():
        raise StoreError(f"{str(path)!r} is the store itself; export to another file")
    if path.is_dir():
        raise StoreError(f"{str(path)!r} is a directory; give the export file's name")
    if path.exists() and not _is_export(path):
        raise StoreError(
            f"{str(path)!r} exists and is not an lrscope export; lrscope replaces only an "
            "export file: choose another name or remove it"
        )


def export_store(
    store: Store,
    path: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    since: datetime | str | None = None,
    include_host: bool = True,
    on_unreadable: OnUnreadable | None = None,
) -> ExportSummary:
    """Write the records of ``store`` to ``path`` (gzip when it ends in ``.gz``).

    Args:
        store: an open store (read-only is enough).
        path: the file; parent folders are created. An existing file is
            replaced only when it is an lrscope export; the file appears
            whole or not at all (written beside it, then renamed).
        tasks: only these tasks' records (None: every task).
        since: only trials finished, and range tests and interpolations
            stored, at or after this time (ISO 8601 text or a datetime;
            naive means UTC).
        include_host: write host names (of the exporter and of the
            processes that ran each trial); False leaves them out.
        on_unreadable: what to do with a damaged row (see
            :meth:`Store.trials`): None raises its
            :class:`~lrscope.store.UnreadableRowError` and writes no file; a
            callback is handed every one, which is left out of the file (a
            task whose metadata is damaged is exported without it).

    Raises:
        StoreError: an unknown task, an output that cannot be written or
            that would replace the store or a file that is no export.
        ParameterError: ``since`` is no ISO 8601 date or time.
    """
    target = Path(path)
    chosen = ExportFilter(_check_tasks(store, tasks), parse_since(since))
    _check_output(store, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
        os.close(handle)
    except OSError as exc:
        raise StoreError(f"cannot write the export file {str(target)!r}: {exc}") from None
    part = Path(name)
    compress = target.suffix == ".gz"

    left_out: list[UnreadableRowError] = []

    def work(session: Session) -> dict[str, int]:
        left_out.clear()  # a retried transaction starts again
        try:
            with open_output(part, compress=compress) as out:  # truncated again on a retry
                return write_records(
                    session,
                    lambda line: out.write(line + "\n"),
                    store_url=store.url,
                    chosen=chosen,
                    host=include_host,
                    now=codec.utcnow(),
                    left_out=left_out,
                )
        except OSError as exc:
            raise StoreError(f"cannot write the export file {str(target)!r}: {exc}") from None

    try:
        records = store._read_snapshot(work)
        if on_unreadable is None:
            hand_over(left_out, None)  # the first damaged row, before the file appears
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    hand_over(left_out, on_unreadable)
    return ExportSummary(str(target), target.stat().st_size, compress, records, len(left_out))


def read_export(path: str | Path) -> ParsedExport:
    """Read and check every line of an export file (nothing is written anywhere).

    Raises:
        ExportFormatError: the first invalid line, naming it and its record.
        StoreError: the file cannot be read.
    """
    source = Path(path)
    if not source.is_file():
        raise StoreError(f"no export file at {str(source)!r}")
    return parse_export(source.name, open_lines(source))


def _import(
    store: Store, parsed: ParsedExport, kind: str, file: str | None, dry_run: bool
) -> ImportSummary:
    now = codec.utcnow()

    def work(session: Session) -> ImportSummary:
        return write_import(session, parsed, kind=kind, file=file, now=now, dry_run=dry_run)

    try:
        return store._write(work, conflicts=True)
    except DryRunError as finished:
        return finished.summary


def import_export(store: Store, parsed: ParsedExport, *, dry_run: bool = False) -> ImportSummary:
    """Import a file already read by :func:`read_export` (one transaction)."""
    return _import(store, parsed, "import", parsed.name, dry_run)


def import_file(store: Store, path: str | Path, *, dry_run: bool = False) -> ImportSummary:
    """Import an export file into ``store``: checked whole first, then one transaction.

    ``dry_run`` reports what the import would do and writes nothing.

    Raises:
        ExportFormatError: a malformed file (nothing is written).
        StoreError: the file cannot be read, or the store cannot be written.
    """
    return import_export(store, read_export(path), dry_run=dry_run)


def merge_store(
    store: Store,
    source: str,
    *,
    tasks: Sequence[str] | None = None,
    since: datetime | str | None = None,
    dry_run: bool = False,
    on_unreadable: OnUnreadable | None = None,
) -> ImportSummary:
    """Import the records of the store at URL ``source`` (opened read-only) into ``store``.

    The same as exporting ``source`` and importing the file (with the same
    checks), without a file; the sources rows say ``merge``. Damaged rows of
    ``source`` are handled as by :func:`export_store`'s ``on_unreadable``
    (None: the first one raises and nothing is written).
    """
    lines: list[str] = []

    with Store.open(source, create=False, readonly=True) as other:
        chosen = ExportFilter(_check_tasks(other, tasks), parse_since(since, "merge_store"))

        def work(session: Session) -> dict[str, int]:
            lines.clear()  # a retried transaction starts again
            left_out.clear()
            return write_records(
                session, lines.append, store_url=other.url, chosen=chosen, host=True,
                now=codec.utcnow(), left_out=left_out,
            )  # fmt: skip

        left_out: list[UnreadableRowError] = []
        other._read_snapshot(work)
        hand_over(left_out, on_unreadable)
        name = other.url
    parsed = parse_export(name, lines_of_text(lines))
    return _import(store, parsed, "merge", None, dry_run)
