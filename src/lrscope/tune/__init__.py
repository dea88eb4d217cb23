"""Automatic tuning: range test -> search around it -> confirmation -> ranking -> time to accuracy.

- :mod:`lrscope.tune.pipeline`: :func:`tune`, the stages.
- :mod:`lrscope.tune.budget`: :class:`TuneBudget` (steps, minutes, trials) and
  the :class:`TunePlan` it is sized into.
- :mod:`lrscope.tune.space`: the search space of every policy family around
  the range test's :class:`LRBounds`.
- :mod:`lrscope.tune.search`: the rounds of Optuna ask-and-tell.
- :mod:`lrscope.tune.select`: finalists and the confirmation.
- :mod:`lrscope.ladder` (below tune: the report reads it too): time to
  accuracy on a budget ladder.
- :mod:`lrscope.tune.result`: :class:`TuneResult` and its summary.

Importing this package imports neither torch nor Optuna.
"""

from __future__ import annotations

from lrscope.ladder import TimeToAccuracy
from lrscope.rank import DEFAULT_TIE
from lrscope.tune.budget import DEFAULT_MAX_EPOCHS, TuneBudget, TunePlan
from lrscope.tune.pipeline import DEFAULT_EXECUTION, tune
from lrscope.tune.result import Compute, TuneResult
from lrscope.tune.search import SearchPoint
from lrscope.tune.space import FAMILIES, LRBounds, SearchSpace

__all__ = [
    "DEFAULT_EXECUTION",
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_TIE",
    "FAMILIES",
    "Compute",
    "LRBounds",
    "SearchPoint",
    "SearchSpace",
    "TimeToAccuracy",
    "TuneBudget",
    "TunePlan",
    "TuneResult",
    "tune",
]
