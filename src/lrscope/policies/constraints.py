"""Declarative parameter constraints for policies.

Each policy declares the constraint of every parameter once, in its field
annotation (``k0: Annotated[float, POSITIVE_FLOAT]``). The same object checks a
value, coerces it to its canonical type (``1`` -> ``1.0`` for a float,
``[300, 500]`` -> ``(300, 500)`` for a list) and describes what is allowed, so
validation and the error message cannot drift apart::

    The 'l' parameter of TRI2 must be an int in the range [1, inf). Got 0 instead.

Relations between two parameters (``k1 > k0``) are :class:`Relation` objects
listed on the policy class; they produce messages of the same shape::

    The 'k1' parameter of TRI2 must be a float greater than k0=0.001. Got 0.0001 instead.
"""

from __future__ import annotations

import abc
import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "INVALID",
    "Bool",
    "Choice",
    "Constraint",
    "IntList",
    "Interval",
    "PolicyList",
    "Relation",
]


class _Invalid:
    """Sentinel returned by :meth:`Constraint.coerce` for a rejected value."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()

Closed = Literal["left", "right", "both", "neither"]


def _fmt_bound(value: float | None, *, low: bool) -> str:
    if value is None:
        return "-inf" if low else "inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Constraint(abc.ABC):
    """What values a parameter accepts, and the canonical form of an accepted value."""

    @abc.abstractmethod
    def coerce(self, value: object) -> Any:
        """The canonical form of ``value``, or :data:`INVALID` if it is not allowed."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The allowed values, to follow "must be": ``an int in the range [1, inf)``."""


@dataclass(frozen=True)
class Interval(Constraint):
    """A real number (``kind=float``) or integer (``kind=int``) in a range.

    ``low``/``high`` of ``None`` mean unbounded; ``closed`` says which ends are
    included. Floats must be finite; ints accept integral floats (``2e3``);
    booleans are never numbers here.
    """

    kind: type[int] | type[float]
    low: float | None
    high: float | None
    closed: Closed = "both"

    def coerce(self, value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return INVALID
        if self.kind is int:
            if isinstance(value, numbers.Integral):
                number: float = int(value)  # numpy ints too
            elif math.isfinite(float(value)) and float(value).is_integer():
                number = int(float(value))
            else:
                return INVALID
        else:
            number = float(value)
            if not math.isfinite(number):
                return INVALID
        return number if self._contains(number) else INVALID

    def _contains(self, number: float) -> bool:
        if self.low is not None:
            left_closed = self.closed in ("left", "both")
            if number < self.low or (number == self.low and not left_closed):
                return False
        if self.high is not None:
            right_closed = self.closed in ("right", "both")
            if number > self.high or (number == self.high and not right_closed):
                return False
        return True

    def range_text(self) -> str:
        left = "[" if self.closed in ("left", "both") and self.low is not None else "("
        right = "]" if self.closed in ("right", "both") and self.high is not None else ")"
        low = _fmt_bound(self.low, low=True)
        high = _fmt_bound(self.high, low=False)
        return f"{left}{low}, {high}{right}"

    def describe(self) -> str:
        article = "an int" if self.kind is int else "a float"
        return f"{article} in the range {self.range_text()}"


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a few bare words (case-insensitive; canonical form lowercase)."""

    options: tuple[str, ...]

    def coerce(self, value: object) -> Any:
        if isinstance(value, str) and value.lower() in self.options:
            return value.lower()
        return INVALID

    def describe(self) -> str:
        return "a str among {" + ", ".join(repr(o) for o in self.options) + "}"


@dataclass(frozen=True)
class Bool(Constraint):
    """``True`` or ``False`` (``true``/``false`` in a spec)."""

    def coerce(self, value: object) -> Any:
        return value if isinstance(value, bool) else INVALID

    def describe(self) -> str:
        return "a bool (true or false)"


@dataclass(frozen=True)
class IntList(Constraint):
    """A non-empty list of strictly increasing ints, each in ``[low, inf)``.

    The canonical form is a tuple (policies are immutable and hashable).
    """

    low: int = 1
    min_length: int = 1

    def coerce(self, value: object) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) < self.min_length:
            return INVALID
        item = Interval(int, self.low, None, "left")
        items = tuple(item.coerce(v) for v in value)
        if any(v is INVALID for v in items):
            return INVALID
        if any(b <= a for a, b in itertools.pairwise(items)):
            return INVALID
        return items

    def describe(self) -> str:
        size = "non-empty " if self.min_length == 1 else f"at least {self.min_length}-long "
        return f"a {size}list of strictly increasing ints in the range [{self.low}, inf)"


@dataclass(frozen=True)
class PolicyList(Constraint):
    """A list of at least ``min_length`` policies (canonical form: a tuple)."""

    min_length: int = 2

    def coerce(self, value: object) -> Any:
        from lrscope.policies.base import Policy

        if not isinstance(value, (list, tuple)) or len(value) < self.min_length:
            return INVALID
        if not all(isinstance(v, Policy) for v in value):
            return INVALID
        return tuple(value)

    def describe(self) -> str:
        return f"a list of at least {self.min_length} policies"


_RELATION_WORDS = {
    ">": "greater than",
    ">=": "greater than or equal to",
    "<": "less than",
    "<=": "less than or equal to",
}


@dataclass(frozen=True)
class Relation:
    """``param <op> other`` between two already-valid parameters, e.g. ``k1 > k0``."""

    param: str
    op: Literal[">", ">=", "<", "<="]
    other: str
    kind: str = "a float"

    def holds(self, params: Mapping[str, Any]) -> bool:
        a, b = params[self.param], params[self.other]
        if self.op == ">":
            return bool(a > b)
        if self.op == ">=":
            return bool(a >= b)
        if self.op == "<":
            return bool(a < b)
        return bool(a <= b)

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"{self.kind} {_RELATION_WORDS[self.op]} {self.other}={params[self.other]!r}"
