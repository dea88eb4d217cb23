"""The LR range test, its suggestions, and momentum and weight-decay sweeps.

>>> from lrscope.rangetest import range_test
>>> from lrscope.tasks import get_task
>>> result = range_test(get_task("mnist1d-cnn"), seed=0)   # doctest: +SKIP
>>> result.suggestion, result.onecycle(epochs=30, steps_per_epoch=32)  # doctest: +SKIP
>>> result.plot()                                                     # doctest: +SKIP

- :func:`range_test` (a :class:`~lrscope.tasks.Task`) and :func:`lr_range_test`
  (your own model, optimizer, loss and loader) run the test (Smith 2017,
  section 3.3) as :class:`RangeTestSettings` say and return a frozen
  :class:`RangeTestResult`.
- :func:`suggest` reads the learning rates off a result (pure; each number
  says which rule produced it): ``suggested_lr``, the CLR bounds ``min_lr`` and
  ``max_lr``, the one-cycle peak, and the ``steepest``, ``valley`` and
  ``min_div_10`` rules, or says that the test found no usable range
  (:attr:`Suggestions.usable`). :mod:`lrscope.rangetest.reading` is the
  robust curve they are read on.
- Policies from a result, the budget in steps or epochs: ``fixed``,
  ``onecycle``, ``triangular``, ``triangular2``, ``exp_range``, ``cosine``,
  ``sgdr`` (methods of :class:`RangeTestResult`, :mod:`lrscope.rangetest.policies`);
  :class:`NoUsableRangeError` when there is no range to build from.
- :func:`momentum_sweep` and :func:`weight_decay_search` compare short
  one-cycle runs on the test loss (Smith 2018, "A disciplined approach to
  neural network hyper-parameters", section 4.2; Mohsin, Ma and Fu) as
  :class:`MomentumSweepSettings` / :class:`WeightDecaySettings` say
  -> :class:`SweepResult`.
- :func:`plot_range_test` writes a figure, :meth:`RangeTestResult.plot` draws
  on axes (matplotlib, imported when called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrscope._lazy import lazy_exports
from lrscope.rangetest.plot import draw_range_test, plot_range_test
from lrscope.rangetest.reading import Reading, read_curve, robust_loss
from lrscope.rangetest.result import (
    NoUsableRangeError,
    RangeEvalPoint,
    RangeTestResult,
    Suggestion,
    Suggestions,
)
from lrscope.rangetest.settings import (
    DEFAULT_MOMENTA,
    MomentumSweepSettings,
    RangeTestSettings,
    WeightDecaySettings,
    default_steps,
)
from lrscope.rangetest.suggest import (
    clr_bounds,
    max_lr,
    min_div_10,
    min_lr,
    onecycle_max_lr,
    steepest,
    suggest,
    suggested_lr,
    valley,
)

# The runners import torch; settings, results, suggestions and plots do not, so
# reading stored range tests (the report, recommend) stays light. PEP 562 lazy names:
_LAZY = {
    "lr_range_test": "lrscope.rangetest.run",
    "range_test": "lrscope.rangetest.run",
    "SweepResult": "lrscope.rangetest.sweep",
    "SweepRow": "lrscope.rangetest.sweep",
    "momentum_sweep": "lrscope.rangetest.sweep",
    "weight_decay_search": "lrscope.rangetest.sweep",
}

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rangetest.run import lr_range_test, range_test
    from lrscope.rangetest.sweep import (
        SweepResult,
        SweepRow,
        momentum_sweep,
        weight_decay_search,
    )

__all__ = [
    "DEFAULT_MOMENTA",
    "MomentumSweepSettings",
    "NoUsableRangeError",
    "RangeEvalPoint",
    "RangeTestResult",
    "RangeTestSettings",
    "Reading",
    "Suggestion",
    "Suggestions",
    "SweepResult",
    "SweepRow",
    "WeightDecaySettings",
    "clr_bounds",
    "default_steps",
    "draw_range_test",
    "lr_range_test",
    "max_lr",
    "min_div_10",
    "min_lr",
    "momentum_sweep",
    "onecycle_max_lr",
    "plot_range_test",
    "range_test",
    "read_curve",
    "robust_loss",
    "steepest",
    "suggest",
    "suggested_lr",
    "valley",
    "weight_decay_search",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
