"""The :class:`Policy` base class and the registry of policy names.

A policy is an immutable, hashable value: a pure function of the optimizer
step ``t`` (an int, ``t >= 0``) returning a learning rate, and for the
policies that cycle momentum, a momentum value. Concrete policies are frozen,
keyword-only dataclasses whose fields are the parameters of docs/policies.md,
each annotated with its constraint::

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
from dataclasses import dataclass
from typing import Any, ClassVar

from lrscope.validation import INVALID, STEP, Constraint, Interval, Param, Validated, check

__all__ = [
    "LISTED_STEPS",
    "MAX_LISTED_STEPS",
    "Param",
    "Policy",
    "PolicyList",
    "check_step",
    "format_value",
    "policy_names",
    "registry",
]

_REGISTRY: dict[str, type[Policy]] = {}


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


MAX_LISTED_STEPS = 1_000_000
"""The most steps :meth:`Policy.values` lists at once (about 24 MB of floats; ``policies
values --steps`` and ``policies plot --steps`` share it). A longer schedule is
evaluated step by step with ``policy(t)``."""
LISTED_STEPS = Interval(int, 0, MAX_LISTED_STEPS, exact=True)
"""How many steps :meth:`Policy.values` may list: 0 .. :data:`MAX_LISTED_STEPS`."""


def check_step(owner: str, name: str, t: object) -> int:
    """``t`` as an int if it is an integer >= 0, else ParameterError naming ``name``."""
    if type(t) is int and t >= 0:  # the hot path: a scheduler asks every step
        return t
    step: int = check(owner, name, t, STEP)
    return step


class Policy(Validated, abc.ABC):
    """A learning-rate policy: ``lr = policy(t)`` for the optimizer step ``t >= 0``.

    Subclasses are frozen keyword-only dataclasses (see the module docstring)
    and implement :meth:`_lr` (and :meth:`_momentum` if they cycle momentum).
    """

    name: ClassVar[str]
    """Canonical name as in docs/policies.md and in specs (``"TRI2"``, ``"onecycle"``)."""
    family: ClassVar[str]
    """One of fixed, decay, cyclic, onecycle, restarts, ramp, composite."""
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

    # --- declaration and validation (lrscope.validation.Validated) ----------

    @classmethod
    def owner_name(cls) -> str:
        """Error messages name the policy: "The 'l' parameter of TRI2 must be ..."."""
        return cls.name

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
        """``[self(t) for t in range(steps)]``; ``steps`` at most :data:`MAX_LISTED_STEPS`."""
        count: int = check(self.name, "steps", steps, LISTED_STEPS)
        return [self._lr(t) for t in range(count)]

    def momentum_values(self, steps: int) -> list[float | None] | None:
        """``[self.momentum(t) for t in range(steps)]``, or None without momentum.

        ``steps`` is at most :data:`MAX_LISTED_STEPS`.
        """
        count: int = check(self.name, "steps", steps, LISTED_STEPS)
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


@dataclass(frozen=True)
class PolicyList(Constraint):
    """A list of at least ``min_length`` policies (canonical form: a tuple)."""

    min_length: int = 2

    def coerce(self, value: object) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) < self.min_length:
            return INVALID
        if not all(isinstance(v, Policy) for v in value):
            return INVALID
        return tuple(value)

    def describe(self) -> str:
        return f"a list of at least {self.min_length} policies"


def registry() -> dict[str, type[Policy]]:
    """Every policy class by lowercase name (``"tri2"``, ``"onecycle"``).

    Complete whenever it can be called: importing this module first runs the
    package's ``__init__``, which imports every policy module (registration
    happens in :meth:`Policy.__init_subclass__`).
    """
    return dict(_REGISTRY)


def policy_names() -> list[str]:
    """Canonical policy names in the order of docs/policies.md."""
    return [cls.name for cls in registry().values()]
