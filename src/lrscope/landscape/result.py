"""What an interpolation produces: frozen dataclasses, no torch import.

Kept free of torch so the store, the report and the plots can read stored
interpolations (``InterpolationResult.from_dict``) without loading a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lrscope.errors import LRScopeError
from lrscope.validation import Choice, check

__all__ = ["METRICS", "InterpolationPoint", "InterpolationResult", "LandscapeError"]

#: The per-point metrics every stored point has, in the order they are reported.
METRICS: tuple[str, ...] = ("train_loss", "train_top1", "test_loss", "top1", "top5")


_SAME = 1e-5
"""Relative difference under which a metric equals the loss (float32 losses against
float64 metrics differ by about 1e-7)."""


class LandscapeError(LRScopeError, ValueError):
    """Bad input to the loss-landscape tools (alphas, sample counts, plot options)."""


@dataclass(frozen=True)
class InterpolationPoint:
    """The metrics of one network on the line, at coefficient ``alpha``.

    Losses are the mean of the task's loss function (nats for a
    classification's cross-entropy, squared target units for a regression's
    MSE); top-1 and top-5 are fractions in [0, 1], NaN for a task that is not
    classification. ``primary`` and ``train_primary`` are the task's primary
    metric (:class:`lrscope.metrics.Scoring`: top-1 for classification, MSE
    for regression, a task's own for others; named by
    :attr:`InterpolationResult.primary_metric`) on the test set and on the
    training subsample. ``train_loss``, ``train_top1`` and ``train_primary``
    are measured in eval mode on the engine's fixed training subsample; the
    others on the whole test set.
    """

    alpha: float
    train_loss: float
    train_top1: float
    test_loss: float
    top1: float
    top5: float
    train_primary: float = math.nan
    primary: float = math.nan

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InterpolationPoint:
        """A stored point; one stored before points carried ``primary`` reads its top-1 there
        (every interpolation stored then reported a classification's top-1)."""
        fields = {name: _float(data[name]) for name in ("alpha", *METRICS)}
        fields["train_primary"] = _float(data.get("train_primary", data["train_top1"]))
        fields["primary"] = _float(data.get("primary", data["top1"]))
        return cls(**fields)


@dataclass(frozen=True)
class InterpolationResult:
    """Loss and the task's primary metric along the line between two weight sets.

    The networks are :math:`\\theta(\\alpha) = (1-\\alpha)\\theta_A + \\alpha\\theta_B`.

    Attributes:
        task: the task's name.
        source_a, source_b: where the weight sets came from (file path, or
            ``"<state_dict>"``); A sits at :math:`\\alpha = 0`, B at 1.
        points: one per requested alpha, in the order requested.
        end_a, end_b: the saved networks A and B evaluated as loaded (their
            own BatchNorm statistics, whatever ``recompute_bn`` says).
        recompute_bn: whether the BatchNorm statistics of every point were
            re-estimated on training data instead of interpolated.
        train_samples: size of the training subsample (train metrics and the
            BatchNorm re-estimation).
        label: free text for plots and the store (e.g. ``"TRI cycles 2-3"``).
        primary_metric: the name of the task's primary metric, whose values
            are each point's ``primary`` and ``train_primary`` (``"top1"``
            for classification and for results stored before results named
            it, ``"mse"`` for regression, ``"test_loss"`` for a task scored
            by its loss alone).
    """

    task: str
    source_a: str
    source_b: str
    points: tuple[InterpolationPoint, ...]
    end_a: InterpolationPoint
    end_b: InterpolationPoint
    recompute_bn: bool
    train_samples: int
    label: str = ""
    primary_metric: str = "top1"

    @property
    def alphas(self) -> tuple[float, ...]:
        return tuple(p.alpha for p in self.points)

    def primary_of(self, point: InterpolationPoint) -> tuple[float, float]:
        """``(train, test)`` values of the primary metric at ``point``: its top-1 for a
        classification (so points built with top-1 alone read as before), else
        ``(train_primary, primary)``."""
        if self.primary_metric == "top1":
            return point.train_top1, point.top1
        return point.train_primary, point.primary

    @property
    def shows_primary(self) -> bool:
        """Whether the primary metric adds to the losses, so tables and plots show it.

        False when it is the test loss itself (a task scored by its loss
        alone), when no point has a finite value (not measured), or when it
        equals the loss at every point on both sets (a regression trained on
        the MSE it is scored by: the columns would repeat the losses).
        """
        if self.primary_metric == "test_loss":
            return False
        pairs: list[tuple[float, float]] = []
        for p in (self.end_a, self.end_b, *self.points):
            train, test = self.primary_of(p)
            pairs += [(train, p.train_loss), (test, p.test_loss)]
        if not any(math.isfinite(value) for value, _ in pairs):
            return False
        return not all(math.isclose(v, loss, rel_tol=_SAME, abs_tol=0.0) for v, loss in pairs)

    def argmin(self, metric: str = "test_loss") -> InterpolationPoint:
        """The point with the smallest ``metric`` (the first one on ties; NaN never wins)."""
        _check_metric("InterpolationResult.argmin", metric)
        finite = [p for p in self.points if math.isfinite(getattr(p, metric))]
        if not finite:
            raise LandscapeError(f"no point has a finite {metric}")
        return min(finite, key=lambda p: float(getattr(p, metric)))

    def barrier(self, metric: str = "train_loss") -> float:
        """Height of the bump of ``metric`` between the ends, in the metric's units.

        .. math::

            \\max_{0 \\le \\alpha \\le 1} \\;
            m(\\alpha) - \\big[(1-\\alpha)\\,m(A) + \\alpha\\,m(B)\\big]

        over the evaluated points with ``0 <= alpha <= 1``. Positive: the
        line crosses a ridge between the two solutions (two distinct minima in
        the sense of Smith and Topin 2017, Figure 3b); near zero or negative: a convex
        valley (Figure 3a).
        """
        _check_metric("InterpolationResult.barrier", metric)
        m_a, m_b = getattr(self.end_a, metric), getattr(self.end_b, metric)
        gaps = [
            getattr(p, metric) - ((1.0 - p.alpha) * m_a + p.alpha * m_b)
            for p in self.points
            if 0.0 <= p.alpha <= 1.0
        ]
        if not gaps:
            raise LandscapeError("barrier needs at least one point with 0 <= alpha <= 1")
        return float(max(gaps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "source_a": self.source_a,
            "source_b": self.source_b,
            "label": self.label,
            "primary_metric": self.primary_metric,
            "recompute_bn": self.recompute_bn,
            "train_samples": self.train_samples,
            "end_a": self.end_a.to_dict(),
            "end_b": self.end_b.to_dict(),
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InterpolationResult:
        return cls(
            task=str(data["task"]),
            source_a=str(data["source_a"]),
            source_b=str(data["source_b"]),
            points=tuple(InterpolationPoint.from_dict(p) for p in data["points"]),
            end_a=InterpolationPoint.from_dict(data["end_a"]),
            end_b=InterpolationPoint.from_dict(data["end_b"]),
            recompute_bn=bool(data["recompute_bn"]),
            train_samples=int(data["train_samples"]),
            label=str(data.get("label", "")),
            primary_metric=str(data.get("primary_metric", "top1")),
        )


def _float(value: Any) -> float:
    """JSON writes NaN as null (``cli._common.print_json``): read it back as NaN."""
    return math.nan if value is None else float(value)


def _check_metric(owner: str, metric: str) -> None:
    check(owner, "metric", metric, Choice(METRICS))
