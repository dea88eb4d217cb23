"""The values a range test's reading gives: suggestions, evaluations, and their errors.

:class:`Suggestion` (one learning rate and the rule that gave it),
:class:`Suggestions` (all of them, or "no usable range" and why),
:class:`RangeEvalPoint` (one evaluation during the test) and
:class:`NoUsableRangeError`. Plain frozen dataclasses with ``to_dict`` /
``from_dict``; nothing here imports torch. They sit below the rules
(:mod:`lrscope.rangetest.suggest`), the plot and the policies built from a
result, which all produce or read them, and below
:class:`~lrscope.rangetest.result.RangeTestResult`, which holds them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lrscope.errors import LRScopeError

__all__ = [
    "SUGGESTION_NAMES",
    "NoUsableRangeError",
    "RangeEvalPoint",
    "Suggestion",
    "Suggestions",
]


def _json_float(value: float | None) -> float | None:
    """``value`` as a float, with NaN and infinities as ``None`` (JSON has neither)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _float(value: Any) -> float:
    """A stored float back; ``None`` (a NaN or infinity when written) reads as NaN."""
    return math.nan if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class RangeEvalPoint:
    """One evaluation on the fixed test subset during a range test.

    ``step`` counts optimizer steps done before the evaluation; ``lr`` is the
    learning rate of the last step taken; ``test_loss`` is the mean loss
    (nats for cross-entropy) and ``top1`` the accuracy (fraction in [0, 1]) on
    the subset.
    """

    step: int
    lr: float
    test_loss: float
    top1: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "lr": self.lr,
            "test_loss": _json_float(self.test_loss),
            "top1": _json_float(self.top1),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeEvalPoint:
        return cls(
            step=int(data["step"]),
            lr=float(data["lr"]),
            test_loss=_float(data["test_loss"]),
            top1=_float(data["top1"]),
        )


@dataclass(frozen=True)
class Suggestion:
    """One suggested learning rate and how it was obtained.

    ``lr`` is always a finite positive number. ``method`` names the rule that
    produced it (``"valley"``, ``"steepest"``, ``"min_div_10"``,
    ``"fall_stops"``, ``"max_lr/4"``, ...); ``fallback`` is ``None`` when the
    named rule applied directly, else the reason the preferred rule could not
    be used (e.g. ``"no descending stretch: flat curve"``). ``index`` is the
    position in the recorded curve the lr was read at, when there is one.
    """

    lr: float
    method: str
    fallback: str | None = None
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestion:
        index = data.get("index")
        fallback = data.get("fallback")
        return cls(
            lr=float(data["lr"]),
            method=str(data["method"]),
            fallback=None if fallback is None else str(fallback),
            index=None if index is None else int(index),
        )


#: The :class:`Suggestion` fields of :class:`Suggestions`, in order.
SUGGESTION_NAMES = (
    "suggested_lr",
    "min_lr",
    "max_lr",
    "onecycle_max_lr",
    "steepest",
    "valley",
    "min_div_10",
)


class NoUsableRangeError(LRScopeError, ValueError):
    """A range test found no usable range, and a learning rate or policy was asked of it.

    The message gives the reason the test gives (:attr:`Suggestions.reason`)
    and what to change. ``reason`` holds that reason alone.
    """

    def __init__(self, what: str, reason: str | None, task: str | None = None) -> None:
        self.reason = reason or "no usable range"
        where = f" of {task}" if task else ""
        super().__init__(
            f"cannot build {what}: the range test{where} found no usable range ({self.reason})"
        )


@dataclass(frozen=True)
class Suggestions:
    """Every number :func:`lrscope.rangetest.suggest` derives from a range test.

    - ``suggested_lr``: the one recommended constant learning rate.
    - ``min_lr``, ``max_lr``: the CLR bounds (Smith 2017, "Cyclical Learning
      Rates", section 3.3; ``min_lr`` is the triangular policies' ``base_lr``).
    - ``onecycle_max_lr``: the peak of a one-cycle (super-convergence) policy.
    - ``steepest``, ``valley``, ``min_div_10``: the individual rules, kept so
      they can be compared and plotted.
    - ``usable``: ``False`` when the test found no range of learning rates
      that trains (the loss never fell clearly, or the curve is too short to
      read); ``reason`` then says why and what to change. The numbers are
      still finite and ordered, and lie where the loss had not yet risen
      above its starting level, but nothing should be built from them.

    Each :class:`Suggestion` records the rule that produced the number and
    any fallback taken. Always ``min_lr <= suggested_lr <= max_lr``.
    """

    suggested_lr: Suggestion
    min_lr: Suggestion
    max_lr: Suggestion
    onecycle_max_lr: Suggestion
    steepest: Suggestion
    valley: Suggestion
    min_div_10: Suggestion
    usable: bool = True
    reason: str | None = None

    def as_pairs(self) -> dict[str, tuple[float, str]]:
        """``{"suggested_lr": (value, method), ...}`` for every suggestion."""
        return {name: (s.lr, s.method) for name, s in self.items()}

    def items(self) -> list[tuple[str, Suggestion]]:
        """``[(name, suggestion), ...]`` in :data:`SUGGESTION_NAMES` order."""
        return [(name, getattr(self, name)) for name in SUGGESTION_NAMES]

    def to_dict(self) -> dict[str, Any]:
        return {
            "usable": self.usable,
            "reason": self.reason,
            **{name: s.to_dict() for name, s in self.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestions:
        """The inverse of :meth:`to_dict`.

        A document written before ``usable`` existed reads as usable with no
        reason (it records what the rules of its time said);
        :meth:`RangeTestResult.from_dict` re-reads such documents instead.
        """
        values = {name: Suggestion.from_dict(data[name]) for name in SUGGESTION_NAMES}
        reason = data.get("reason")
        return cls(
            **values,
            usable=bool(data.get("usable", True)),
            reason=None if reason is None else str(reason),
        )
