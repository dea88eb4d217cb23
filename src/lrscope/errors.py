"""The exceptions lrscope raises on purpose.

Every error caused by what a user gave us (a bad policy parameter, an unknown
task, an unreadable file, an unreachable database) derives from
:class:`LRScopeError`. The command line maps exactly these to exit status 2 and
one line on stderr; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "LRScopeError",
    "LRScopeWarning",
    "OutputError",
    "ParameterError",
    "PlanError",
    "SpecError",
    "StoreError",
    "TaskError",
    "short_repr",
]


class LRScopeError(Exception):
    """Base class of the errors caused by user input or the environment."""


class ParameterError(LRScopeError, ValueError):
    """A policy (or other factory) got a parameter value outside its allowed range.

    The message names the owner, the parameter, the allowed range and the value
    received, e.g. ``The 'l' parameter of TRI2 must be an int in the range
    [1, inf). Got 0 instead.``
    """

    def __init__(self, owner: str, name: str, allowed: str, value: object) -> None:
        self.owner = owner
        self.name = name
        self.allowed = allowed
        self.value = value
        super().__init__(
            f"The {name!r} parameter of {owner} must be {allowed}. Got {short_repr(value)} instead."
        )


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters; never raises.

    Error messages quote the value a user gave; a 5,000-digit integer or a
    megabyte string must not become a megabyte message (nor raise: Python
    refuses to print integers of more than 4,300 digits).
    """
    try:
        text = repr(value)
    except Exception:  # an int too long to print, a broken __repr__
        text = f"<{type(value).__name__}>"
        if isinstance(value, int):
            text = f"<an int of about {int(value.bit_length() * 0.30103) + 1} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SpecError(LRScopeError, ValueError):
    """A policy spec string cannot be parsed, or names an unknown policy."""


class TaskError(LRScopeError, ValueError):
    """An unknown task name, or a user task that cannot be loaded."""


class DataError(LRScopeError, ValueError):
    """A dataset file is missing or malformed."""


class StoreError(LRScopeError):
    """The results database is unreachable, or of an unknown newer schema."""


class PlanError(LRScopeError, ValueError):
    """A benchmark plan (command line or TOML file) is invalid."""


class OutputError(LRScopeError):
    """An output path cannot be written, or writing it would replace a file of another kind.

    The command line checks every output before any work starts (the message
    names the option and the reason), so nothing computed is lost to it.
    """


class LRScopeWarning(UserWarning):
    """Warnings lrscope emits itself (the test suite turns them into errors)."""
