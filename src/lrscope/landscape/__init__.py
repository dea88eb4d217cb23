"""Loss-landscape tools: linear interpolation between weight sets (Smith and Topin 2017, Fig. 3).

- :func:`interpolate` evaluates the networks
  :math:`(1-\\alpha)\\,\\theta_A + \\alpha\\,\\theta_B` on a task and returns an
  :class:`InterpolationResult` (frozen, ``to_dict`` / ``from_dict``).
- :class:`InterpolationSettings` says which networks (points, alpha range)
  and on what (BatchNorm handling, training subsample); :func:`alpha_grid`
  makes the usual coefficients (default -0.2 to 1.2, always holding 0 and 1).
- :func:`load_weights`, :func:`check_compatible`, :func:`mix_weights`,
  :func:`recompute_batchnorm`: the pieces, for other uses.
- :func:`plot_interpolations` draws several results side by side
  (matplotlib, imported when called).

Weight sets come from the engine: ``run_trial(..., snapshot_dir=D,
snapshot_every_cycle=True)`` (or ``lrscope train --snapshot-every-cycle
--snapshot-dir D``) writes ``D/step_000750.pt`` at the end of every policy
cycle.

The settings, the result types and the plots do not need torch; the rest is imported on
first use (PEP 562), so ``from lrscope.landscape import InterpolationResult``
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrscope._lazy import lazy_exports
from lrscope.landscape.plot import plot_interpolation, plot_interpolations
from lrscope.landscape.result import (
    METRICS,
    InterpolationPoint,
    InterpolationResult,
    LandscapeError,
)
from lrscope.landscape.settings import InterpolationSettings, alpha_grid

_LAZY: dict[str, str] = {
    "evaluate_weights": "lrscope.landscape.interpolation",
    "interpolate": "lrscope.landscape.interpolation",
    "WeightsError": "lrscope.landscape.weights",
    "check_compatible": "lrscope.landscape.weights",
    "load_weights": "lrscope.landscape.weights",
    "mix_weights": "lrscope.landscape.weights",
    "recompute_batchnorm": "lrscope.landscape.weights",
}

__all__ = [
    "METRICS",
    "InterpolationPoint",
    "InterpolationResult",
    "InterpolationSettings",
    "LandscapeError",
    "alpha_grid",
    "plot_interpolation",
    "plot_interpolations",
    *_LAZY,
]

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.landscape.interpolation import evaluate_weights as evaluate_weights
    from lrscope.landscape.interpolation import interpolate as interpolate
    from lrscope.landscape.weights import WeightsError as WeightsError
    from lrscope.landscape.weights import check_compatible as check_compatible
    from lrscope.landscape.weights import load_weights as load_weights
    from lrscope.landscape.weights import mix_weights as mix_weights
    from lrscope.landscape.weights import recompute_batchnorm as recompute_batchnorm


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
