"""``lrscope db``: look at the results database.

``lrscope db info [--db URL] [--json]`` prints the URL (password hidden), the
dialect, the schema version and how many rows each table holds, trials per
status included. It never creates a database: a missing SQLite file is an
error (exit 2) rather than a new empty file.
"""

from __future__ import annotations

from typing import Any

import typer

from lrscope.cli._common import DbOpt, JsonOpt, emit, resolve_db_url, stdout

__all__ = ["register"]

db_app = typer.Typer(
    name="db",
    help="Look at the results database (SQLite file or PostgreSQL).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the ``lrscope`` app."""
    app.add_typer(db_app, name="db")


@db_app.command("info")
def info(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """URL (password hidden), schema version and row counts of the results database."""
    from lrscope.store import Store

    with Store.open(resolve_db_url(db), create=False) as store:
        facts = store.info()
    emit(facts, json_, lambda: _render(facts))


def _render(facts: dict[str, Any]) -> None:
    """Aligned ``label  value`` lines, never truncated (URLs and paths can be long)."""
    rows: list[tuple[str, str]] = [("url", str(facts["url"]))]
    if facts.get("path"):
        rows.append(("file", str(facts["path"])))
    rows.append(("dialect", f"{facts['dialect']} ({facts['driver']})"))
    rows.append(
        (
            "schema version",
            f"{facts['schema_version']} (this lrscope: {facts['supported_schema_version']})",
        )
    )
    rows.extend((name, str(count)) for name, count in facts["counts"].items())
    by_status = ", ".join(f"{n} {status}" for status, n in facts["trials_by_status"].items())
    rows.append(("trials by status", by_status))
    if facts["stale_running"]:
        rows.append(("stale running", f"{facts['stale_running']} (the next run claims them again)"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        stdout.print(f"{label:<{width}}  {value}", markup=False, highlight=False)
