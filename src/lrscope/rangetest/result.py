"""What a range test produces: its curves, where it stopped, and the suggestions.

These are plain frozen dataclasses with ``to_dict`` / ``from_dict`` so a result
goes into the results store (``store.put_range_test(task, result.to_dict())``)
and through ``lrscope find --json`` as JSON, without pickling anything.
Nothing here imports torch; :meth:`RangeTestResult.plot` imports matplotlib
when called, and the policy methods (:meth:`RangeTestResult.onecycle`, ...)
delegate to :mod:`lrscope.rangetest.policies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lrscope.rangetest import policies as _policies
from lrscope.rangetest.suggest import suggest
from lrscope.rangetest.suggestions import (
    SUGGESTION_NAMES,
    NoUsableRangeError,
    RangeEvalPoint,
    Suggestion,
    Suggestions,
    _float,
    _json_float,
    _optional_int,
)

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
        return _policies.fixed(self)

    def onecycle(
        self,
        total_steps: int | None = None,
        *,
        epochs: int | float | None = None,
        steps_per_epoch: int | None = None,
        **options: Any,
    ) -> OneCycle:
        """One cycle up to ``onecycle_max_lr`` (:func:`lrscope.rangetest.policies.onecycle`)."""
        return _policies.onecycle(
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
        return _policies.triangular(
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
        return _policies.triangular2(
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
        return _policies.exp_range(
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
        return _policies.cosine(
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
        return _policies.sgdr(self, total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch)

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
