"""The ``lrscope`` application: command registration and error mapping.

Errors caused by the user (:class:`lrscope.errors.LRScopeError`, click usage
errors) exit with status 2 and exactly one line on stderr; so does a task's
code that calls ``sys.exit``. Ctrl-C exits 130 and SIGTERM 143, with one line
saying what was interrupted and what is stored. Everything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, NoReturn, TextIO

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from lrscope import __version__
from lrscope.cli._common import TRACEBACK_ENV, Interrupted
from lrscope.errors import LRScopeError, LRScopeWarning

EXIT_USAGE = 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Escaped(BaseException):
    """Carries an interruption or a ``sys.exit`` out of a command past typer.

    typer turns a KeyboardInterrupt into an exit status that the caller gets
    back as a return value, and lets a ``sys.exit(0)`` from a task's code end
    lrscope silently; both are handled by :meth:`_Group.main` instead.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


def _exit_site(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of ``exc``'s traceback."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "" if tb is None else f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM interrupts like Ctrl-C (clean-up runs); a second SIGTERM ends at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Interrupted(signal.SIGTERM)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """lrscope's own warnings as one ``warning: ...`` line each; others as Python shows them."""
    if issubclass(category, LRScopeWarning):
        sys.stderr.write(f"warning: {_one_line(str(message))}\n")
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """While a command runs, each distinct :class:`LRScopeWarning` is one line on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("default", LRScopeWarning)
        warnings.showwarning = _show_warning
        yield


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Install :func:`_on_sigterm` while the command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(exc: KeyboardInterrupt) -> NoReturn:
    signum = getattr(exc, "signum", signal.SIGINT)
    name = signal.Signals(signum).name + (" (Ctrl-C)" if signum == signal.SIGINT else "")
    what = getattr(exc, "what", "") or "nothing more was done"
    sys.stderr.write(f"error: interrupted by {name}: {_one_line(what)}\n")
    sys.exit(128 + signum)


def _exited(exc: SystemExit) -> NoReturn:
    where = _exit_site(exc)
    site = f" at {where}" if where else ""
    sys.stderr.write(
        f"error: sys.exit({exc.code!r}) was called{site} while the command ran (by a task's "
        "code?); lrscope stopped without a result. A task's functions must return or raise.\n"
    )
    sys.exit(EXIT_USAGE)


class _Group(TyperGroup):
    """A typer group whose errors are one line on stderr, exit status 2.

    Ctrl-C (SIGINT) and SIGTERM exit 130 and 143 with one line saying what
    was interrupted and what is stored; a ``sys.exit`` from a task's code is
    an error, not a silent success.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, SystemExit) as exc:
            raise _Escaped(exc) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            with _sigterm_interrupts(), _warnings_as_lines():
                status = super().main(
                    args=args,
                    prog_name=prog_name,
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
        except _Escaped as escaped:
            if isinstance(escaped.original, KeyboardInterrupt):
                _interrupted(escaped.original)
            _exited(escaped.original)  # type: ignore[arg-type]
        except KeyboardInterrupt as exc:  # before or after the command (parsing, output)
            _interrupted(exc)
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
            if os.environ.get(TRACEBACK_ENV) == "1":
                traceback.print_exception(exc)
            sys.stderr.write(f"error: {_one_line(str(exc))}\n")
            sys.exit(EXIT_USAGE)
        # typer hands back the status of a typer.Exit (--version, --help) when
        # not standalone; a command itself returns None
        sys.exit(status if isinstance(status, int) else 0)


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
