"""``lrscope tune``: the LRBench evaluator run automatically, end to end.

Stages (every trial is stored, so a second call with the same arguments
resumes instead of starting over):

1. **Range test** (Smith 2017, section 3.3) on the task: ``suggested_lr``, the
   cyclic bounds ``[min_lr, max_lr]`` and the one-cycle peak.
2. **Candidates**: one policy per family (the 13 LRBench functions, onecycle,
   sgdr), derived from those numbers, the epoch length and the budget
   (:mod:`lrscope.tune.candidates`).
3. **Cheap trials**: every candidate, re-derived for a quarter of the budget,
   trains once; Optuna's :class:`~optuna.pruners.SuccessiveHalvingPruner`
   stops the weak ones at their rung (their trials are stored as ``pruned``).
4. **Full trials**: the best ``survivors`` candidates and the FIX baseline at
   the suggested lr, over ``seeds`` seeds at the full budget, through
   :func:`lrscope.bench.run_plan` as the ``execution`` says (any executor, in
   groups of trials trained together where the model allows).
5. **Ranking** of the full trials (:mod:`lrscope.rank`) and the **winner**
   (:mod:`lrscope.tune.select`): the best final mean of the task's primary
   metric (top-1 for classification, MSE for regression, in its direction),
   except that policies within ``tie`` of it count as tied and the one first
   to reach the best value of FIX's seed-mean curve wins (LRBench: highest
   accuracy at the lowest cost). Its time to accuracy against FIX is
   reported: the steps it needs to reach that value, divided by the steps FIX
   needs (Smith 2017 reports 25k against 70k iterations: 0.36).

Every stage runs on the same :class:`~lrscope.engine.Runtime` (device,
precision, gradient accumulation), which is part of every stored trial's
identity.

A budget is either ``steps`` per full trial or ``minutes`` for the whole run
(or both: then the minutes cap the cheap stage). With minutes only, two short
timed trials on the task (:func:`measure_step_cost`) give the seconds per
step and per evaluation, and :func:`budget_steps` sizes the trials to fit,
up to ``max_epochs`` epochs (:data:`DEFAULT_MAX_EPOCHS`).
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrscope.bench.execution import Execution
from lrscope.errors import ParameterError
from lrscope.tune.candidates import MIN_STEPS, LRBounds, candidate_policies
from lrscope.tune.select import DEFAULT_TIE, TimeToAccuracy, check_tie, pick_winner
from lrscope.validation import COUNT, MAX_SEEDS, POSITIVE_FLOAT, Interval, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.bench.executors import Executor
    from lrscope.engine.result import TrialResult
    from lrscope.engine.runtime import Runtime
    from lrscope.metrics import Scoring
    from lrscope.rangetest.result import RangeTestResult, Suggestions
    from lrscope.rank import PolicyStats
    from lrscope.store import Store
    from lrscope.tasks import Task

__all__ = [
    "DEFAULT_EXECUTION",
    "DEFAULT_MAX_EPOCHS",
    "CandidateOutcome",
    "StepCost",
    "TuneResult",
    "budget_steps",
    "measure_step_cost",
    "tune",
]

log = logging.getLogger(__name__)

EventFn = Callable[[str, str], None]

CHEAP_FRACTION = 4
"""Cheap trials train ``steps // CHEAP_FRACTION`` steps."""
EVALS_PER_TRIAL = 30
"""Evaluations per full trial (the resolution of the time-to-accuracy curves)."""
CHEAP_EVALS = 8
"""Evaluations per cheap trial (the pruner's reports)."""
CALIBRATION_STEPS = 100
SAFETY = 0.85
"""Share of a minutes budget the cost model plans to use (the rest is margin)."""
MIN_EPOCHS = 4
DEFAULT_MAX_EPOCHS = 150
"""Cap of a minutes-sized full trial, in epochs.

More is not better on small training sets: on ``mnist1d-cnn`` (4,000
samples) the best policies' final top-1 over 8 seeds is 0.961 to 0.966 at
150 epochs and 0.955 after 530 (the models overfit once annealed), while
every extra epoch costs time. Minutes left over by the cap end the run early.
"""


DEFAULT_EXECUTION = Execution("process", batch_trials="auto")
"""How full trials run by default: worker processes (one per CPU), each training
its share of the trials in one group (:mod:`lrscope.batched`) where the model
can be batched."""


@dataclass(frozen=True)
class CandidateOutcome:
    """One candidate's cheap trial: ``value`` is the best value of the task's primary
    metric, signed so that higher is better (top-1 as is, MSE negated; -inf if diverged)."""

    family: str
    cheap_spec: str
    full_spec: str
    value: float
    steps_done: int
    pruned: bool
    diverged: bool


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found, and the evidence.

    ``suggestions`` are the range test's (:class:`~lrscope.rangetest.Suggestions`);
    ``ranking`` holds the full trials' rows, best first
    (:class:`~lrscope.rank.PolicyStats`); ``winner_stats`` and
    ``baseline_stats`` are the winner's and FIX's rows among them;
    ``steps_to_fix_best[spec]`` the steps each row's seed-mean curve needs
    to reach FIX's best top-1 (``None``: never). ``winner`` and ``baseline``
    give those two rows as ``--json`` prints them.
    """

    task: str
    steps: int
    cheap_steps: int
    eval_every: int
    seeds: tuple[int, ...]
    suggestions: Suggestions
    candidates: tuple[CandidateOutcome, ...]
    survivors: tuple[str, ...]
    baseline_spec: str
    ranking: tuple[PolicyStats, ...]
    winner_stats: PolicyStats
    baseline_stats: PolicyStats
    steps_to_fix_best: Mapping[str, int | None]
    winner_top1: tuple[float, ...]
    time_to_accuracy: TimeToAccuracy | None
    wall_s: float
    stages_s: dict[str, float] = field(default_factory=dict)
    winner_reason: str = ""
    tie: float = DEFAULT_TIE
    tied: tuple[str, ...] = ()
    metric: str = "top1"
    primary_metric: str = "top1"
    runtime: str = ""

    @property
    def winner_spec(self) -> str:
        return self.winner_stats.spec

    def row(self, stats: PolicyStats) -> dict[str, object]:
        """``stats`` as a ``--json`` ranking row: its flat dict plus ``steps_to_fix_best``."""
        return {**stats.to_dict(), "steps_to_fix_best": self.steps_to_fix_best.get(stats.spec)}

    @property
    def winner(self) -> dict[str, object]:
        """The winner's ranking row as ``--json`` prints it (see :meth:`row`)."""
        return self.row(self.winner_stats)

    @property
    def baseline(self) -> dict[str, object]:
        """FIX's ranking row as ``--json`` prints it (see :meth:`row`)."""
        return self.row(self.baseline_stats)

    def to_dict(self) -> dict[str, Any]:
        tta = self.time_to_accuracy
        return {
            "task": self.task,
            "steps": self.steps,
            "cheap_steps": self.cheap_steps,
            "eval_every": self.eval_every,
            "seeds": list(self.seeds),
            "suggestions": self.suggestions.to_dict(),
            "candidates": [c.__dict__ for c in self.candidates],
            "survivors": list(self.survivors),
            "baseline_spec": self.baseline_spec,
            "winner_spec": self.winner_spec,
            "winner": self.winner,
            "baseline": self.baseline,
            "winner_top1": list(self.winner_top1),
            "winner_top1_median": statistics.median(self.winner_top1) if self.winner_top1 else None,
            "time_to_accuracy": None if tta is None else tta.__dict__,
            "ranking": [self.row(stats) for stats in self.ranking],
            "wall_s": self.wall_s,
            "stages_s": self.stages_s,
            "winner_reason": self.winner_reason,
            "tie": self.tie,
            "tied": list(self.tied),
            "metric": self.metric,
            "primary_metric": self.primary_metric,
            "runtime": self.runtime,
        }


_STEPS = Interval(int, MIN_STEPS, None, "left")


def _check_args(steps: int | None, minutes: float | None, seeds: int, survivors: int) -> None:
    if steps is None and minutes is None:
        allowed = f"{_STEPS.describe()} when minutes is not given"
        raise ParameterError("tune", "steps", allowed, steps)
    check("tune", "steps", steps, OrNone(_STEPS))
    check("tune", "minutes", minutes, OrNone(POSITIVE_FLOAT))
    check("tune", "seeds", seeds, Interval(int, 1, MAX_SEEDS))
    check("tune", "survivors", survivors, COUNT)


@dataclass(frozen=True)
class StepCost:
    """Measured cost of a trial on this machine: ``step_s`` per optimizer step and
    ``eval_s`` per evaluation (test set and train subsample), both in seconds.
    """

    step_s: float
    eval_s: float

    def trial_s(self, steps: int, evals: int) -> float:
        return steps * self.step_s + evals * self.eval_s


def measure_step_cost(
    task: Task, policy: str, steps: int = CALIBRATION_STEPS, runtime: Runtime | None = None
) -> StepCost:
    """Time two short unstored trials (``steps`` and ``2 * steps`` steps, one
    evaluation each, on ``runtime``): the difference is ``steps`` optimizer
    steps, the rest is the cost of an evaluation plus set-up (counted as
    evaluation, conservatively).
    """
    from lrscope.engine import run_trial

    def timed(n: int) -> float:
        start = time.perf_counter()
        run_trial(task, policy, steps=n, eval_every=n, runtime=runtime)
        return time.perf_counter() - start

    timed(8)  # warm-up: first calls allocate and dispatch lazily
    short, long = timed(steps), timed(2 * steps)
    step_s = max(long - short, 1e-6) / steps
    return StepCost(step_s=step_s, eval_s=max(short - steps * step_s, 0.0))


def budget_steps(
    seconds: float,
    cost: StepCost,
    *,
    n_candidates: int,
    survivors: int,
    seeds: int,
    parallel: float,
    steps_per_epoch: int,
    max_epochs: int | None = None,
) -> int:
    """Full-trial steps ``T`` so that the cheap and full stages fit in ``seconds``,
    at most ``max_epochs`` epochs (no cap when ``None``).

    Cost model, with the measured :class:`StepCost`: the cheap stage trains
    ``n_candidates`` trials of ``T / CHEAP_FRACTION`` steps and
    :data:`CHEAP_EVALS` evaluations one after the other (pruning only makes
    it cheaper); the full stage ``(survivors + 1) * seeds`` trials of ``T``
    steps and :data:`EVALS_PER_TRIAL` evaluations spread over ``parallel``
    workers. :data:`SAFETY` of the time is kept in reserve.
    """
    trials = (survivors + 1) * seeds
    fixed_s = cost.eval_s * (n_candidates * CHEAP_EVALS + trials * EVALS_PER_TRIAL / parallel)
    per_step_s = cost.step_s * (n_candidates / CHEAP_FRACTION + trials / parallel)
    floor = max(MIN_EPOCHS * steps_per_epoch, 8 * CHEAP_FRACTION)
    steps = int((SAFETY * seconds - fixed_s) / per_step_s)
    if max_epochs is not None and steps >= max_epochs * steps_per_epoch:
        return max(max_epochs * steps_per_epoch, floor)  # whole epochs, as asked
    if steps <= floor:
        return floor
    # two significant digits: readable budgets, and a re-run whose time
    # estimate differs slightly usually lands on the same budget (and resumes)
    return max(int(float(f"{steps:.2g}")), floor)


def _suggestions(result: RangeTestResult) -> tuple[LRBounds, Suggestions]:
    """The candidates' bounds; :class:`~lrscope.rangetest.NoUsableRangeError` without a range."""
    from lrscope.rangetest import NoUsableRangeError, suggest

    found = result.suggestions or suggest(result)
    if not found.usable:
        raise NoUsableRangeError("tune candidates", found.reason, result.task)
    bounds = LRBounds.rounded(
        suggested_lr=found.suggested_lr.lr,
        min_lr=found.min_lr.lr,
        max_lr=found.max_lr.lr,
        peak_lr=found.onecycle_max_lr.lr,
    )
    return bounds, found


def _emit(on_event: EventFn | None, stage: str, message: str) -> None:
    log.info("%s: %s", stage, message)
    if on_event is not None:
        on_event(stage, message)


def tune(
    task: Task | str,
    store: Store,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    seeds: int = 3,
    survivors: int = 3,
    execution: Execution = DEFAULT_EXECUTION,
    data_dir: str | None = None,
    seed: int = 0,
    metric: str | None = None,
    tie: float = DEFAULT_TIE,
    max_epochs: int | None = DEFAULT_MAX_EPOCHS,
    on_event: EventFn | None = None,
    runtime: Runtime | None = None,
) -> TuneResult:
    """Find the best learning-rate policy for ``task`` automatically; store everything.

    Args:
        task: a :class:`~lrscope.tasks.Task` or a task reference (built-in
            name, ``pkg.module:function``, ``file.py:function``). Executors
            other than ``local`` need a reference their workers can resolve.
        store: where range test and trials go (and are resumed from).
        steps: optimizer steps per full trial.
        minutes: wall-time budget of the whole run; sizes ``steps`` when
            ``steps`` is not given, and caps the cheap stage.
        seeds: seeds of every full trial (0 .. seeds-1).
        survivors: candidates promoted from the cheap to the full stage.
        execution: how full trials run (:class:`lrscope.bench.Execution`:
            executor, workers, Ray address, group size). The default,
            :data:`DEFAULT_EXECUTION`, trains them on worker processes in
            groups sized to the work where the model can be batched (else one
            at a time, with the reason logged and reported to ``on_event``).
            The executor is made (and a Ray address reached) before any
            training, and closed at the end.
        seed: seed of the range test and of the cheap trials.
        metric: what picks the winner among the full trials (one of the
            task's rankable metrics, mean over seeds). The default is the
            task's primary metric at the end (final test top-1 for
            classification, MSE for regression): the model a user gets at the
            end of the budget (``best_top1`` would credit an evaluation a run
            without checkpoint selection never keeps).
        tie: policies whose ``metric`` mean is within ``tie`` of the best are
            tied, and the one first to reach FIX's best value of the primary
            metric wins (:func:`lrscope.tune.select.pick_winner`); 0 picks by
            ``metric`` alone.
        max_epochs: cap, in epochs, of a full trial sized from ``minutes``
            (:data:`DEFAULT_MAX_EPOCHS`); ``None`` fills the minutes. An explicit
            ``steps`` is never capped.
        on_event: called as ``on_event(stage, message)`` as the run advances.
        runtime: device, precision and gradient accumulation of every stage
            (:class:`~lrscope.engine.Runtime`; default ``Runtime()``).
    """
    from lrscope.bench.factory import make_executor
    from lrscope.engine import Runtime, resolve
    from lrscope.tasks import get_task

    _check_args(steps, minutes, seeds, survivors)
    check_tie(tie)
    check("tune", "max_epochs", max_epochs, OrNone(COUNT))
    if not isinstance(execution, Execution):
        raise ParameterError("tune", "execution", "an lrscope.bench.Execution", execution)
    chosen_runtime = runtime if runtime is not None else Runtime()
    resolve(chosen_runtime)  # a device this machine lacks fails before any work
    start = time.perf_counter()
    task_obj = get_task(task, data_dir=data_dir) if isinstance(task, str) else task
    scoring = task_obj.scoring
    metric = scoring.get(metric or scoring.primary, owner="tune").name
    task_ref = task if isinstance(task, str) else task_obj.name
    store.put_task(task_obj.name, task_obj.metadata)
    stages: dict[str, float] = {}
    seed_list = tuple(range(seeds))
    trials = (survivors + 1) * seeds
    epoch = chosen_runtime.optimizer_steps(task_obj.steps_per_epoch)
    with make_executor(
        execution, tasks=[task_obj], trials=trials, runtime=chosen_runtime
    ) as executor:
        _emit(on_event, "execution", f"full trials on {executor.describe()}")
        if executor.ungrouped_reason is not None:
            _emit(on_event, "execution", f"not in groups: {executor.ungrouped_reason}")
        bounds, suggestions = _range_test_stage(task_obj, store, seed, on_event, chosen_runtime)
        stages["range_test_s"] = time.perf_counter() - start
        parallel = (
            1.0 if executor.workers == 1 else max(1.0, 0.9 * min(executor.workers, survivors + 1))
        )
        deadline = None if minutes is None else start + minutes * 60.0
        if steps is None:
            cost = measure_step_cost(
                task_obj, f"FIX(k0={bounds.suggested_lr!r})", runtime=chosen_runtime
            )
            steps = budget_steps(
                (deadline or 0.0) - time.perf_counter(),
                cost,
                n_candidates=15,
                survivors=survivors,
                seeds=seeds,
                parallel=parallel,
                steps_per_epoch=epoch,
                max_epochs=max_epochs,
            )
        cheap_steps = max(steps // CHEAP_FRACTION, 8)
        eval_every = max(steps // EVALS_PER_TRIAL, 1)
        _emit(on_event, "budget", f"{steps} steps per full trial, {cheap_steps} per cheap trial")

        t0 = time.perf_counter()
        outcomes = _cheap_stage(
            task_obj, store, bounds, steps, cheap_steps, seed, deadline, on_event, chosen_runtime
        )
        stages["cheap_s"] = time.perf_counter() - t0

        full = candidate_policies(bounds, steps, epoch)
        baseline_spec = full["FIX"].spec
        promoted = _promote(outcomes, survivors, baseline_spec)
        _emit(on_event, "survivors", ", ".join(promoted))

        t0 = time.perf_counter()
        _full_stage(
            task_obj,
            task_ref,
            store,
            [*promoted, baseline_spec],
            steps,
            seed_list,
            eval_every,
            executor,
            data_dir,
            on_event,
            chosen_runtime,
        )
        stages["full_s"] = time.perf_counter() - t0
    return _conclude(
        task_obj.name,
        store,
        steps,
        cheap_steps,
        eval_every,
        seed_list,
        suggestions,
        outcomes,
        promoted,
        baseline_spec,
        metric,
        tie,
        start,
        stages,
        scoring,
        chosen_runtime.identity,
    )


def _range_test_stage(
    task: Task, store: Store, seed: int, on_event: EventFn | None, runtime: Runtime
) -> tuple[LRBounds, Suggestions]:
    """The task's range test with this seed and runtime: the stored one if any (resume),
    else run it (stored with the runtime's identity in its parameters)."""
    from lrscope.rangetest import RangeTestResult, range_test

    stored = [
        r
        for r in store.range_tests(task.name)
        if r.result.get("seed") == seed and (r.params or {}).get("runtime", "") == runtime.identity
    ]
    if stored:
        rt = RangeTestResult.from_dict(stored[-1].result)
        _emit(on_event, "range test", f"{task.name}: reusing stored range test {stored[-1].id}")
    else:
        _emit(on_event, "range test", f"{task.name}: ramping the learning rate")
        rt = range_test(task, seed=seed, runtime=runtime)
        store.put_range_test(task.name, rt.to_dict(), {**rt.params(), "runtime": runtime.identity})
    bounds, suggestions = _suggestions(rt)
    _emit(
        on_event,
        "range test",
        f"suggested lr {bounds.suggested_lr:.3g}, bounds [{bounds.min_lr:.3g}, "
        f"{bounds.max_lr:.3g}], one-cycle peak {bounds.peak_lr:.3g}",
    )
    return bounds, suggestions


def _promote(outcomes: Sequence[CandidateOutcome], survivors: int, baseline: str) -> list[str]:
    """The ``survivors`` best completed candidates (full-budget specs), FIX excluded."""
    ranked = sorted(
        (c for c in outcomes if not c.pruned and not c.diverged and c.full_spec != baseline),
        key=lambda c: (-c.value, c.family),
    )
    return [c.full_spec for c in ranked[:survivors]]


def _cheap_stage(
    task: Task,
    store: Store,
    bounds: LRBounds,
    steps: int,
    cheap_steps: int,
    seed: int,
    deadline: float | None,
    on_event: EventFn | None,
    runtime: Runtime,
) -> list[CandidateOutcome]:
    import optuna

    from lrscope.tune.cheap import run_cheap_trial

    # an exception in a trial propagates anyway; Optuna's warning would print its traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    epoch = runtime.optimizer_steps(task.steps_per_epoch)
    cheap = candidate_policies(bounds, cheap_steps, epoch)
    full = candidate_policies(bounds, steps, epoch)
    primary = task.scoring.primary_metric
    eval_every = max(cheap_steps // CHEAP_EVALS, 1)
    names = list(cheap)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.GridSampler({"family": names}, seed=seed),
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(cheap_steps // 2, 1), reduction_factor=2
        ),
    )
    outcomes: dict[str, CandidateOutcome] = {}

    def objective(trial: optuna.Trial) -> float:
        family = str(trial.suggest_categorical("family", names))
        result, pruned = run_cheap_trial(
            task, store, cheap[family], cheap_steps, seed, eval_every, trial, runtime
        )
        value = -math.inf if result.diverged else primary.sign() * result.best
        if math.isnan(value):
            value = -math.inf
        outcomes[family] = CandidateOutcome(
            family,
            cheap[family].spec,
            full[family].spec,
            value,
            result.steps_done,
            pruned,
            result.diverged,
        )
        shown = f"{primary.name} {result.best:.4g}"
        state = "pruned" if pruned else ("diverged" if result.diverged else shown)
        _emit(on_event, "cheap trial", f"{family}: {state} after {result.steps_done} steps")
        if pruned:
            raise optuna.TrialPruned()
        return value

    timeout = None if deadline is None else max(deadline - time.perf_counter(), 1.0) * 0.5
    study.optimize(objective, n_trials=len(names), timeout=timeout)
    return [outcomes[name] for name in names if name in outcomes]


def _full_stage(
    task: Task,
    task_ref: str,
    store: Store,
    specs: list[str],
    steps: int,
    seeds: tuple[int, ...],
    eval_every: int,
    executor: Executor,
    data_dir: str | None,
    on_event: EventFn | None,
    runtime: Runtime,
) -> None:
    from lrscope.bench import Plan, run_plan

    plan = Plan(
        task_ref,
        specs,
        steps=steps,
        seeds=list(seeds),
        eval_every=eval_every,
        data_dir=data_dir,
        **runtime.to_dict(),
    )
    _emit(on_event, "full trials", f"{len(plan)} trials")

    def progress(done: int, total: int) -> None:
        _emit(on_event, "full trials", f"{done}/{total}")

    summary = run_plan(plan, store, executor, task=task, on_progress=progress)
    if summary.failed:
        _emit(on_event, "full trials", f"{summary.failed} trial(s) failed; see lrscope rank")


def _conclude(
    task: str,
    store: Store,
    steps: int,
    cheap_steps: int,
    eval_every: int,
    seeds: tuple[int, ...],
    suggestions: Suggestions,
    outcomes: Sequence[CandidateOutcome],
    promoted: Sequence[str],
    baseline_spec: str,
    metric: str,
    tie: float,
    start: float,
    stages: dict[str, float],
    scoring: Scoring,
    runtime: str,
) -> TuneResult:
    from lrscope.rank import rank_trials

    specs = {*promoted, baseline_spec}
    records = [
        r
        for r in store.trials(task)
        if r.spec in specs
        and r.steps == steps
        and r.eval_every == eval_every
        and r.seed in seeds
        and r.key.runtime == runtime
    ]
    rows = rank_trials(records, metric, scoring=scoring).rows
    if not rows:
        raise ParameterError("tune", "steps", "a budget whose full trials finish", steps)
    results: dict[str, list[TrialResult]] = {}
    for record in records:
        results.setdefault(record.spec, []).append(record.to_result())
    chosen = pick_winner(rows, results, baseline_spec, metric, tie, scoring)
    winner = chosen.row
    baseline = next(row for row in rows if row.spec == baseline_spec)
    winner_top1 = tuple(r.top1 for r in results[winner.spec])
    tta = chosen.reach[winner.spec]
    return TuneResult(
        task=task,
        steps=steps,
        cheap_steps=cheap_steps,
        eval_every=eval_every,
        seeds=seeds,
        suggestions=suggestions,
        candidates=tuple(outcomes),
        survivors=tuple(promoted),
        baseline_spec=baseline_spec,
        ranking=rows,
        winner_stats=winner,
        baseline_stats=baseline,
        steps_to_fix_best=chosen.steps_to_target,
        winner_top1=winner_top1,
        time_to_accuracy=tta,
        wall_s=time.perf_counter() - start,
        stages_s=stages,
        winner_reason=chosen.reason,
        tie=tie,
        tied=chosen.tied,
        metric=metric,
        primary_metric=scoring.primary,
        runtime=runtime,
    )
