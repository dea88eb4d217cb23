"""Linear interpolation between two weight sets (Goodfellow et al. 2014; Smith and Topin 2017, 3).

For weight sets :math:`\\theta_A`, :math:`\\theta_B` of the same architecture
and coefficients :math:`\\alpha`, the network

.. math::

    \\theta(\\alpha) = (1 - \\alpha)\\,\\theta_A + \\alpha\\,\\theta_B

is evaluated on the task: train loss, train top-1 and the train value of the
task's primary metric (eval mode, on the engine's fixed training subsample,
the one behind the ``ld`` metric), test loss, top-1, top-5 and the primary
metric (whole test set), all through :func:`lrscope.engine.evaluate`. Top-1
and top-5 are NaN for a task that is not classification; the primary metric
(:class:`lrscope.metrics.Scoring`) is top-1 for classification, MSE for
regression, a task's own for others. :math:`\\alpha = 0` is A and :math:`\\alpha = 1`
is B exactly, so the metrics there equal those of the saved networks bit for
bit; values outside [0, 1] extrapolate. Smith and Topin write
:math:`\\alpha\\,net_1 + (1-\\alpha)\\,net_2`: theirs is ours with
:math:`net_1 = B`.

BatchNorm running statistics are buffers and are interpolated like the
weights (``num_batches_tracked`` comes from the nearer end). With
``recompute_bn=True`` they are instead re-estimated for every point on the
training subsample (see :func:`lrscope.landscape.weights.recompute_batchnorm`),
since the mean of two networks' statistics need not describe the mixed
network's activations.

>>> from lrscope.tasks import get_task
>>> result = interpolate(get_task("mnist1d-cnn"), "run/step_001500.pt",
...                      "run/step_002250.pt", alpha_grid(29))  # doctest: +SKIP
>>> result.argmin("test_loss").alpha  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lrscope.engine import Compute, Runtime, evaluate, fixed_subset, iter_batches, resolve
from lrscope.landscape.result import InterpolationPoint, InterpolationResult
from lrscope.landscape.settings import ALPHAS, InterpolationSettings, alpha_grid
from lrscope.landscape.weights import (
    StateDict,
    check_compatible,
    load_weights,
    mix_weights,
    recompute_batchnorm,
)
from lrscope.tasks.base import Task
from lrscope.validation import Text, check

__all__ = ["BN_SEED", "alpha_grid", "evaluate_weights", "interpolate"]

_OWNER = "interpolate"

WeightsLike = str | Path | Mapping[str, Any]
ProgressFn = Callable[[int, int], None]

#: torch seed for the train-mode passes of the BatchNorm re-estimation (dropout
#: layers draw masks there); the caller's RNG state is restored afterwards.
BN_SEED = 0


def _source_name(source: WeightsLike) -> str:
    return str(source) if isinstance(source, (str, Path)) else "<state_dict>"


def evaluate_weights(
    task: Task,
    model: nn.Module,
    alpha: float,
    train_subset: Dataset[Any],
    compute: Compute | None = None,
) -> InterpolationPoint:
    """The metrics of ``model`` (already holding the weights of ``alpha``).

    Both sets go through :func:`lrscope.engine.evaluate` (eval mode, no grad,
    on ``compute``'s device and precision); top-1 and top-5 are NaN for a
    task that is not classification; ``primary`` and ``train_primary`` are
    the task's primary metric (``task.scoring.primary``).
    """
    test = evaluate(model, task.test_data, task.scorer, compute=compute)
    train = evaluate(model, train_subset, task.scorer, compute=compute)
    primary = task.scoring.primary
    return InterpolationPoint(
        alpha=alpha,
        train_loss=train.loss,
        train_top1=train.top1,
        test_loss=test.loss,
        top1=test.top1,
        top5=test.top5,
        train_primary=train.value(primary),
        primary=test.value(primary),
    )


def _recompute(task: Task, model: nn.Module, train_subset: Dataset[Any], compute: Compute) -> None:
    batches = (compute.move(b) for b in iter_batches(train_subset, task.batch_size))

    def forward(net: nn.Module, batch: Any) -> None:
        with compute.autocast():
            task.batch_steps.forward(net, batch)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BN_SEED)
        recompute_batchnorm(model, batches, forward)


def _load_pair(
    task: Task, model: nn.Module, weights_a: WeightsLike, weights_b: WeightsLike
) -> tuple[StateDict, StateDict]:
    name_a, name_b = _source_name(weights_a), _source_name(weights_b)
    state_a, state_b = load_weights(weights_a), load_weights(weights_b)
    check_compatible(state_a, state_b, name_a=f"A ({name_a})", name_b=f"B ({name_b})")
    check_compatible(
        model.state_dict(),
        state_a,
        name_a=f"the model of task {task.name!r}",
        name_b=f"A ({name_a})",
        check_dtype=False,
        hint=f"the weights must come from a model of task {task.name!r}",
    )
    return state_a, state_b


def interpolate(
    task: Task,
    weights_a: WeightsLike,
    weights_b: WeightsLike,
    alphas: Sequence[float] | None = None,
    settings: InterpolationSettings | None = None,
    *,
    label: str = "",
    on_progress: ProgressFn | None = None,
    runtime: Runtime | None = None,
    **options: object,
) -> InterpolationResult:
    """Evaluate the networks :math:`(1-\\alpha)\\,\\theta_A + \\alpha\\,\\theta_B` on ``task``.

    Args:
        task: gives the architecture (``task.model()``), the data and the loss.
        weights_a, weights_b: a ``state_dict`` file (``torch.load(...,
            weights_only=True)``; the engine's snapshots, ``--save-weights``
            files and trial checkpoints all work) or an in-memory
            ``state_dict``. A is at :math:`\\alpha = 0`, B at :math:`\\alpha = 1`.
        alphas: the coefficients, any finite reals, evaluated in this order;
            default: ``settings.alphas()`` (:func:`alpha_grid` of its
            ``points``, ``alpha_min`` and ``alpha_max``).
        settings: points, alpha range, ``recompute_bn`` (re-estimate
            BatchNorm running statistics on the training subsample for every
            point instead of interpolating them; the end metrics ``end_a`` /
            ``end_b`` always use the saved statistics) and ``train_samples``
            (the fixed training subsample, default 10,000 as for the engine's
            train loss; also the data of the BatchNorm re-estimation, in
            batches of ``task.batch_size``): :class:`InterpolationSettings`.
        label: stored with the result (plots, store).
        on_progress: called as ``on_progress(done, total)`` after each
            evaluated network.
        runtime: the device and precision of the evaluations
            (:class:`~lrscope.engine.Runtime`; default ``Runtime()``).
        options: settings by name, replacing those of ``settings``
            (``interpolate(task, a, b, recompute_bn=True)``).

    Returns:
        An :class:`InterpolationResult`; ``points[i]`` belongs to ``alphas[i]``.

    Raises:
        WeightsError: unreadable files, weight sets of different architectures
            (the message names the first mismatching key and both shapes), or
            weights that do not fit the task's model.
        ParameterError: an empty list of alphas, a non-finite alpha, an
            unknown option or a setting outside its range.
    """
    chosen = InterpolationSettings.from_options(settings, **options)
    values: tuple[float, ...] = (
        chosen.alphas() if alphas is None else check(_OWNER, "alphas", alphas, ALPHAS)
    )
    label = check(_OWNER, "label", label, Text(min_length=0, max_length=500))
    compute = resolve(runtime)
    model = task.model().to(compute.device)
    state_a, state_b = _load_pair(task, model, weights_a, weights_b)
    train_subset = fixed_subset(task.train_data, chosen.train_samples)
    total = len(values) + 2
    done = 0

    def measure(alpha: float, state: StateDict, recompute: bool) -> InterpolationPoint:
        nonlocal done
        model.load_state_dict(state)
        if recompute:
            _recompute(task, model, train_subset, compute)
        point = evaluate_weights(task, model, alpha, train_subset, compute)
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        return point

    end_a = measure(0.0, state_a, False)
    end_b = measure(1.0, state_b, False)
    saved = {0.0: end_a, 1.0: end_b}
    points = []
    for alpha in values:
        if not chosen.recompute_bn and alpha in saved:
            points.append(saved[alpha])
            done += 1
            continue
        points.append(measure(alpha, mix_weights(state_a, state_b, alpha), chosen.recompute_bn))
    return InterpolationResult(
        task=task.name,
        source_a=_source_name(weights_a),
        source_b=_source_name(weights_b),
        points=tuple(points),
        end_a=end_a,
        end_b=end_b,
        recompute_bn=chosen.recompute_bn,
        train_samples=min(chosen.train_samples, task.train_size),
        label=label,
        primary_metric=task.scoring.primary,
    )
