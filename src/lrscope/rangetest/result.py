"""What a range test produces: its curves, where it stopped, and the suggestions.

These are plain frozen dataclasses with ``to_dict`` / ``from_dict`` so a result
goes into the results store (``store.put_range_test(task, result.to_dict())``)
and through ``lrscope find --json`` as JSON, without pickling anything.
Nothing here imports torch; :meth:`RangeTestResult.plot` imports matplotlib
when called, and the policy methods (:meth:`RangeTestResult.onecycle`, ...)
delegate to :mod:`lrscope.rangetest.policies`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lrscope.errors import LRScopeError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from lrscope.policies import COS, FIX, SGDR, ExpRange, OneCycle, Triangular, Triangular2

__all__ = [
    "SUGGESTION_NAMES",
    "NoUsableRangeError",
    "RangeEvalPoint",
    "RangeTestResult",
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


@dataclass(frozen=True)
class RangeTestResult:
    """The outcome of :func:`lrscope.rangetest.range_test` or ``lr_range_test``.

    Curves (one entry per optimizer step taken, all the same length):

    - ``lr``: the learning rate used for that step.
    - ``loss``: the training loss of that step's mini-batch, measured before
      the update (nats for cross-entropy).
    - ``smoothed_loss``: the debiased exponential moving average
      :math:`s_i = a_i / (1 - \\beta^{i+1})` with
      :math:`a_i = \\beta a_{i-1} + (1 - \\beta) \\ell_i`, :math:`a_{-1} = 0`,
      :math:`\\beta` = ``smooth``.

    ``evals`` holds the test-subset evaluations (empty unless ``eval_every``
    was given). ``diverged_at`` is the step whose smoothed loss, and the
    median of the batch losses around it, exceeded ``diverge_factor`` times the
    smallest smoothed loss so far (or whose loss was not finite; see
    :mod:`lrscope.rangetest.run`); the test stopped after recording it. ``diverged_lr`` is
    the lr of that step. ``task`` is the task name (``None`` for a user's own
    model), ``seed`` the seed the task's model and batches were drawn with
    (``None`` for a user's own model). ``wall_s`` is the wall time in seconds.
    """

    mode: str
    start_lr: float
    end_lr: float
    steps: int
    smooth: float
    diverge_factor: float
    lr: tuple[float, ...]
    loss: tuple[float, ...]
    smoothed_loss: tuple[float, ...]
    task: str | None = None
    seed: int | None = None
    eval_every: int | None = None
    eval_samples: int | None = None
    evals: tuple[RangeEvalPoint, ...] = ()
    diverged_at: int | None = None
    diverged_lr: float | None = None
    wall_s: float = 0.0
    suggestions: Suggestions | None = field(default=None, compare=False)

    @property
    def steps_done(self) -> int:
        """Optimizer steps actually taken (fewer than ``steps`` after divergence)."""
        return len(self.lr)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def _found(self) -> Suggestions:
        from lrscope.rangetest.suggest import suggest

        return self.suggestions or suggest(self)

    @property
    def usable(self) -> bool:
        """False when the test found no usable range (:attr:`Suggestions.reason` says why)."""
        return self._found().usable

    @property
    def suggestion(self) -> float:
        """The one learning rate to use: ``suggestions.suggested_lr.lr`` (a float > 0).

        Raises:
            NoUsableRangeError: the test found no usable range; the message says why.
        """
        found = self._found()
        if not found.usable:
            raise NoUsableRangeError("a learning rate", found.reason, self.task)
        return found.suggested_lr.lr

    def plot(self, ax: Axes | None = None, *, title: str | None = None) -> Axes:
        """Draw the test on ``ax`` (a new pyplot figure when None) and return the axes.

        See :func:`lrscope.rangetest.plot.draw_range_test`; matplotlib is
        imported here, when called.
        """
        from lrscope.rangetest.plot import draw_range_test

        return draw_range_test(self, ax, title=title)

    def fixed(self) -> FIX:
        """``FIX(k0=suggested_lr)`` (:func:`lrscope.rangetest.policies.fixed`)."""
        from lrscope.rangetest import policies

        return policies.fixed(self)

    def onecycle(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        **options: Any,
    ) -> OneCycle:
        """One cycle up to ``onecycle_max_lr`` (:func:`lrscope.rangetest.policies.onecycle`)."""
        from lrscope.rangetest import policies

        return policies.onecycle(
            self, total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch, **options
        )

    def triangular(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        stepsize: int | None = None,
        **options: Any,
    ) -> Triangular:
        """``triangular`` between the bounds (:func:`lrscope.rangetest.policies.triangular`)."""
        from lrscope.rangetest import policies

        return policies.triangular(
            self,
            total_steps,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            stepsize=stepsize,
            **options,
        )

    def triangular2(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        stepsize: int | None = None,
        **options: Any,
    ) -> Triangular2:
        """``triangular2`` between the bounds (:func:`lrscope.rangetest.policies.triangular2`)."""
        from lrscope.rangetest import policies

        return policies.triangular2(
            self,
            total_steps,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            stepsize=stepsize,
            **options,
        )

    def exp_range(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        stepsize: int | None = None,
        gamma: float | None = None,
        **options: Any,
    ) -> ExpRange:
        """``exp_range`` between the bounds (:func:`lrscope.rangetest.policies.exp_range`)."""
        from lrscope.rangetest import policies

        return policies.exp_range(
            self,
            total_steps,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            stepsize=stepsize,
            gamma=gamma,
            **options,
        )

    def cosine(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        stepsize: int | None = None,
    ) -> COS:
        """LRBench's ``COS`` between the bounds (:func:`lrscope.rangetest.policies.cosine`)."""
        from lrscope.rangetest import policies

        return policies.cosine(
            self, total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch, stepsize=stepsize
        )

    def sgdr(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
    ) -> SGDR:
        """Warm restarts from ``max_lr`` (:func:`lrscope.rangetest.policies.sgdr`)."""
        from lrscope.rangetest import policies

        return policies.sgdr(self, total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch)

    def params(self) -> dict[str, Any]:
        """The settings the test ran with."""
        return {
            "mode": self.mode,
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "steps": self.steps,
            "smooth": self.smooth,
            "diverge_factor": self.diverge_factor,
            "eval_every": self.eval_every,
            "eval_samples": self.eval_samples,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; NaN and infinite losses become ``None``."""
        return {
            "task": self.task,
            "seed": self.seed,
            **self.params(),
            "lr": list(self.lr),
            "loss": [_json_float(v) for v in self.loss],
            "smoothed_loss": [_json_float(v) for v in self.smoothed_loss],
            "evals": [p.to_dict() for p in self.evals],
            "diverged_at": self.diverged_at,
            "diverged_lr": self.diverged_lr,
            "wall_s": self.wall_s,
            "suggestions": None if self.suggestions is None else self.suggestions.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """The inverse of :meth:`to_dict` (``None`` losses read back as NaN).

        A document written by an older lrscope, whose suggestions carry no
        ``usable`` state, is re-read: its suggestions are computed afresh from
        its curves by :func:`lrscope.rangetest.suggest`, so a stored test
        gives the same numbers as a new one with the same curves.
        """
        suggestions = data.get("suggestions")
        result = cls._from_curves(data)
        if suggestions is not None and "usable" in suggestions:
            return replace(result, suggestions=Suggestions.from_dict(suggestions))
        if suggestions is None:
            return result
        from lrscope.rangetest.suggest import suggest

        return replace(result, suggestions=suggest(result))

    @classmethod
    def _from_curves(cls, data: Mapping[str, Any]) -> RangeTestResult:
        return cls(
            mode=str(data["mode"]),
            start_lr=float(data["start_lr"]),
            end_lr=float(data["end_lr"]),
            steps=int(data["steps"]),
            smooth=float(data["smooth"]),
            diverge_factor=float(data["diverge_factor"]),
            lr=tuple(float(v) for v in data["lr"]),
            loss=tuple(_float(v) for v in data["loss"]),
            smoothed_loss=tuple(_float(v) for v in data["smoothed_loss"]),
            task=None if data.get("task") is None else str(data["task"]),
            seed=_optional_int(data.get("seed")),
            eval_every=_optional_int(data.get("eval_every")),
            eval_samples=_optional_int(data.get("eval_samples")),
            diverged_at=_optional_int(data.get("diverged_at")),
            evals=tuple(RangeEvalPoint.from_dict(p) for p in data.get("evals", ())),
            diverged_lr=None if data.get("diverged_lr") is None else float(data["diverged_lr"]),
            wall_s=float(data.get("wall_s", 0.0)),
        )
