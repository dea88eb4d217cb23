"""The one validation vocabulary of lrscope: constraints that check, coerce and describe.

A parameter's constraint is declared once, and the same object

- checks a value and gives its canonical form (``1`` -> ``1.0`` for a float,
  ``[300, 500]`` -> ``(300, 500)`` for a list, ``"EXP"`` -> ``"exp"`` for a
  choice), or :data:`INVALID`;
- describes what is allowed, so the error message cannot drift from the check::

      The 'l' parameter of TRI2 must be an int in the range [1, inf). Got 0 instead.

There are three ways to use it, all raising
:class:`lrscope.errors.ParameterError` with that one message shape:

- frozen configuration values: subclass :class:`Validated` (a frozen
  dataclass whose fields are ``Annotated[type, constraint]``); construction
  validates every field, then the :class:`Relation` s between fields, then the
  optional :meth:`Validated._check` hook. Policies, range-test, sweep and
  interpolation settings, benchmark plans and the tuner's LR bounds are built
  this way (the configuration meta-test finds them all by walking the
  package).
- a single function argument: :func:`check` (``steps = check("run_trial",
  "steps", steps, COUNT)``).
- options given by name: :meth:`Validated.from_options` (unknown names are
  an error that lists the known ones).

The shape follows scikit-learn's parameter validation (one declaration, one
message, an error type that is a ``ValueError``). Nothing here imports torch.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import itertools
import math
import numbers
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeGuard, TypeVar

from lrscope.errors import ParameterError

__all__ = [
    "COUNT",
    "DECAY_GAMMA",
    "FINITE_FLOAT",
    "FRACTION",
    "INVALID",
    "MAX_SEEDS",
    "MOMENTUM",
    "NONNEGATIVE_FLOAT",
    "POSITIVE_FLOAT",
    "SEED",
    "SEEDS",
    "STEP",
    "STEP_SIZE",
    "AnyOf",
    "Bool",
    "Choice",
    "Constraint",
    "FirstN",
    "Identifier",
    "IntList",
    "Interval",
    "ListOf",
    "OrNone",
    "Param",
    "PathText",
    "Relation",
    "Suffix",
    "Text",
    "Validated",
    "check",
    "declared_params",
    "is_integer",
    "is_real",
]


class _Invalid:
    """Sentinel returned by :meth:`Constraint.coerce` for a rejected value."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()

Closed = Literal["left", "right", "both", "neither"]

#: Integers beyond this many decimal digits are refused before any arithmetic
#: on them (Python refuses to print ints of more than 4,300 digits).
MAX_INT_DIGITS = 30


def _fmt_bound(value: float | None, *, low: bool) -> str:
    if value is None:
        return "-inf" if low else "inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if float(value).is_integer():
        exponent = math.log2(abs(value))
        if exponent.is_integer():
            return f"2**{int(exponent)}" if value > 0 else f"-2**{int(exponent)}"
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
    included. Floats must be finite; ints accept integral floats (``2e3``) and
    numpy integers, or with ``exact`` only integers (a step index); booleans
    are never numbers here.
    """

    kind: type[int] | type[float]
    low: float | None
    high: float | None
    closed: Closed = "both"
    exact: bool = False

    def coerce(self, value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return INVALID
        if self.kind is int:
            number: float
            if isinstance(value, numbers.Integral):
                number = int(value)
                if number.bit_length() > 3.33 * MAX_INT_DIGITS:
                    return INVALID
            elif not self.exact and math.isfinite(float(value)) and float(value).is_integer():
                number = int(float(value))
            else:
                return INVALID
        else:
            if isinstance(value, numbers.Integral) and int(value).bit_length() > 1023:
                return INVALID
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
    """One of a few bare words, matched case-insensitively; canonical form: as declared."""

    options: tuple[str, ...]

    def coerce(self, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.lower()
            for option in self.options:
                if option.lower() == wanted:
                    return option
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
class Text(Constraint):
    """A string of ``min_length`` to ``max_length`` characters, with no NUL character.

    With ``strip`` the canonical form has surrounding whitespace removed and
    the length is counted after stripping (so ``"  "`` is not a name).
    """

    min_length: int = 1
    max_length: int = 10_000
    strip: bool = False

    def coerce(self, value: object) -> Any:
        if not isinstance(value, str) or "\x00" in value:
            return INVALID
        text = value.strip() if self.strip else value
        return text if self.min_length <= len(text) <= self.max_length else INVALID

    def describe(self) -> str:
        if self.min_length == 0:
            size = "a str"
        elif self.min_length == 1:
            size = "a non-blank str" if self.strip else "a non-empty str"
        else:
            size = f"a str of at least {self.min_length} and"
        return f"{size} of at most {self.max_length} characters"


@dataclass(frozen=True)
class Identifier(Constraint):
    """A name for a column, a key or a metric: a letter, then letters, digits or underscores.

    At most ``max_length`` characters; the canonical form is the str itself
    (case is kept).
    """

    max_length: int = 64

    def coerce(self, value: object) -> Any:
        if not isinstance(value, str) or not 1 <= len(value) <= self.max_length:
            return INVALID
        head, rest = value[0], value[1:]
        if not (head.isascii() and head.isalpha()):
            return INVALID
        if not all(c.isascii() and (c.isalnum() or c == "_") for c in rest):
            return INVALID
        return value

    def describe(self) -> str:
        return (
            "an identifier (an ASCII letter, then letters, digits or underscores) "
            f"of at most {self.max_length} characters"
        )


@dataclass(frozen=True)
class PathText(Constraint):
    """A file-system path: a non-empty str or an ``os.PathLike``; canonical form: the str."""

    def coerce(self, value: object) -> Any:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value or "\x00" in value:
            return INVALID
        return value

    def describe(self) -> str:
        return "a path (a non-empty str or os.PathLike)"


@dataclass(frozen=True)
class Suffix(Constraint):
    """A path (as :class:`PathText`) whose file name ends in one of ``suffixes`` (any case).

    The canonical form is the path text, unchanged (``"plot.PNG"`` stays as given).
    """

    suffixes: tuple[str, ...]

    def coerce(self, value: object) -> Any:
        text = PathText().coerce(value)
        if text is INVALID or not text.lower().endswith(tuple(s.lower() for s in self.suffixes)):
            return INVALID
        return text

    def describe(self) -> str:
        names = [*self.suffixes]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"a path ending in {listed}"


@dataclass(frozen=True)
class IntList(Constraint):
    """A list of at least ``min_length`` strictly increasing ints, each in ``[low, inf)``.

    The canonical form is a tuple (values are immutable and hashable).
    """

    low: int = 1
    min_length: int = 1

    def coerce(self, value: object) -> Any:
        item = Interval(int, self.low, None, "left")
        return ListOf(item, self.min_length, "increasing").coerce(value)

    def describe(self) -> str:
        size = "non-empty " if self.min_length == 1 else f"at least {self.min_length}-long "
        return f"a {size}list of strictly increasing ints in the range [{self.low}, inf)"


@dataclass(frozen=True)
class OrNone(Constraint):
    """``None`` (meaning "the default" or "never", as the parameter documents) or ``inner``."""

    inner: Constraint

    def coerce(self, value: object) -> Any:
        return None if value is None else self.inner.coerce(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (or tuple) of at least ``min_length`` values, each accepted by ``item``.

    ``order`` is ``"any"``, ``"distinct"`` (no value twice) or
    ``"increasing"`` (strictly). With ``scalar`` a single value stands for a
    one-value list (``steps=1000`` for ``steps=[1000]``). The canonical form
    is a tuple of the items' canonical forms. A str is never a list here.
    """

    item: Constraint
    min_length: int = 1
    order: Literal["any", "distinct", "increasing"] = "any"
    scalar: bool = False

    def coerce(self, value: object) -> Any:
        if not isinstance(value, (list, tuple)):
            if not self.scalar:
                return INVALID
            single = self.item.coerce(value)
            return INVALID if single is INVALID else (single,)
        if len(value) < self.min_length:
            return INVALID
        items = tuple(self.item.coerce(v) for v in value)
        if any(v is INVALID for v in items):
            return INVALID
        if self.order == "distinct" and len(set(items)) != len(items):
            return INVALID
        if self.order == "increasing" and any(b <= a for a, b in itertools.pairwise(items)):
            return INVALID
        return items

    def describe(self) -> str:
        order = {"any": "", "distinct": "distinct ", "increasing": "strictly increasing "}
        values = f"{order[self.order]}values, each {self.item.describe()}"
        if self.min_length > 1:
            text = f"a list of at least {self.min_length} {values}"
        else:
            text = f"a {'non-empty ' if self.min_length == 1 else ''}list of {values}"
        return f"{self.item.describe()} or {text}" if self.scalar else text


@dataclass(frozen=True)
class AnyOf(Constraint):
    """A value accepted by one of ``alternatives``: the first that accepts it gives its form."""

    alternatives: tuple[Constraint, ...]

    def coerce(self, value: object) -> Any:
        for alternative in self.alternatives:
            coerced = alternative.coerce(value)
            if coerced is not INVALID:
                return coerced
        return INVALID

    def describe(self) -> str:
        return " or ".join(alternative.describe() for alternative in self.alternatives)


@dataclass(frozen=True)
class FirstN(Constraint):
    """A count ``n`` in ``[1, high]`` standing for the ints ``0 .. n-1`` (``seeds=3``).

    The canonical form is the tuple ``(0, 1, ..., n-1)``.
    """

    high: int

    def coerce(self, value: object) -> Any:
        count = Interval(int, 1, self.high).coerce(value)
        return INVALID if count is INVALID else tuple(range(count))

    def describe(self) -> str:
        return f"a count in the range [1, {_fmt_bound(self.high, low=False)}] (n means 0 .. n-1)"


_RELATION_WORDS = {
    ">": "greater than",
    ">=": "greater than or equal to",
    "<": "less than",
    "<=": "less than or equal to",
}


@dataclass(frozen=True)
class Relation:
    """``param <op> other`` between two already-valid parameters, e.g. ``k1 > k0``.

    A relation holds trivially when either side is ``None`` (an optional
    parameter that was not given).
    """

    param: str
    op: Literal[">", ">=", "<", "<="]
    other: str
    kind: str = "a float"

    def holds(self, params: Mapping[str, Any]) -> bool:
        a, b = params[self.param], params[self.other]
        if a is None or b is None:
            return True
        if self.op == ">":
            return bool(a > b)
        if self.op == ">=":
            return bool(a >= b)
        if self.op == "<":
            return bool(a < b)
        return bool(a <= b)

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"{self.kind} {_RELATION_WORDS[self.op]} {self.other}={params[self.other]!r}"


# --- the shared vocabulary ---------------------------------------------------

POSITIVE_FLOAT = Interval(float, 0, None, "neither")
"""A finite float > 0: learning rates, factors."""
NONNEGATIVE_FLOAT = Interval(float, 0, None, "left")
"""A finite float >= 0: a floor learning rate, a tie margin."""
DECAY_GAMMA = Interval(float, 0, 1, "right")
"""A per-step or per-stage decay factor in (0, 1]."""
MOMENTUM = Interval(float, 0, 1, "both")
"""A momentum (SGD) or Adam beta1 in [0, 1]."""
FRACTION = Interval(float, 0, 1, "neither")
"""A fraction strictly between 0 and 1 (a share of the steps, a smoothing factor)."""
STEP_SIZE = Interval(int, 1, None, "left")
"""A number of optimizer steps >= 1 (a step size, a period, a budget)."""
COUNT = Interval(int, 1, None, "left")
"""A count >= 1 (seeds, workers, samples, points)."""
STEP = Interval(int, 0, None, "left", exact=True)
"""An optimizer step index >= 0, given as an int."""
SEED = Interval(int, 0, 2**32 - 1, "both")
"""A random seed: numpy's generators take seeds in [0, 2**32 - 1]."""
FINITE_FLOAT = Interval(float, None, None)
"""Any finite float (an interpolation coefficient may be negative)."""
MAX_SEEDS = 10_000
"""The most seeds a count may ask for: more is a typo, not a benchmark."""
SEEDS = AnyOf((FirstN(MAX_SEEDS), ListOf(SEED, order="distinct")))
"""Seeds given as a count (``3``: seeds 0, 1, 2) or named (``[0, 3, 7]``); canonical: a tuple."""


# --- declared parameters ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Param:
    """A declared parameter: its name, constraint and default (if any)."""

    name: str
    constraint: Constraint
    default: object = dataclasses.MISSING

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def declared_params(cls: type) -> tuple[Param, ...]:
    """The constrained fields of dataclass ``cls`` in declaration order.

    Every field must be annotated ``Annotated[type, constraint]``; a field
    without a constraint is a programming error (``TypeError``).
    """
    return _declared_params(cls)


@functools.cache
def _declared_params(cls: Any) -> tuple[Param, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    params = []
    for field in dataclasses.fields(cls):
        metadata = getattr(hints[field.name], "__metadata__", ())
        constraint = next((m for m in metadata if isinstance(m, Constraint)), None)
        if constraint is None:
            raise TypeError(f"{cls.__name__}.{field.name} declares no constraint")
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        params.append(Param(field.name, constraint, default))
    return tuple(params)


def check(owner: str, name: str, value: object, constraint: Constraint) -> Any:
    """The canonical form of ``value``, or :class:`ParameterError` naming ``owner`` and ``name``.

    >>> check("run_trial", "steps", 3e3, COUNT)
    3000
    """
    coerced = constraint.coerce(value)
    if coerced is INVALID:
        raise ParameterError(owner, name, constraint.describe(), value)
    return coerced


def is_integer(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a Python ``int`` and not a ``bool``.

    ``True`` is an ``int`` to Python but never a count, an id or a step to
    lrscope. For the checks of stored and imported records, whose errors are
    the store's own; arguments and settings go through :func:`check`.
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a Python ``int`` or ``float`` and not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_V = TypeVar("_V", bound="Validated")


class Validated:
    """Base of frozen, validated configuration values (and of every policy).

    Subclasses are frozen dataclasses whose fields are all
    ``Annotated[type, constraint]``. ``__post_init__`` replaces each field by
    its canonical form, then checks :attr:`relations`, then calls
    :meth:`_check` (checks that involve more than two fields). Error messages
    name :meth:`owner_name` (``owner``, else the class name).
    """

    owner: ClassVar[str] = ""
    """The name error messages use ("the range test"); the class name when empty."""
    relations: ClassVar[tuple[Relation, ...]] = ()
    """Constraints between two parameters, checked after the single ones."""

    @classmethod
    def owner_name(cls) -> str:
        return cls.owner or cls.__name__

    @classmethod
    def declared_params(cls) -> tuple[Param, ...]:
        """The parameters in declaration order, with constraint and default."""
        return declared_params(cls)

    def __post_init__(self) -> None:
        owner = self.owner_name()
        values: dict[str, Any] = {}
        for param in self.declared_params():
            value = check(owner, param.name, getattr(self, param.name), param.constraint)
            object.__setattr__(self, param.name, value)
            values[param.name] = value
        for relation in self.relations:
            if not relation.holds(values):
                raise ParameterError(
                    owner, relation.param, relation.describe(values), values[relation.param]
                )
        self._check()

    def _check(self) -> None:
        """Checks beyond single parameters and relations (raise ParameterError)."""

    @classmethod
    def from_options(cls: type[_V], base: _V | None = None, /, **options: object) -> _V:
        """``cls(**options)``, or ``base`` with ``options`` replaced; names are checked.

        An unknown option name is a :class:`ParameterError` listing the known
        ones (a ``TypeError`` would not say what is allowed).
        """
        known = [p.name for p in cls.declared_params()]
        for name, value in options.items():
            if name not in known:
                raise ParameterError(
                    cls.owner_name(), name, f"one of the options {', '.join(known)}", value
                )
        if base is None:
            return cls(**options)
        return dataclasses.replace(base, **options)  # type: ignore[type-var]
