"""Gather what the report shows from a results store into :mod:`lrscope.report.model` views.

Per task: the stored range tests (newest first), the ranking of
:func:`lrscope.rank.rank_trials` (aggregation over seeds, the one ranking
rule, the rows shown apart, the Pareto front: not recomputed here; the same
function ranks ``lrscope rank`` and ``lrscope tune``), the learning-rate and
momentum curves of the top ``top_n`` ranked policies computed from their
specs with :func:`lrscope.policies.parse`, the curves of the task's primary
metric over seeds (test top-1 for classification), and the stored
interpolations. Each task is ranked by its own metrics (its stored scoring):
by default its primary metric at the end, in its direction.

Only the top ``top_n`` rows are drawn as curves (the table lists every row),
and every curve is thinned (:mod:`lrscope.report.decimate`), so a store with
thousands of trials still gives a page of a few megabytes.

Provenance: rows imported from other stores (``source_id`` set) are counted
per policy row (``n_imported``) and summed up per task in one sentence that
names the stores they came from (:meth:`lrscope.store.SourceRecord.label`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lrscope.errors import LRScopeError, TaskError
from lrscope.metrics import Scoring
from lrscope.rank import group_key, left_out, runtime_label
from lrscope.report.decimate import minmax_indices, pick, stride_indices
from lrscope.report.model import (
    InterpolationView,
    MetricCurve,
    PolicyCurve,
    PolicyRow,
    RangeTestView,
    ReportData,
    StoreSummary,
    SuggestionMark,
    TaskView,
    table_columns,
)
from lrscope.report.plots import PALETTE
from lrscope.validation import Interval, check, is_integer

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rank import GroupKey, PolicyStats
    from lrscope.store import SourceRecord, Store, TaskRecord, TrialRecord

__all__ = ["DEFAULT_TOP_N", "gather"]

DEFAULT_TOP_N = 8
MAX_RANGE_TESTS = 3  # newest range tests drawn per task
MAX_INTERPOLATIONS = 4  # newest interpolations drawn per task
MAX_POLICY_EVALS = 50_000  # policy evaluations per curve before striding
CURVE_POINTS = 800  # points kept per drawn curve
STATUS_ORDER = ("done", "diverged", "pruned", "failed", "running")


def gather(
    store: Store,
    task: str | None = None,
    *,
    metric: str | None = None,
    top_n: int = DEFAULT_TOP_N,
    now: datetime | None = None,
) -> ReportData:
    """Read ``store`` (every task, or only ``task``) into a :class:`ReportData`.

    ``metric`` ranks every task (default: each task's primary metric at the
    end, final top-1 for classification, final MSE for regression, as
    ``lrscope rank`` and ``lrscope tune`` rank).

    Raises:
        TaskError: ``task`` is not in the store (the message lists those that are).
        ParameterError: ``metric`` is not one a task ranks by
            (:meth:`lrscope.metrics.Scoring.rankable`), or ``top_n`` is
            outside [1, len(PALETTE)].
    """
    check("the report", "top_n", top_n, Interval(int, 1, len(PALETTE)))
    page_notes: list[str] = []
    records = store.tasks(on_unreadable=_left_out(page_notes))
    if task is not None:
        chosen = [r for r in records if r.name == task]
        if not chosen:
            names = ", ".join(repr(r.name) for r in records[:20]) or "none"
            more = f" and {len(records) - 20} more" if len(records) > 20 else ""
            raise TaskError(
                f"no task {task!r} in the store {store.url}; stored tasks: {names}{more}"
            )
        records = chosen
    if metric is not None:  # a metric a task does not rank by fails before anything is drawn
        for record in records:
            Scoring.from_metadata(record.metadata).get(metric, owner="the report")
    sources = {source.id: source for source in store.sources()}
    views = tuple(_task_view(store, record, metric, top_n, sources) for record in records)
    summary = _summary(store, now, sources)
    return ReportData(summary=summary, tasks=views, notes=tuple(page_notes))


def _noted(exc: Exception) -> None:
    """``on_unreadable`` of a second reading: the first one noted the damaged row."""


def _left_out(notes: list[str]) -> Callable[[Exception], None]:
    """``on_unreadable`` of the report: a damaged row becomes a note and a warning."""
    warn = left_out("the report")

    def note(exc: Exception) -> None:
        notes.append(f"{str(exc)[:1].upper()}{str(exc)[1:]}; it is left out of this page.")
        warn(exc)

    return note


def _summary(
    store: Store, now: datetime | None, sources: Mapping[int, SourceRecord]
) -> StoreSummary:
    import lrscope

    info = store.info()
    counts = dict(info.counts)
    by_status = dict(info.trials_by_status)
    shown: dict[str, int] = {"tasks": int(counts.get("tasks", 0))}
    shown["trials"] = int(counts.get("trials", 0))
    for status in STATUS_ORDER:
        if by_status.get(status):
            shown[status] = int(by_status[status])
    shown["policies"] = int(counts.get("policies", 0))
    shown["range_tests"] = int(counts.get("range_tests", 0))
    shown["interpolations"] = int(counts.get("interpolations", 0))
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return StoreSummary(
        url=info.url,
        schema_version=str(info.schema_version),
        counts=shown,
        generated_at=moment.strftime("%Y-%m-%d %H:%M UTC"),
        version=lrscope.__version__,
        sources=tuple(dict.fromkeys(source.label for source in sources.values())),
    )


def _metadata(meta: Mapping[str, Any] | None) -> dict[str, str]:
    if not meta:
        return {}
    names = {
        "dataset": "dataset",
        "model_family": "model",
        "input_shape": "input shape",
        "train_size": "train size",
        "num_classes": "classes",
        "primary_metric": "primary metric",
    }
    shown: dict[str, str] = {}
    for key, label in names.items():
        if key in meta and meta[key] is not None:
            value = meta[key]
            if key == "input_shape" and isinstance(value, list | tuple):
                value = "×".join(str(v) for v in value)
            elif is_integer(value):
                value = f"{value:,}"
            shown[label] = str(value)
    extra = meta.get("extra")
    if isinstance(extra, Mapping):
        for key, value in list(extra.items())[:6]:
            text = str(value)
            shown[str(key)] = text if len(text) <= 60 else text[:57] + "..."
    return shown


def _provenance(
    record: TaskRecord,
    trials: Sequence[TrialRecord],
    documents: Sequence[int | None],
    sources: Mapping[int, SourceRecord],
) -> str:
    """Which of the task's results came from other stores: one sentence, or ""."""
    finished = [t for t in trials if t.finished]
    imported = [t for t in finished if t.source_id is not None]
    other = [i for i in documents if i is not None]
    ids = {t.source_id for t in imported if t.source_id is not None} | set(other)
    if record.source_id is not None:
        ids.add(record.source_id)
    if not ids:
        return ""
    origins = ", ".join(dict.fromkeys(sources[i].label for i in sorted(ids) if i in sources))
    parts = [f"{len(imported)} of {len(finished)} finished trials"]
    if other:
        parts.append(f"{len(other)} of {len(documents)} range tests and interpolations")
    return f"Imported from {origins}: {' and '.join(parts)}; the rest was measured in this store."


def _task_view(
    store: Store,
    record: TaskRecord,
    metric: str | None,
    top_n: int,
    sources: Mapping[int, SourceRecord],
) -> TaskView:
    from lrscope.ladder import stored_ladder
    from lrscope.rank import rank_trials

    scoring = Scoring.from_metadata(record.metadata)
    chosen = scoring.get(metric or scoring.default_rank_metric, owner="the report").name
    notes: list[str] = []
    trials = store.trials(task=record.name, on_unreadable=_left_out(notes))
    counts = Counter(t.status for t in trials)
    status_counts = {s: counts[s] for s in STATUS_ORDER if counts[s]}
    ranking = rank_trials(trials, chosen, scoring=scoring)
    imported: Counter[GroupKey] = Counter(
        group_key(t) for t in trials if t.status in ("done", "diverged", "pruned") and t.imported
    )
    rows = _rows(ranking.rows, imported)
    apart = _rows(ranking.apart, imported)
    plotted = tuple(row.key for row in rows[:top_n])
    colors = {key: PALETTE[i] for i, key in enumerate(plotted)}
    drawn = rows[:top_n]
    policy_curves = tuple(c for c in (_policy_curve(row, notes) for row in drawn) if c is not None)
    metric_curves = _metric_curves(zip(drawn, ranking.rows, strict=False), trials)
    range_tests = _range_tests(store, record.name, notes)
    interpolations = _interpolations(store, record.name, scoring, notes)
    documents = [r.source_id for r in store.range_tests(record.name, on_unreadable=_noted)]
    documents += [r.source_id for r in store.interpolations(record.name, on_unreadable=_noted)]
    return TaskView(
        name=record.name,
        metadata=_metadata(record.metadata),
        status_counts=status_counts,
        range_tests=range_tests,
        rows=rows,
        apart=apart,
        ranked_by=chosen,
        pareto_axes=("best_iter", scoring.best.name),
        tie=ranking.tie,
        budget=ranking.steps,
        runtime=runtime_label(ranking.runtime or ""),
        ladder=stored_ladder(trials, ranking),
        plotted=plotted,
        colors=colors,
        policy_curves=policy_curves,
        metric_curves=metric_curves,
        interpolations=interpolations,
        notes=tuple(notes),
        provenance=_provenance(record, trials, documents, sources),
        scoring=scoring,
        columns=table_columns(scoring),
    )


def _rows(stats: Sequence[PolicyStats], imported: Mapping[GroupKey, int]) -> tuple[PolicyRow, ...]:
    budgets = Counter((s.spec, s.runtime) for s in stats)
    grids = Counter((s.spec, s.steps, s.runtime) for s in stats)
    runtimes: dict[str, set[str]] = defaultdict(set)
    for s in stats:
        runtimes[s.spec].add(s.runtime)
    rows = []
    for s in stats:
        mean = dict(s.mean)
        std = dict(s.std)
        mean["n_params"] = math.nan if s.n_params is None else float(s.n_params)
        std["n_params"] = math.nan
        label = s.spec if budgets[(s.spec, s.runtime)] == 1 else f"{s.spec} @ {s.steps:,} steps"
        if grids[(s.spec, s.steps, s.runtime)] > 1:
            label += f", eval every {s.eval_every}"
        if len(runtimes[s.spec]) > 1:
            label += f", {runtime_label(s.runtime)}"
        rows.append(
            PolicyRow(
                spec=s.spec,
                rank=s.rank or None,
                n_seeds=s.n,
                n_diverged=s.n_diverged,
                mean=mean,
                std=std,
                pareto=s.pareto,
                steps=s.steps,
                label=label,
                apart=s.apart,
                eval_every=s.eval_every,
                n_imported=imported.get(s.key, 0),
                runtime=runtime_label(s.runtime),
            )
        )
    return tuple(rows)


def _policy_curve(row: PolicyRow, notes: list[str]) -> PolicyCurve | None:
    """lr (and momentum) of ``row``'s spec at every step of its budget, thinned."""
    from lrscope.policies import parse

    try:
        policy = parse(row.spec)
    except LRScopeError as exc:
        notes.append(f"The lr curve of {row.spec!r} is not drawn: {exc}")
        return None
    stride = max(1, math.ceil(row.steps / MAX_POLICY_EVALS))
    steps = list(range(0, max(row.steps, 1), stride))
    lr = [policy(t) for t in steps]
    momentum = [policy.momentum(t) for t in steps] if policy.has_momentum else None
    keep = minmax_indices(lr, CURVE_POINTS)
    if momentum is not None:
        values = [math.nan if m is None else m for m in momentum]
        keep = sorted(set(keep) | set(minmax_indices(values, CURVE_POINTS)))
        return PolicyCurve(row.key, pick(steps, keep), pick(lr, keep), pick(values, keep))
    return PolicyCurve(row.key, pick(steps, keep), pick(lr, keep))


def _primary(point: Mapping[str, Any]) -> Any:
    """A stored curve point's primary metric (top-1 in points stored before they carried it)."""
    value = point.get("primary")
    return point.get("top1") if value is None else value


def _metric_curves(
    rows: Iterable[tuple[PolicyRow, PolicyStats]], trials: Iterable[TrialRecord]
) -> tuple[MetricCurve, ...]:
    """Per drawn row (and its ranking row): the primary metric per evaluation step over its
    seeds (mean, min, max), the trials of its group only (its runtime's: a bf16 seed is
    not one more seed of the fp32 ones).

    The seeds that finished without diverging are used, as in the ranking;
    when every seed diverged, the diverged ones are drawn instead.
    """
    by_key: dict[GroupKey, list[TrialRecord]] = defaultdict(list)
    for trial in trials:
        if trial.finished and trial.status != "pruned":
            by_key[group_key(trial)].append(trial)
    curves = []
    for row, stats in rows:
        members = by_key.get(stats.key, [])
        healthy = [t for t in members if t.status == "done"] or members
        per_step: dict[int, list[float]] = defaultdict(list)
        for trial in healthy:
            for point in trial.curve:
                value = _primary(point)
                if value is not None and math.isfinite(float(value)):
                    per_step[int(point["step"])].append(float(value))
        if not per_step:
            continue
        steps = sorted(per_step)
        keep = stride_indices(len(steps), CURVE_POINTS // 2)
        steps = [steps[i] for i in keep]
        curves.append(
            MetricCurve(
                label=row.key,
                steps=tuple(steps),
                mean=tuple(math.fsum(per_step[s]) / len(per_step[s]) for s in steps),
                low=tuple(min(per_step[s]) for s in steps),
                high=tuple(max(per_step[s]) for s in steps),
                n_seeds=len(healthy),
            )
        )
    return tuple(curves)


def _range_tests(store: Store, task: str, notes: list[str]) -> tuple[RangeTestView, ...]:
    records = store.range_tests(task, on_unreadable=_left_out(notes))
    if not records:
        return ()
    from lrscope.rangetest.result import RangeTestResult

    views = []
    newest = list(reversed(records))
    for record in newest[:MAX_RANGE_TESTS]:
        try:
            result = RangeTestResult.from_dict(record.result)
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(
                f"Range test {record.id} is not an lr range test and is not drawn ({exc!r})."
            )
            continue
        when = record.created_at.strftime("%Y-%m-%d %H:%M UTC")
        seed = "" if result.seed is None else f", seed {result.seed}"
        title = (
            f"{result.mode} ramp {result.start_lr:g} → {result.end_lr:g}, "
            f"{result.steps_done} steps{seed} ({when})"
        )
        marks: tuple[SuggestionMark, ...] = ()
        if result.suggestions is not None:
            marks = tuple(
                SuggestionMark(name, s.lr, s.method, s.fallback)
                for name, s in result.suggestions.items()
            )
            if not result.suggestions.usable:
                title += f"; no usable range: {result.suggestions.reason}"
        evals = result.evals
        views.append(
            RangeTestView(
                title=title,
                lr=result.lr,
                loss=result.loss,
                smoothed_loss=result.smoothed_loss,
                eval_lr=tuple(p.lr for p in evals),
                eval_top1=tuple(p.top1 for p in evals),
                eval_loss=tuple(p.test_loss for p in evals),
                suggestions=marks,
                diverged_lr=result.diverged_lr,
            )
        )
    if len(records) > MAX_RANGE_TESTS:
        notes.append(f"{len(records) - MAX_RANGE_TESTS} older range tests are not drawn.")
    return tuple(views)


def _interpolations(
    store: Store, task: str, scoring: Scoring, notes: list[str]
) -> tuple[InterpolationView, ...]:
    """The task's latest interpolations; the second panel is its primary metric (none when
    that would repeat the loss), the losses in its loss unit."""
    records = store.interpolations(task, on_unreadable=_left_out(notes))
    if not records:
        return ()
    from lrscope.landscape.result import InterpolationResult

    views = []
    for record in list(reversed(records))[:MAX_INTERPOLATIONS]:
        try:
            result = InterpolationResult.from_dict(record.data)
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"Interpolation {record.id} cannot be read and is not drawn ({exc!r}).")
            continue
        title = result.label or f"{result.source_a} → {result.source_b}"
        points = result.points
        shown = result.shows_primary and result.primary_metric == scoring.primary
        views.append(
            InterpolationView(
                title=title,
                alphas=tuple(p.alpha for p in points),
                train_loss=tuple(p.train_loss for p in points),
                test_loss=tuple(p.test_loss for p in points),
                primary=tuple(result.primary_of(p)[1] for p in points) if shown else (),
                metric=scoring.primary_metric,
                loss_unit=scoring.loss_unit,
            )
        )
    if len(records) > MAX_INTERPOLATIONS:
        notes.append(f"{len(records) - MAX_INTERPOLATIONS} older interpolations are not drawn.")
    return tuple(views)
