"""Shared pieces of the fault tests (issue 16): running a command, reading a store, the checks.

Every fault test asserts the command-line contract of docs/architecture.md:
exit status 2, exactly one line on stderr that starts with ``error:`` and
names the problem, nothing on stdout, no traceback, and the store's rows as
they were before the command ran.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from lrscope.cli.app import app

HERE = Path(__file__).resolve().parent
TINY = f"{HERE / 'bench' / 'tiny_task.py'}:make_task"
FAULTS = HERE / "fault_tasks.py"

runner = CliRunner()


def fault_task(name: str) -> str:
    """The ``--task`` reference of ``fault_tasks.py:<name>``."""
    return f"{FAULTS}:{name}"


def url(db: Path) -> str:
    return f"sqlite:///{db}"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def error_line(result: Result, *needles: str) -> str:
    """The one ``error:`` line of a run that exited 2; each needle must be in it."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the SQLite file ``db`` (empty when there is no file)."""
    if not db.exists():
        return {}
    with sqlite3.connect(db) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }


def execute(db: Path, statement: str) -> None:
    """Run one SQL statement on the SQLite file ``db`` (to damage a row on purpose)."""
    with sqlite3.connect(db) as connection:
        connection.execute(statement)
