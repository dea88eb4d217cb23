"""The :class:`Policy` base class and the registry of policy names.

A policy is an immutable, hashable value: a pure function of the optimizer
step ``t`` (an int, ``t >= 0``) returning a learning rate, and for the
policies that cycle momentum, a momentum value. Concrete policies are frozen,
keyword-only dataclasses whose fields are the parameters of POLICIES.md, each
annotated with its constraint::

    @dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
    class TRI2(Policy):
        name = "TRI2"
        family = "cyclic"
        relations = (Relation("k1", ">", "k0"),)
        k0: Annotated[float, POSITIVE_FLOAT]
        k1: Annotated[float, POSITIVE_FLOAT]
        l: Annotated[int, STEP_SIZE]

Construction validates every parameter against its constraint, then the
relations, then :meth:`Policy._check` (anything else), and raises
:class:`lrscope.errors.ParameterError` naming policy, parameter, allowed range
and value. Equality and hashing are by class (hence name) and parameters;
``repr(p)`` is the canonical spec ``p.spec`` with ``parse(p.spec) == p``.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import numbers
import typing
from typing import Any, ClassVar

from lrscope.errors import ParameterError
from lrscope.policies.constraints import INVALID, Constraint, Relation

__all__ = ["Param", "Policy", "check_step", "format_value", "policy_names", "registry"]

_REGISTRY: dict[str, type[Policy]] = {}


@dataclasses.dataclass(frozen=True)
class Param:
    """A declared policy parameter: its name, constraint and default (if any)."""

    name: str
    constraint: Constraint
    default: object = dataclasses.MISSING

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def format_value(value: object) -> str:
    """The spec text of a parameter value (floats via ``repr``, so they round-trip)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Policy):
        return value.spec
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def check_step(owner: str, name: str, t: object) -> int:
    """``t`` as an int if it is an integer >= 0, else ParameterError naming ``name``."""
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ParameterError(owner, name, "an int in the range [0, inf)", t)
    return int(t)


class Policy(abc.ABC):
    """A learning-rate policy: ``lr = policy(t)`` for the optimizer step ``t >= 0``.

    Subclasses are frozen keyword-only dataclasses (see the module docstring)
    and implement :meth:`_lr` (and :meth:`_momentum` if they cycle momentum).
    """

    name: ClassVar[str]
    """Canonical name as in POLICIES.md and in specs (``"TRI2"``, ``"onecycle"``)."""
    family: ClassVar[str]
    """One of fixed, decay, cyclic, onecycle, restarts, ramp, composite."""
    relations: ClassVar[tuple[Relation, ...]] = ()
    """Constraints between two parameters, checked after the single ones."""
    positional: ClassVar[tuple[str, ...]] = ()
    """Parameters written without ``name=`` in the canonical spec (piecewise's pieces)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            key = cls.name.lower()
            known = _REGISTRY.get(key)
            same = known is not None and known.__qualname__ == cls.__qualname__
            if known is not None and not (same and known.__module__ == cls.__module__):
                raise RuntimeError(f"policy name {cls.name!r} registered twice")
            _REGISTRY[key] = cls  # a reloaded module replaces its own classes

    # --- declaration and validation ---------------------------------------

    @classmethod
    def declared_params(cls) -> tuple[Param, ...]:
        """The parameters in canonical order, with constraint and default."""
        return _declared_params(cls)

    def __post_init__(self) -> None:
        values: dict[str, Any] = {}
        for param in self.declared_params():
            value = getattr(self, param.name)
            coerced = param.constraint.coerce(value)
            if coerced is INVALID:
                raise ParameterError(self.name, param.name, param.constraint.describe(), value)
            object.__setattr__(self, param.name, coerced)
            values[param.name] = coerced
        for relation in self.relations:
            if not relation.holds(values):
                raise ParameterError(
                    self.name,
                    relation.param,
                    relation.describe(values),
                    values[relation.param],
                )
        self._check()

    def _check(self) -> None:  # noqa: B027  (an optional hook, empty by default)
        """Checks beyond single parameters and relations (raise ParameterError)."""

    # --- the schedule ------------------------------------------------------

    @abc.abstractmethod
    def _lr(self, t: int) -> float:
        """Learning rate at the validated step ``t``."""

    def _momentum(self, t: int) -> float | None:
        """Momentum at the validated step ``t``; None unless the policy cycles it."""
        return None

    def __call__(self, t: int) -> float:
        """The learning rate at optimizer step ``t`` (an int >= 0)."""
        return self._lr(check_step(self.name, "t", t))

    def momentum(self, t: int) -> float | None:
        """The momentum at step ``t``, or None if this policy does not cycle momentum."""
        step = check_step(self.name, "t", t)
        return self._momentum(step) if self.has_momentum else None

    @property
    def has_momentum(self) -> bool:
        """Whether :meth:`momentum` returns values (False unless overridden)."""
        return False

    def values(self, steps: int) -> list[float]:
        """``[self(t) for t in range(steps)]``."""
        count = check_step(self.name, "steps", steps)
        return [self._lr(t) for t in range(count)]

    def momentum_values(self, steps: int) -> list[float | None] | None:
        """``[self.momentum(t) for t in range(steps)]``, or None without momentum."""
        count = check_step(self.name, "steps", steps)
        if not self.has_momentum:
            return None
        return [self._momentum(t) for t in range(count)]

    # --- cycles ------------------------------------------------------------

    def cycle_length(self) -> int | None:
        """Steps per cycle (``2l`` for TRI etc.); None if the policy does not repeat."""
        return None

    def cycle_ends(self, total_steps: int) -> list[int]:
        """Step counts ``n <= total_steps`` after which a cycle is complete.

        ``n`` counts optimizer steps: after the steps ``t = 0 .. n-1`` a whole
        number of cycles is done and step ``n`` starts a new one (for TRI with
        ``l = 2000``: 4000, 8000, ...). Empty for acyclic policies.
        """
        total = check_step(self.name, "total_steps", total_steps)
        length = self.cycle_length()
        if length is None:
            return []
        return list(range(length, total + 1, length))

    # --- identity and text -------------------------------------------------

    @property
    def params(self) -> dict[str, object]:
        """Every parameter (defaults included), in canonical order."""
        return {p.name: getattr(self, p.name) for p in self.declared_params()}

    def explicit_params(self) -> dict[str, object]:
        """The parameters that differ from their defaults (those the spec writes)."""
        return {
            p.name: getattr(self, p.name)
            for p in self.declared_params()
            if p.required or not _same(getattr(self, p.name), p.default)
        }

    @property
    def n_params(self) -> int:
        """Number of values in the spec: LRBench's #Param for its 13 functions.

        Each explicit scalar counts 1, a list of ints counts its length, a list
        of policies counts the sum of theirs (POLY: 3, or 4 with k1; NSTEP 2+n).
        """
        count = 0
        for value in self.explicit_params().values():
            if isinstance(value, tuple):
                count += sum(v.n_params if isinstance(v, Policy) else 1 for v in value)
            else:
                count += 1
        return count

    @property
    def spec(self) -> str:
        """Canonical text form; defaults are omitted; ``parse(p.spec) == p``."""
        explicit = self.explicit_params()
        parts = [format_value(explicit.pop(name)) for name in self.positional if name in explicit]
        parts += [f"{key}={format_value(value)}" for key, value in explicit.items()]
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        return self.spec

    def __str__(self) -> str:
        return self.spec


def _same(value: object, default: object) -> bool:
    return type(value) is type(default) and value == default


@functools.cache
def _declared_params(cls: type[Policy]) -> tuple[Param, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    params = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        metadata = getattr(hints[field.name], "__metadata__", ())
        constraint = next((m for m in metadata if isinstance(m, Constraint)), None)
        if constraint is None:
            raise TypeError(f"{cls.__name__}.{field.name} declares no constraint")
        params.append(Param(field.name, constraint, field.default))
    return tuple(params)


def registry() -> dict[str, type[Policy]]:
    """Every policy class by lowercase name (``"tri2"``, ``"onecycle"``)."""
    import lrscope.policies  # noqa: F401  (registers every policy module)

    return dict(_REGISTRY)


def policy_names() -> list[str]:
    """Canonical policy names in the order of POLICIES.md."""
    return [cls.name for cls in registry().values()]
