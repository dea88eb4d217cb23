"""Momentum sweep and weight-decay search (Smith 2018, section 4; Mohsin, Ma and Fu, 4.2).

Both compare short one-cycle runs at the lr found by the range test, one run
per candidate value (and seed), on the loss of the test set at the end of the
run: the validation loss is what Mohsin, Ma and Fu read, because it shows both
under-fitting (too much regularisation, too little momentum) and
over-fitting (too little regularisation) in one number, where accuracy
saturates.

- :func:`momentum_sweep`: each candidate momentum (default 0.8, 0.85, 0.9,
  0.95, 0.99) held constant through the run; the policy does not cycle
  momentum, so the candidate is what is measured.
- :func:`weight_decay_search`: a coarse search over decades (1e-2 down to
  1e-7), then a fine one at the 1-3-10 grid neighbours of the best coarse
  value (3e-7 and 3e-6 around 1e-6; Mohsin, Ma and Fu land on such values).

Each run is :func:`lrscope.engine.run_trial` on the task with its optimizer
factory wrapped (``dataclasses.replace(task, optimizer=...)``) so that every
parameter group gets the candidate value; the policy is
``onecycle(max_lr=lr, total_steps=steps, cycle_momentum=false)``, with a
range-test peak rounded to three significant digits as every spec lrscope
builds (:func:`lrscope.policies.rounding.round_sig`).

Each row also carries the task's primary metric (:class:`lrscope.metrics.Scoring`:
final test top-1 for classification, final MSE for regression, a task's own
for others) as the mean over the seeds of its final value, shown beside the
test loss; the test loss alone picks the best value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from lrscope.engine.trial import run_trial
from lrscope.errors import ParameterError
from lrscope.policies import onecycle
from lrscope.policies.rounding import round_sig
from lrscope.rangetest.settings import (
    COARSE_WEIGHT_DECAYS,
    DEFAULT_MOMENTA,
    FINE_FACTOR,
    MomentumSweepSettings,
    SweepSettings,
    WeightDecaySettings,
    default_sweep_steps,
)
from lrscope.tasks.base import OptimizerFactory, Task

__all__ = [
    "COARSE_WEIGHT_DECAYS",
    "DEFAULT_MOMENTA",
    "FINE_FACTOR",
    "SweepResult",
    "SweepRow",
    "default_sweep_steps",
    "momentum_sweep",
    "weight_decay_search",
]

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepRow:
    """One candidate value and what its short runs gave.

    ``test_loss`` is the mean over the seeds of the final test loss (in the
    task's loss units: nats for a classification's cross-entropy); a diverged
    run counts as infinite loss. ``primary`` is the mean over the seeds of the
    final value of the task's primary metric, whose name is ``metric``
    (``"top1"``, a fraction, for classification; ``"mse"`` for regression;
    NaN when a seed has none). ``phase`` is ``"sweep"`` (momentum),
    ``"coarse"`` or ``"fine"`` (weight decay). ``test_losses`` holds the
    per-seed values.

    JSON (:meth:`to_dict`) names the metric (``"metric"``) beside its value
    (``"primary"``); :meth:`from_dict` also reads rows written before rows
    named their metric, whose value was top-1 (``"top1"``).
    """

    value: float
    phase: str
    test_loss: float
    primary: float
    diverged: bool
    test_losses: tuple[float, ...]
    metric: str = "top1"

    @property
    def top1(self) -> float:
        """The mean final top-1 (fraction); NaN for a task whose primary metric is another."""
        return self.primary if self.metric == "top1" else math.nan

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("test_loss", "primary"):
            if not math.isfinite(data[key]):
                data[key] = None
        data["test_losses"] = [v if math.isfinite(v) else None for v in self.test_losses]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepRow:
        def num(value: Any) -> float:
            return math.inf if value is None else float(value)

        metric = str(data.get("metric", "top1"))
        primary = data["primary"] if "primary" in data else data["top1"]
        return cls(
            value=float(data["value"]),
            phase=str(data["phase"]),
            test_loss=num(data["test_loss"]),
            primary=math.nan if primary is None else float(primary),
            diverged=bool(data["diverged"]),
            test_losses=tuple(num(v) for v in data["test_losses"]),
            metric=metric,
        )


@dataclass(frozen=True)
class SweepResult:
    """The outcome of a momentum sweep or a weight-decay search.

    ``parameter`` is ``"momentum"`` or ``"weight_decay"``; ``best`` the value of
    the row with the lowest mean test loss (the first such row on ties);
    ``lr`` the one-cycle peak used (a range test's rounded to three
    significant digits) and ``lr_method`` where it came from (``"given"`` or
    the range test's rule); ``policy`` the spec of every run; ``metric`` the
    name of the task's primary metric that the rows report beside the test
    loss (``"top1"`` in results written before results named it).
    """

    task: str
    parameter: str
    best: float
    lr: float
    lr_method: str
    policy: str
    steps: int
    seeds: tuple[int, ...]
    rows: tuple[SweepRow, ...]
    metric: str = "top1"

    @property
    def best_row(self) -> SweepRow:
        return next(row for row in self.rows if row.value == self.best)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        data["rows"] = [row.to_dict() for row in self.rows]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepResult:
        return cls(
            task=str(data["task"]),
            parameter=str(data["parameter"]),
            best=float(data["best"]),
            lr=float(data["lr"]),
            lr_method=str(data["lr_method"]),
            policy=str(data["policy"]),
            steps=int(data["steps"]),
            seeds=tuple(int(s) for s in data["seeds"]),
            rows=tuple(SweepRow.from_dict(r) for r in data["rows"]),
            metric=str(data.get("metric", "top1")),
        )


@dataclass(frozen=True)
class _Override:
    """An optimizer factory that sets one hyper-parameter in every param group.

    ``key`` is ``"momentum"`` (SGD, RMSprop; ``betas[0]`` for the Adam family)
    or ``"weight_decay"``. A plain picklable object, so it crosses process
    boundaries like the task it is part of.
    """

    base: OptimizerFactory
    key: str
    value: float

    def __call__(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        optimizer = self.base(params)
        for group in [*optimizer.param_groups, optimizer.defaults]:
            if self.key == "momentum" and "momentum" not in group and "betas" in group:
                group["betas"] = (self.value, group["betas"][1])
            elif self.key in group:
                group[self.key] = self.value
            else:
                raise ParameterError(
                    f"the {self.key} sweep",
                    "task.optimizer",
                    f"an optimizer with a {self.key!r} hyper-parameter"
                    + (" (or Adam's betas)" if self.key == "momentum" else ""),
                    type(optimizer).__name__,
                )
        return optimizer


def _resolve_lr(task: Task, lr: float | None, seed: int) -> tuple[float, str]:
    """``lr`` when given, else the range test's one-cycle peak for ``task`` (three
    significant digits, as :meth:`~lrscope.rangetest.RangeTestResult.onecycle` rounds it)."""
    if lr is not None:
        return lr, "given"
    from lrscope.rangetest.run import range_test
    from lrscope.rangetest.suggest import suggest

    peak = suggest(range_test(task, seed=seed)).onecycle_max_lr
    return round_sig(peak.lr), f"range_test:{peak.method}"


def _measure(
    task: Task,
    key: str,
    value: float,
    phase: str,
    policy_spec: str,
    steps: int,
    seeds: Sequence[int],
) -> SweepRow:
    variant = replace(task, optimizer=_Override(task.optimizer, key, value))
    metric = task.scoring.primary
    losses: list[float] = []
    finals: list[float] = []
    diverged = False
    for seed in seeds:
        result = run_trial(variant, policy_spec, steps=steps, seed=seed, eval_every=steps)
        final = result.curve[-1].test_loss if result.curve else math.inf
        bad = result.diverged or not math.isfinite(final)
        diverged = diverged or result.diverged
        losses.append(math.inf if bad else final)
        finals.append(result.metrics.get(metric, math.nan))
    return SweepRow(
        value=value,
        phase=phase,
        test_loss=sum(losses) / len(losses),
        primary=sum(finals) / len(finals),
        diverged=diverged,
        test_losses=tuple(losses),
        metric=metric,
    )


def _best(rows: Sequence[SweepRow]) -> SweepRow:
    return min(rows, key=lambda row: row.test_loss)


@dataclass(frozen=True)
class _Run:
    """What every run of one sweep shares."""

    task: Task
    key: str
    lr: float
    lr_method: str
    steps: int
    seeds: tuple[int, ...]
    on_progress: ProgressFn | None

    @property
    def policy(self) -> str:
        params: dict[str, Any] = {
            "max_lr": self.lr,
            "total_steps": self.steps,
            "cycle_momentum": False,
        }
        return onecycle(**params).spec

    def rows(self, values: Sequence[float], phase: str, done: int, total: int) -> list[SweepRow]:
        out = []
        for i, value in enumerate(values):
            out.append(
                _measure(self.task, self.key, value, phase, self.policy, self.steps, self.seeds)
            )
            if self.on_progress is not None:
                self.on_progress(done + i + 1, total)
        return out

    def result(self, parameter: str, rows: Sequence[SweepRow]) -> SweepResult:
        return SweepResult(
            task=self.task.name,
            parameter=parameter,
            best=_best(rows).value,
            lr=self.lr,
            lr_method=self.lr_method,
            policy=self.policy,
            steps=self.steps,
            seeds=self.seeds,
            rows=tuple(rows),
            metric=self.task.scoring.primary,
        )


def _prepare(task: Task, settings: SweepSettings, key: str, on_progress: ProgressFn | None) -> _Run:
    peak, method = _resolve_lr(task, settings.lr, settings.seeds[0])
    steps = settings.steps_for(task.steps_per_epoch)
    return _Run(task, key, peak, method, steps, settings.seeds, on_progress)


def momentum_sweep(
    task: Task,
    settings: MomentumSweepSettings | None = None,
    *,
    on_progress: ProgressFn | None = None,
    **options: object,
) -> SweepResult:
    """Short one-cycle runs at constant momentum ``m`` for each candidate ``m``.

    Args:
        task: the task; its optimizer must have ``momentum`` (or Adam's ``betas``,
            whose first entry is set).
        settings: candidates (``momenta``, each in [0, 1)), peak ``lr``
            (default: a range test's ``onecycle_max_lr``), ``steps`` per run
            and ``seeds``: :class:`~lrscope.rangetest.MomentumSweepSettings`.
        on_progress: called as ``on_progress(candidates_done, candidates)``.
        options: settings by name, replacing those of ``settings``.

    Returns:
        A :class:`SweepResult` whose ``best`` has the lowest mean test loss.

    Raises:
        ParameterError: an unknown option, a value outside its range, or an
            optimizer without momentum.
    """
    chosen = MomentumSweepSettings.from_options(settings, **options)
    run = _prepare(task, chosen, "momentum", on_progress)
    rows = run.rows(chosen.momenta, "sweep", 0, len(chosen.momenta))
    return run.result("momentum", rows)


def weight_decay_search(
    task: Task,
    settings: WeightDecaySettings | None = None,
    *,
    on_progress: ProgressFn | None = None,
    **options: object,
) -> SweepResult:
    """Coarse then fine search of the weight decay ``wd`` on the test loss.

    The coarse candidates (default 1e-2, 1e-3, ..., 1e-7) are run first; then
    the neighbours of the best one on the 1-3-10 grid, ``best * fine_factor / 10``
    and ``best * fine_factor`` (default factor 3: 3e-7 and 3e-6 around 1e-6,
    as Mohsin, Ma and Fu search), skipping values already run. ``best`` is the
    lowest mean test loss over all rows. ``settings``
    (:class:`~lrscope.rangetest.WeightDecaySettings`), ``on_progress`` and
    ``options`` as :func:`momentum_sweep`; the task's optimizer must have
    ``weight_decay``.
    """
    chosen = WeightDecaySettings.from_options(settings, **options)
    run = _prepare(task, chosen, "weight_decay", on_progress)
    coarse = chosen.coarse
    total = len(coarse) + 2
    rows = run.rows(coarse, "coarse", 0, total)
    centre = _best(rows).value
    factor = chosen.fine_factor
    fine = [v for v in (centre * factor / 10, centre * factor) if v < 1.0]
    fine = [v for v in fine if all(not math.isclose(v, r.value) for r in rows)]
    rows += run.rows(fine, "fine", len(coarse), total)
    return run.result("weight_decay", rows)
