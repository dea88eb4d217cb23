"""Batched trials: K trials of one task trained in lockstep in one stacked model.

>>> from lrscope.batched import Member, run_batched
>>> results = run_batched(get_task("mnist1d-cnn"),
...                       [Member("FIX(k0=0.05)", seed=0, steps=1000),
...                        Member("TRI2(k0=0.01, k1=0.1, l=250)", seed=0, steps=1000)])
... # doctest: +SKIP

- :mod:`lrscope.batched.layers`: stacked Linear, Conv1d/2d/3d, LayerNorm.
- :mod:`lrscope.batched.conv`: the stacked convolution (im2col, batched GEMM, col2im).
- :mod:`lrscope.batched.model`: which models can be batched, building the stacked model.
- :mod:`lrscope.batched.sgd`: torch.optim.SGD's update with per-member lr and momentum.
- :mod:`lrscope.batched.trainer`: :func:`run_batched` (data, divergence, evaluation, lanes).

Each member's metrics equal those of :func:`lrscope.engine.run_trial` with the
same arguments up to floating-point summation order: the stacked layers sum
their products in another order than torch's own kernels, so losses agree to
about 1e-6 relative at first and the two trajectories drift apart slowly
(chaotically, as any two float orders do) over long runs.
"""

from __future__ import annotations

from lrscope.batched.model import batching_problem, stack_model
from lrscope.batched.trainer import (
    PROBE_RTOL,
    BatchingError,
    Member,
    run_batched,
    task_batching_problem,
)

__all__ = [
    "PROBE_RTOL",
    "BatchingError",
    "Member",
    "batching_problem",
    "run_batched",
    "stack_model",
    "task_batching_problem",
]
