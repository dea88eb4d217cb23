"""The ``lrscope`` application: command registration and error mapping.

Errors caused by the user (:class:`lrscope.errors.LRScopeError`, click usage
errors) exit with status 2 and exactly one line on stderr. Everything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from lrscope import __version__
from lrscope.errors import LRScopeError

EXIT_USAGE = 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Group(TyperGroup):
    """A typer group whose errors are one line on stderr, exit status 2."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            return super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            sys.exit(130)
        except TyperException as exc:  # typer's click: usage errors, bad parameters
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `lrscope`: the help
                sys.stderr.write(exc.format_message() + "\n")
                sys.exit(EXIT_USAGE)
            sys.stderr.write(f"error: {_one_line(exc.format_message())}\n")
            sys.exit(EXIT_USAGE)
        except LRScopeError as exc:
            sys.stderr.write(f"error: {_one_line(str(exc))}\n")
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted\n")
            sys.exit(130)


app = typer.Typer(
    cls=_Group,
    name="lrscope",
    help="Find, compare and apply learning-rate policies for PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"lrscope {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Find, compare and apply learning-rate policies for PyTorch."""


# --- command registration: one module per command or command group --------
# (each module exposes `register(app)`; registered in the order of the help,
# which follows the workflow of docs/architecture.md)
from lrscope.cli import bench as _bench  # noqa: E402
from lrscope.cli import db as _db  # noqa: E402
from lrscope.cli import demo as _demo  # noqa: E402
from lrscope.cli import find as _find  # noqa: E402
from lrscope.cli import interpolate as _interpolate  # noqa: E402
from lrscope.cli import policies as _policies  # noqa: E402
from lrscope.cli import rank as _rank  # noqa: E402
from lrscope.cli import report as _report  # noqa: E402
from lrscope.cli import train as _train  # noqa: E402
from lrscope.cli import tune as _tune  # noqa: E402

for _module in (_demo, _policies, _find, _train, _bench, _rank, _tune, _interpolate, _report, _db):
    _module.register(app)
# --- end of command registration ------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app()
