"""``lrscope tune``: a range test, a search around it, confirmation, the winner, its time.

Stages (every trial is stored, so a second call with the same arguments
resumes instead of starting over, and reaches the same decisions):

1. **Range test** (Smith 2017, section 3.3) on the search seed: the
   suggested rate, the cyclic bounds and the one-cycle peak
   (:class:`~lrscope.tune.space.LRBounds`).
2. **Plan** (:mod:`lrscope.tune.budget`): the budget (steps per trial,
   search trials, minutes) sized into steps per trial and search rounds; a
   minutes budget from two stored rounds of timing trials.
3. **Search** (:mod:`lrscope.tune.search`): every family's centre, then
   Optuna's TPE over every family's parameters (:mod:`lrscope.tune.space`),
   in rounds that train together in groups (:mod:`lrscope.batched`), each
   point at the full budget on the search seed.
4. **Confirmation** (:mod:`lrscope.tune.select`): the best finalists and the
   FIX baseline at the suggested rate, on seeds the search did not use.
5. **Ranking** of this run's trials by the one rule of :mod:`lrscope.rank`:
   the winner is rank 1 of the confirmed policies.
6. **Time to accuracy** on the budget ladder (:mod:`lrscope.ladder`):
   the winner and FIX again at 1/16 to 1/2 of the budget.

What ranks is the task's primary metric at the end of the budget, in its
direction (:class:`~lrscope.metrics.Scoring`: final top-1 for
classification, final MSE for regression), unless ``metric`` says
otherwise. Every stage runs on the same :class:`~lrscope.engine.Runtime`
(device, precision, gradient accumulation), whose identity is part of every
stored trial's key; epochs count optimizer steps (micro-batches divided by
the accumulation).

Every trial runs through :func:`lrscope.bench.run_trials` on one executor (the
``execution``: worker processes in groups by default), made before any
training and closed at the end.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lrscope.bench.execution import Execution
from lrscope.engine.result import TrialKey
from lrscope.engine.runtime import Runtime
from lrscope.errors import LRScopeError, ParameterError
from lrscope.ladder import TimeToAccuracy, time_to_accuracy
from lrscope.metrics import Metric
from lrscope.rank import DEFAULT_TIE, Ranking, left_out, rank_trials, trial_value
from lrscope.tune.budget import (
    DEFAULT_MAX_EPOCHS,
    DEFAULT_ROUND_SIZE,
    StepCost,
    TuneBudget,
    TunePlan,
    size_plan,
    timing_steps,
)
from lrscope.tune.result import Compute, TuneResult
from lrscope.tune.search import SAMPLERS, Outcome, SearchPoint, run_search
from lrscope.tune.select import (
    CONFIRM_SEEDS,
    DEFAULT_CONFIRM_SEEDS,
    DEFAULT_FINALISTS,
    FINALISTS,
    check_tie,
)
from lrscope.tune.select import finalists as pick_finalists
from lrscope.tune.space import LRBounds, Proposal, SearchSpace
from lrscope.validation import COUNT, Choice, Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.bench.executors import GroupExecutor
    from lrscope.rangetest.result import RangeTestResult, Suggestions
    from lrscope.store import Store, TrialRecord
    from lrscope.tasks import Task

__all__ = ["DEFAULT_EXECUTION", "DEFAULT_MAX_EPOCHS", "EventFn", "tune"]

log = logging.getLogger(__name__)

EventFn = Callable[[str, str], None]

TUNE_SEED = Interval(int, 0, 2**31 - 1)
"""The range test's and search's seed; the confirmation and timing seeds follow it."""

DEFAULT_EXECUTION = Execution("process", batch_trials="auto")
"""How trials run by default: worker processes (one per CPU), each training its share of
a round in one group (:mod:`lrscope.batched`) where the model can be batched."""


def _emit(on_event: EventFn | None, stage: str, message: str) -> None:
    log.info("%s: %s", stage, message)
    if on_event is not None:
        on_event(stage, message)


@dataclass
class _Run:
    """One tune call's context: where trials go, how they run, what was touched."""

    task: Task
    task_ref: str
    store: Store
    executor: GroupExecutor
    data_dir: str | None
    on_event: EventFn | None
    runtime: Runtime
    keys: list[TrialKey] = field(default_factory=list)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch on this runtime (accumulation makes fewer)."""
        return self.runtime.optimizer_steps(self.task.steps_per_epoch)

    def key(self, spec: str, seed: int, steps: int, eval_every: int) -> TrialKey:
        """The stored identity of one of this run's trials (its runtime included)."""
        return TrialKey(self.task.name, spec, seed, steps, eval_every, self.runtime.identity)

    def train(self, keys: Sequence[TrialKey], stage: str) -> dict[TrialKey, TrialRecord]:
        """Run ``keys`` (stored ones are skipped) and return their stored records."""
        from lrscope.bench import run_trials

        self.keys.extend(k for k in keys if k not in self.keys)

        def progress(done: int, total: int) -> None:
            _emit(self.on_event, stage, f"{done}/{total}")  # trials: a progress bar's count

        summary = run_trials(
            self.task_ref,
            keys,
            self.store,
            self.executor,
            task=self.task,
            data_dir=self.data_dir,
            on_progress=progress,
            runtime=self.runtime,
        )
        if summary.failed:
            _emit(
                self.on_event, stage, f"{summary.failed} trial(s) failed (their errors are stored)"
            )
        return self.stored(keys)

    def rank(self, records: Iterable[TrialRecord], metric: str, tie: float, steps: int) -> Ranking:
        """``records`` ranked by the one rule, on this run's runtime only (as ``lrscope rank
        --precision/--grad-accum`` ranks them: :func:`lrscope.rank.on_runtime`)."""
        return rank_trials(
            records,
            metric,
            tie=tie,
            steps=steps,
            scoring=self.task.scoring,
            runtime=self.runtime.identity,
        )

    def stored(self, keys: Iterable[TrialKey]) -> dict[TrialKey, TrialRecord]:
        wanted = set(keys)
        return {r.key: r for r in self.store.trials(self.task.name) if r.key in wanted}


def _suggestions(result: RangeTestResult) -> tuple[LRBounds, Suggestions]:
    """The search's centre; :class:`~lrscope.rangetest.NoUsableRangeError` without a range."""
    from lrscope.rangetest import NoUsableRangeError, suggest

    found = result.suggestions or suggest(result)
    if not found.usable:
        raise NoUsableRangeError("the tune search", found.reason, result.task)
    bounds = LRBounds.rounded(
        suggested_lr=found.suggested_lr.lr,
        min_lr=found.min_lr.lr,
        max_lr=found.max_lr.lr,
        peak_lr=found.onecycle_max_lr.lr,
    )
    return bounds, found


def _range_test_stage(run: _Run, seed: int) -> tuple[LRBounds, Suggestions, float, int]:
    """The task's range test with this seed and runtime: the stored one if any (resume),
    else run it (stored with the runtime's identity in its parameters).

    Returns the bounds, the suggestions, its stored wall time and its steps.
    """
    from lrscope.rangetest import RangeTestResult, range_test

    task, identity = run.task, run.runtime.identity
    stored = [
        r
        for r in run.store.range_tests(task.name, on_unreadable=left_out("the tune"))
        if r.result.get("seed") == seed and (r.params or {}).get("runtime", "") == identity
    ]
    if stored:
        rt = RangeTestResult.from_dict(stored[-1].result)
        _emit(run.on_event, "range test", f"{task.name}: reusing stored range test {stored[-1].id}")
    else:
        _emit(run.on_event, "range test", f"{task.name}: ramping the learning rate")
        rt = range_test(task, seed=seed, runtime=run.runtime)
        run.store.put_range_test(task.name, rt.to_dict(), {**rt.params(), "runtime": identity})
    bounds, suggestions = _suggestions(rt)
    _emit(
        run.on_event,
        "range test",
        f"suggested lr {bounds.suggested_lr:.3g}, bounds [{bounds.min_lr:.3g}, "
        f"{bounds.max_lr:.3g}], one-cycle peak {bounds.peak_lr:.3g}",
    )
    return bounds, suggestions, rt.wall_s, rt.steps_done


def _timing_stage(run: _Run, baseline: str, seed: int, size: int) -> tuple[StepCost, float]:
    """Two rounds of ``size`` short stored trials: the cost per step and per evaluation."""
    rounds = timing_steps(run.steps_per_epoch)
    keys = [[run.key(baseline, seed + i, steps, steps) for i in range(size)] for steps in rounds]
    _emit(
        run.on_event, "timing", f"two rounds of {size} trials of {rounds[0]} and {rounds[1]} steps"
    )
    walls = []
    for round_keys in keys:
        records = run.train(round_keys, "timing")
        walls.append([records[k].wall_s for k in round_keys if k in records])
    if not all(walls) or any(not math.isfinite(w) for ws in walls for w in ws):
        raise ParameterError("tune", "task", "a task whose short trials train", run.task.name)
    groups = math.ceil(size / run.executor.batch_trials)
    parallel = max(1, min(run.executor.workers, groups))
    cost = StepCost.from_timing(walls[0], walls[1], rounds, parallel)
    spent = sum(sum(w) for w in walls) / parallel
    return cost, spent


def _outcome(record: TrialRecord | None, metric: str) -> Outcome:
    if record is None or record.status not in ("done", "diverged"):
        return Outcome("failed", math.nan)
    return Outcome(record.status, trial_value(record, metric))


def _search_stage(
    run: _Run, space: SearchSpace, plan: TunePlan, metric: Metric, sampler: str
) -> list[SearchPoint]:
    def run_round(specs: Sequence[str]) -> dict[str, Outcome]:
        keys = {spec: run.key(spec, plan.search_seed, plan.steps, plan.steps) for spec in specs}
        records = run.train(list(keys.values()), "search")
        return {spec: _outcome(records.get(key), metric.name) for spec, key in keys.items()}

    def on_round(index: int, rounds: int, points: Sequence[SearchPoint]) -> None:
        told = [p for p in points if p.outcome.status == "done"]
        best = max(told, key=lambda p: metric.sign() * p.outcome.value, default=None)
        shown = "" if best is None else f"; best so far {best.outcome.value:.4g} {best.spec}"
        _emit(run.on_event, "search", f"round {index}/{rounds} done{shown}")

    _emit(
        run.on_event,
        "search",
        f"{plan.search_trials} points in rounds of {plan.round_size}, "
        f"{plan.steps:,} steps each, seed {plan.search_seed}",
    )
    return run_search(
        space,
        run_round,
        trials=plan.search_trials,
        round_size=plan.round_size,
        seed=plan.search_seed,
        metric=metric,
        sampler=sampler,
        on_round=on_round,
    )


def _ladder_keys(
    run: _Run, space: SearchSpace, plan: TunePlan, policies: Mapping[str, Proposal]
) -> dict[tuple[str, int], list[TrialKey]]:
    """The ladder's trials by (role, budget): each policy rebuilt for each shorter budget."""
    keys: dict[tuple[str, int], list[TrialKey]] = {}
    for steps in plan.ladder:
        for role, proposal in policies.items():
            spec = space.build(proposal, steps).spec
            keys[(role, steps)] = [run.key(spec, seed, steps, steps) for seed in plan.confirm_seeds]
    return keys


def _final_values(
    records: Mapping[TrialKey, TrialRecord], keys: Sequence[TrialKey], metric: str
) -> list[float]:
    values = []
    for key in keys:
        record = records.get(key)
        done = record is not None and record.status == "done"
        values.append(trial_value(record, metric) if done and record is not None else math.nan)
    return values


def _check_args(
    budget: TuneBudget,
    finalists_: int,
    confirm_seeds: int,
    round_size: int,
    sampler: str,
    seed: int,
    tie: float,
    execution: object,
    runtime: object,
) -> None:
    check("tune", "finalists", finalists_, FINALISTS)
    check("tune", "confirm_seeds", confirm_seeds, CONFIRM_SEEDS)
    check("tune", "round_size", round_size, COUNT)
    check("tune", "sampler", sampler, Choice(SAMPLERS))
    check("tune", "seed", seed, TUNE_SEED)
    check_tie(tie)
    if not isinstance(budget, TuneBudget):
        raise ParameterError("tune", "budget", "a TuneBudget", budget)
    if not isinstance(execution, Execution):
        raise ParameterError("tune", "execution", "an lrscope.bench.Execution", execution)
    if runtime is not None and not isinstance(runtime, Runtime):
        raise ParameterError("tune", "runtime", "None or an lrscope.engine.Runtime", runtime)


def _budget(
    budget: TuneBudget | None,
    steps: int | None,
    minutes: float | None,
    trials: int | None,
    max_epochs: int | None,
) -> TuneBudget:
    if budget is None:
        return TuneBudget(steps=steps, minutes=minutes, trials=trials, max_epochs=max_epochs)
    given = {"steps": steps, "minutes": minutes, "trials": trials}
    for name, value in given.items():
        if value is not None:
            raise ParameterError("tune", name, "None when a TuneBudget is given", value)
    return budget


def tune(
    task: Task | str,
    store: Store,
    budget: TuneBudget | None = None,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    trials: int | None = None,
    max_epochs: int | None = DEFAULT_MAX_EPOCHS,
    finalists: int = DEFAULT_FINALISTS,
    confirm_seeds: int = DEFAULT_CONFIRM_SEEDS,
    round_size: int = DEFAULT_ROUND_SIZE,
    sampler: str = "tpe",
    execution: Execution = DEFAULT_EXECUTION,
    data_dir: str | None = None,
    seed: int = 0,
    metric: str | None = None,
    tie: float = DEFAULT_TIE,
    on_event: EventFn | None = None,
    runtime: Runtime | None = None,
    built: Task | None = None,
) -> TuneResult:
    """Find the best learning-rate policy for ``task``; store every trial (see the module).

    Args:
        task: a :class:`~lrscope.tasks.Task` or a task reference (built-in
            name, ``pkg.module:function``, ``file.py:function``). Executors
            other than ``local`` need a reference their workers can resolve.
        store: where the range test and trials go (and are resumed from).
        budget: what the whole run may spend (:class:`TuneBudget`); or give
            ``steps`` (per trial), ``minutes`` (whole run), ``trials``
            (search points) and ``max_epochs`` (cap of a minutes-sized trial).
        finalists: families of the search confirmed, the best point of each (>= 3), with FIX.
        confirm_seeds: seeds of the confirmation (>= 3): ``seed + 1`` on.
        round_size: points asked of the sampler at once (one round), however
            the trials run; the search's points do not depend on ``execution``.
        sampler: ``tpe`` (default) or ``random`` (see :mod:`lrscope.tune.search`).
        execution: how trials run (:class:`lrscope.bench.Execution`). The
            default, :data:`DEFAULT_EXECUTION`, trains on worker processes in
            groups where the model can be batched (else one at a time, with the
            reason logged and reported to ``on_event``).
        seed: the range test's and the search's seed.
        metric: what ranks (one of the task's rankable metrics,
            :meth:`lrscope.metrics.Scoring.rankable`); default: the task's
            primary metric at the end (final test top-1 for classification,
            final MSE for regression), the model a user keeps.
        tie: ranking ties (see :mod:`lrscope.rank`); 0 ranks by ``metric`` alone.
        on_event: called as ``on_event(stage, message)`` as the run advances.
        runtime: device, precision and gradient accumulation of every stage
            (:class:`~lrscope.engine.Runtime`; default ``Runtime()``).
        built: the task the reference ``task`` names, if the caller has built
            it already (e.g. to check ``metric`` before opening the store).

    Raises:
        ParameterError: a bad budget or option, before any training.
        DeviceError: a device this machine lacks, before any training. The
            range test trains in this process, so the device must be here
            even when the trials run on a Ray cluster at an address.
    """
    from lrscope.bench.factory import make_executor
    from lrscope.engine import resolve
    from lrscope.tasks import get_task

    start = time.perf_counter()
    budget = _budget(budget, steps, minutes, trials, max_epochs)
    _check_args(
        budget, finalists, confirm_seeds, round_size, sampler, seed, tie, execution, runtime
    )
    chosen_runtime = runtime if runtime is not None else Runtime()
    resolve(chosen_runtime)  # a device this machine lacks fails before any work
    if not isinstance(task, str):
        task_obj = task
    else:
        task_obj = built if built is not None else get_task(task, data_dir=data_dir)
    scoring = task_obj.scoring
    chosen = scoring.get(metric or scoring.default_rank_metric, owner="tune")
    task_ref = task if isinstance(task, str) else task_obj.name
    store.put_task(task_obj.name, task_obj.metadata)
    group = min(round_size, budget.trials or round_size)  # a round: what trains at once
    with make_executor(
        execution, tasks=[task_obj], trials=group, runtime=chosen_runtime
    ) as executor:
        run = _Run(task_obj, task_ref, store, executor, data_dir, on_event, chosen_runtime)
        _emit(on_event, "execution", f"trials on {executor.describe()}")
        if executor.ungrouped_reason is not None:
            _emit(on_event, "execution", f"not in groups: {executor.ungrouped_reason}")
        settings = _Settings(chosen, finalists, confirm_seeds, round_size, sampler, seed, tie)
        return _stages(run, budget, settings, start)


@dataclass(frozen=True)
class _Settings:
    """The options of one tune call, checked (see :func:`tune`)."""

    metric: Metric
    finalists: int
    confirm_seeds: int
    round_size: int
    sampler: str
    seed: int
    tie: float

    @property
    def seeds(self) -> tuple[int, ...]:
        """The confirmation seeds: the ones after the search's."""
        return tuple(range(self.seed + 1, self.seed + 1 + self.confirm_seeds))


def _plan_stage(
    run: _Run, budget: TuneBudget, settings: _Settings, baseline: str, spent_s: float
) -> TunePlan:
    """The plan of ``budget``; a minutes budget left open is timed first (stored)."""
    cost = None
    if budget.minutes is not None and (budget.steps is None or budget.trials is None):
        cost, timing_s = _timing_stage(run, baseline, settings.seed, settings.round_size)
        spent_s += timing_s
    plan = size_plan(
        budget,
        steps_per_epoch=run.steps_per_epoch,
        round_size=settings.round_size,
        finalists=settings.finalists,
        search_seed=settings.seed,
        confirm_seeds=settings.seeds,
        cost=cost,
        spent_s=spent_s,
    )
    estimate = "" if plan.estimate_s is None else f", about {plan.estimate_s / 60:.1f} min"
    _emit(run.on_event, "plan", f"{plan.steps:,} steps per trial, {plan.search_trials} search "
          f"points, {plan.trials} trials at most ({plan.note}{estimate})")  # fmt: skip
    return plan


def _confirm_stage(
    run: _Run, points: Sequence[SearchPoint], plan: TunePlan, settings: _Settings, baseline: str
) -> tuple[list[str], dict[TrialKey, TrialRecord]]:
    """The finalists and FIX on the confirmation seeds: their specs and stored records."""
    chosen = pick_finalists(points, settings.finalists, settings.metric, exclude=[baseline])
    confirmed = [p.spec for p in chosen]
    _emit(run.on_event, "confirm", f"{len(confirmed)} finalists and FIX on seeds "
          f"{', '.join(map(str, settings.seeds))}")  # fmt: skip
    keys = [
        run.key(spec, s, plan.steps, plan.eval_every)
        for s in settings.seeds
        for spec in [*confirmed, baseline]
    ]
    return confirmed, run.train(keys, "confirm")


def _ladder_stage(
    run: _Run,
    space: SearchSpace,
    plan: TunePlan,
    metric: Metric,
    roles: Mapping[str, Proposal],
    full: Mapping[str, list[float]],
) -> TimeToAccuracy:
    """Winner and FIX at the ladder's shorter budgets; their time to accuracy.

    ``roles`` maps ``baseline`` (and ``winner`` unless FIX won) to the
    proposal to rebuild; ``full`` their final values at the full budget.
    """
    ladder = _ladder_keys(run, space, plan, roles)
    _emit(run.on_event, "ladder", f"{sum(len(k) for k in ladder.values())} trials at "
          f"{', '.join(f'{s:,}' for s in plan.ladder)} steps")  # fmt: skip
    records = run.train([k for ks in ladder.values() for k in ks], "ladder")
    rungs: dict[str, dict[int, list[float]]] = {role: {plan.steps: full[role]} for role in full}
    for (role, steps), role_keys in ladder.items():
        rungs[role][steps] = _final_values(records, role_keys, metric.name)
    return time_to_accuracy(rungs.get("winner", rungs["baseline"]), rungs["baseline"], metric)


def _stages(run: _Run, budget: TuneBudget, settings: _Settings, start: float) -> TuneResult:
    metric, stages = settings.metric, {}
    bounds, suggestions, rt_wall, rt_steps = _range_test_stage(run, settings.seed)
    stages["range_test_s"] = time.perf_counter() - start
    epoch = run.steps_per_epoch
    centre = SearchSpace(bounds, max(budget.steps or 8 * epoch, 8), epoch).centre("FIX")
    baseline = SearchSpace(bounds, 8, epoch).build(centre).spec
    t0 = time.perf_counter()
    plan = _plan_stage(run, budget, settings, baseline, rt_wall)
    stages["plan_s"] = time.perf_counter() - t0
    space = SearchSpace(bounds, plan.steps, epoch)
    t0 = time.perf_counter()
    points = _search_stage(run, space, plan, metric, settings.sampler)
    stages["search_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    confirmed, records = _confirm_stage(run, points, plan, settings, baseline)
    stages["confirm_s"] = time.perf_counter() - t0
    scoring = run.task.scoring
    ranking = run.rank(records.values(), metric.name, settings.tie, plan.steps)
    if not ranking.rows or ranking.row(baseline) is None:
        raise LRScopeError(f"tune: the confirmation trials of {run.task.name} did not finish; "
                           "see `lrscope rank --task` and the stored errors")  # fmt: skip
    winner = ranking.rows[0].spec
    _emit(run.on_event, "winner", winner)

    def values(spec: str) -> list[float]:
        keys = [run.key(spec, s, plan.steps, plan.eval_every) for s in plan.confirm_seeds]
        return _final_values(records, keys, metric.name)

    t0 = time.perf_counter()
    roles = {"baseline": centre}
    full = {"baseline": values(baseline)}
    if winner != baseline:
        roles["winner"] = next(p.proposal for p in points if p.spec == winner)
        full["winner"] = values(winner)
    tta = _ladder_stage(run, space, plan, metric, roles, full)
    stages["ladder_s"] = time.perf_counter() - t0

    touched = list(run.stored(run.keys).values())
    return TuneResult(
        task=run.task.name,
        metric=metric.name,
        budget=budget,
        plan=plan,
        bounds=bounds,
        suggestions=suggestions,
        search=tuple(points),
        finalists=tuple(confirmed),
        baseline_spec=baseline,
        ranking=run.rank(touched, metric.name, settings.tie, plan.steps),
        winner_values=tuple(values(winner)),
        baseline_values=tuple(full["baseline"]),
        time_to_accuracy=tta,
        compute=_compute(touched, rt_steps, start),
        execution=run.executor.describe(),
        sampler=settings.sampler,
        stages_s=stages,
        ungrouped_reason=run.executor.ungrouped_reason,
        primary_metric=scoring.primary,
        runtime=run.runtime.identity,
    )


def _compute(records: Sequence[TrialRecord], range_test_steps: int, start: float) -> Compute:
    """What the run spent: its trials, their steps and the range test's, the wall time."""
    return Compute(
        trials=len(records),
        steps=range_test_steps + sum(r.steps_done or 0 for r in records),
        trial_s=sum(r.wall_s for r in records if math.isfinite(r.wall_s)),
        wall_s=time.perf_counter() - start,
    )
