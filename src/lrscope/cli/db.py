"""``lrscope db``: look at, upgrade, export, import and merge results databases.

- ``lrscope db info [--db URL] [--json]``: the URL (credentials hidden), the
  dialect, the schema version and how many rows each table holds (trials per
  status, rows imported from other stores). Opened read-only: it never
  creates, upgrades or writes anything (a missing SQLite file exits 2).
- ``lrscope db upgrade [--db URL] [--json]``: upgrade a store of an older
  schema version in place (a SQLite file is copied next to itself first).
- ``lrscope db export -o FILE [--task T ...] [--since DATE] [--no-host]``:
  write the store's records to an export file (JSON Lines, gzip when FILE
  ends in ``.gz``; ``docs/export-format.md``). Read-only.
- ``lrscope db import FILE [--dry-run]``: add the file's records to the store
  (the whole file is checked first; a malformed one exits 2 naming the line
  and the record, and nothing is written); conflicts are listed, not merged.
- ``lrscope db merge --from URL [--task T ...] [--since DATE] [--dry-run]``:
  the same, reading another store directly.

Every subcommand takes ``--db URL`` (default ``$LRSCOPE_DB``, else
``sqlite:///lrscope.db``) and ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import DbOpt, JsonOpt, emit, resolve_db_url, stderr, stdout

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.store import ImportSummary, StoreInfo

__all__ = ["register"]

db_app = typer.Typer(
    name="db",
    help="Look at, upgrade, export, import and merge results databases (SQLite or PostgreSQL).",
    no_args_is_help=True,
)

TaskFilterOpt = Annotated[
    list[str] | None,
    typer.Option("--task", help="Only this task's records; repeat for several (default: all)."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only trials finished, and range tests and interpolations stored, at or after "
        "this ISO 8601 date or time (e.g. 2026-01-31; UTC unless an offset is given).",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Check and report what would be added; write nothing.")
]


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the ``lrscope`` app."""
    app.add_typer(db_app, name="db")


def _target(db: str | None, dry_run: bool) -> str:
    """The store to import into; for a dry run into a file not made yet, an empty one in memory."""
    from lrscope.store import database_file

    url = resolve_db_url(db)
    path = database_file(url)
    return "sqlite://" if dry_run and path is not None and not path.exists() else url


def _plural(n: int, noun: str) -> str:
    """``n`` and the record type ``noun`` in words: 1 range test, 6 policies."""
    words = noun.replace("_", " ")
    if n != 1:
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return f"{n} {words}"


def _print(text: str) -> None:
    stdout.print(text, markup=False, highlight=False)


@db_app.command("info")
def info(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """URL (credentials hidden), schema version and row counts of the results database."""
    from lrscope.store import Store

    with Store.open(resolve_db_url(db), create=False, readonly=True) as store:
        facts = store.info()
        sources = store.sources()
    document = {**facts.to_dict(), "sources": [s.to_dict() for s in sources]}
    emit(document, json_, lambda: _render_info(facts, [s.label for s in sources]))


def _render_info(facts: StoreInfo, sources: list[str]) -> None:
    """Aligned ``label  value`` lines, never truncated (URLs and paths can be long)."""
    rows: list[tuple[str, str]] = [("url", facts.url)]
    if facts.path:
        rows.append(("file", facts.path))
    rows.append(("dialect", f"{facts.dialect} ({facts.driver})"))
    rows.append(
        (
            "schema version",
            f"{facts.schema_version} (this lrscope: {facts.supported_schema_version})",
        )
    )
    for name, count in facts.counts.items():
        imported = facts.imported.get(name, 0)
        rows.append((name, f"{count} ({imported} imported)" if imported else str(count)))
    by_status = ", ".join(f"{n} {status}" for status, n in facts.trials_by_status.items())
    rows.append(("trials by status", by_status))
    if facts.stale_running:
        rows.append(("stale running", f"{facts.stale_running} (the next run claims them again)"))
    rows.extend(("imported from", label) for label in dict.fromkeys(sources))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        _print(f"{label:<{width}}  {value}")


@db_app.command("upgrade")
def upgrade(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Upgrade a store of an older schema version in place (SQLite: a backup copy first)."""
    from lrscope.store import SCHEMA_VERSION, Store

    with Store.open(resolve_db_url(db), create=False) as store:
        done, url = store.upgrade, store.url
    document = {
        "url": url,
        "schema_version": SCHEMA_VERSION,
        "upgraded": None if done is None else done.to_dict(),
    }

    def render() -> None:
        if done is None:
            _print(f"{url} is at schema version {SCHEMA_VERSION} already: nothing to do")
            return
        backup = f"; the store as it was is in {done.backup}" if done.backup else ""
        _print(
            f"upgraded {url} from schema version {done.from_version} to {done.to_version}{backup}"
        )

    emit(document, json_, render)


@db_app.command("export")
def export(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="The export file (JSON Lines; gzip when it ends in .gz)."
        ),
    ],
    task: TaskFilterOpt = None,
    since: SinceOpt = None,
    no_host: Annotated[
        bool, typer.Option("--no-host", help="Leave host names out of the file.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write the store's tasks, policies, trials, range tests and interpolations to a file."""
    from lrscope.rank import left_out
    from lrscope.store import Store
    from lrscope.store.exchange import export_store, parse_since

    when = parse_since(since, "lrscope db export")
    with Store.open(resolve_db_url(db), create=False, readonly=True) as store:
        summary = export_store(
            store,
            output,
            tasks=task,
            since=when,
            include_host=not no_host,
            on_unreadable=left_out("the export"),
        )
    counts = ", ".join(_plural(n, kind) for kind, n in summary.records.items() if n)
    emit(
        summary.to_dict(),
        json_,
        lambda: _print(f"wrote {summary.path} ({summary.bytes:,} bytes): {counts or 'no records'}"),
    )


def _render_import(summary: ImportSummary, what: str) -> None:
    verb = "would add" if summary.dry_run else "added"
    added = [_plural(n, kind) for kind, n in summary.added.items() if n and kind != "source"]
    line = f"{what}: {verb} {', '.join(added) or 'nothing'}"
    same = sum(summary.duplicates.values())
    line += f"; {_plural(same, 'record')} already stored"
    if summary.conflicts:
        skipped = sum(summary.skipped.values())
        line += f"; {_plural(len(summary.conflicts), 'conflict')} (not merged)"
        line += f", {_plural(skipped, 'record')} of conflicting tasks skipped" if skipped else ""
    _print(line)
    for conflict in summary.conflicts:
        stderr.print(
            f"conflict: line {conflict.line}, {conflict.identity}: {conflict.reason}",
            markup=False,
            highlight=False,
        )


@db_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="An export file (lrscope db export).")],
    dry_run: DryRunOpt = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Add an export file's records to the store: checked whole first, nothing overwritten."""
    from lrscope.store import Store
    from lrscope.store.exchange import import_export, read_export

    parsed = read_export(file)  # a malformed file is refused before the store is opened
    with Store.open(_target(db, dry_run)) as store:
        summary = import_export(store, parsed, dry_run=dry_run)
    emit(summary.to_dict(), json_, lambda: _render_import(summary, f"import of {file.name}"))


@db_app.command("merge")
def merge(
    source: Annotated[
        str, typer.Option("--from", help="URL of the store to read (opened read-only).")
    ],
    task: TaskFilterOpt = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Add another store's records to this one (as an export and import would)."""
    from lrscope.rank import left_out
    from lrscope.store import Store
    from lrscope.store.exchange import merge_store, parse_since

    when = parse_since(since, "lrscope db merge")
    with Store.open(_target(db, dry_run)) as store:
        summary = merge_store(
            store,
            source,
            tasks=task,
            since=when,
            dry_run=dry_run,
            on_unreadable=left_out("the merge"),
        )
    emit(summary.to_dict(), json_, lambda: _render_import(summary, f"merge of {summary.file}"))
