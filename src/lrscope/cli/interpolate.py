"""``lrscope interpolate``: loss and the primary metric along the line between two weight sets.

::

    lrscope interpolate --task T --from A.pt --to B.pt [--points 29]
        [--alpha-min -0.2] [--alpha-max 1.2] [--recompute-bn] [--train-samples N]
        [--data-dir D] [--label TEXT] [--plot FILE.png] [--loss-scale log|linear]
        [--device auto|cpu|cuda[:N]|mps] [--precision fp32|bf16|fp16]
        [--db URL | --no-store] [--json] [--quiet]

The networks are evaluated on ``--device`` under ``--precision``'s autocast
(there is no training, so no gradient accumulation).

The table has one row per alpha: train and test loss, then the train and test
values of the task's primary metric (:class:`lrscope.metrics.Scoring`):
``train top-1`` and ``top-1`` for a classification, ``train MAE`` and ``MAE``
for a regression scored by MAE (``primary_metric="mae"``), a task's own metric
by its label. The losses alone are shown when those columns would only repeat
them or be empty: a task scored by its loss alone, a regression trained on the
MSE it is scored by (:attr:`~lrscope.landscape.InterpolationResult.shows_primary`);
no column of NaN is printed for a metric the task does not have. ``--plot`` follows the
same rule for its bottom row (:func:`lrscope.landscape.plot_interpolations`).

``--from`` is network A (:math:`\\alpha = 0`), ``--to`` is network B
(:math:`\\alpha = 1`); the networks evaluated are
:math:`(1-\\alpha)\\,A + \\alpha\\,B` (Smith and Topin 2017, section 3). Repeat ``--from`` /
``--to`` (paired in order) and ``--label`` to compare several pairs: each
becomes one panel of the same ``--plot`` figure, side by side, e.g.::

    lrscope interpolate --task mnist1d-cnn \\
        --from tri/step_001500.pt --to tri/step_002250.pt --label "TRI cycles 2-3" \\
        --from fix/step_001500.pt --to fix/step_002250.pt --label "FIX" \\
        --plot interpolation.png --json

The JSON document is ``{"task", "recompute_bn", "train_samples", "plot",
"db", "interpolations": [...]}`` whatever the number of pairs; each
interpolation is ``InterpolationResult.to_dict()`` (``source_a``,
``source_b``, ``end_a``, ``end_b`` with the two saved networks' metrics,
``primary_metric``, ``points``: ``alpha, train_loss, train_top1, test_loss,
top1, top5, train_primary, primary``) plus
``summary`` (``min_test_loss_alpha``, ``train_loss_barrier``,
``test_loss_barrier``) and ``stored_id``. Results are stored in the results
database (``--db``, default ``$LRSCOPE_DB`` else ``sqlite:///lrscope.db``)
unless ``--no-store``.

The options build an :class:`~lrscope.landscape.InterpolationSettings` before
any model or data is loaded; a bad value gets the library's message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lrscope.cli._common import (
    DataDirOpt,
    DbOpt,
    DeviceOpt,
    JsonOpt,
    PrecisionOpt,
    Progress,
    QuietOpt,
    TaskOpt,
    emit,
    interrupt_note,
    resolve_db_url,
    runtime_option,
    stdout,
    task_failures,
)
from lrscope.cli._outputs import IMAGE, PlotOpt, check_output, replacing, writing
from lrscope.errors import ParameterError
from lrscope.landscape.settings import (
    DEFAULT_ALPHA_MAX,
    DEFAULT_ALPHA_MIN,
    DEFAULT_POINTS,
    DEFAULT_TRAIN_SAMPLES,
)

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime
    from lrscope.landscape import InterpolationResult, InterpolationSettings
    from lrscope.metrics import Metric
    from lrscope.store import Store
    from lrscope.tasks import Task

__all__ = ["interpolate", "register"]

_OWNER = "lrscope interpolate"


def register(app: typer.Typer) -> None:
    """Add ``interpolate`` to the ``lrscope`` app."""
    app.command("interpolate")(interpolate)


def _check_pairs(
    sources_a: list[Path], sources_b: list[Path], labels: list[str] | None
) -> list[str]:
    if not sources_a or not sources_b:
        raise ParameterError(
            _OWNER,
            "--from/--to",
            "given at least once each (weights A and B)",
            f"{len(sources_a)} --from and {len(sources_b)} --to",
        )
    if len(sources_a) != len(sources_b):
        raise ParameterError(
            _OWNER,
            "--from/--to",
            "given the same number of times (one pair each)",
            f"{len(sources_a)} --from and {len(sources_b)} --to",
        )
    if labels and len(labels) != len(sources_a):
        raise ParameterError(
            _OWNER,
            "--label",
            f"given once per --from/--to pair ({len(sources_a)}) or never",
            f"{len(labels)} label(s)",
        )
    return list(labels) if labels else [""] * len(sources_a)


def _summary(result: InterpolationResult) -> dict[str, float]:
    return {
        "min_test_loss_alpha": result.argmin("test_loss").alpha,
        "min_train_loss_alpha": result.argmin("train_loss").alpha,
        "train_loss_barrier": result.barrier("train_loss"),
        "test_loss_barrier": result.barrier("test_loss"),
    }


@contextmanager
def _opened(db_url: str | None) -> Iterator[Store | None]:
    """The store at ``db_url`` (None: ``--no-store``), open before any network is evaluated."""
    if db_url is None:
        yield None
        return
    from lrscope.store import Store

    with Store.open(db_url) as store:
        yield store


def _evaluate(
    the_task: Task,
    pairs: list[tuple[Path, Path, str]],
    settings: InterpolationSettings,
    runtime: Runtime,
    quiet: bool,
) -> list[InterpolationResult]:
    """Interpolate every ``(from, to, label)`` pair, with a progress bar over all of them."""
    from lrscope.landscape import interpolate as interpolate_weights

    results: list[InterpolationResult] = []
    total = (len(settings.alphas()) + 2) * len(pairs)
    done = [0]
    with (
        Progress(f"{the_task.name} interpolate", total, quiet=quiet) as progress,
        interrupt_note(
            lambda: (
                f"the interpolation stopped after {done[0]} of {total} evaluations; "
                "nothing is stored"
            )
        ),
        task_failures(the_task.name, lambda: f"after {done[0]} of {total} evaluations"),
    ):

        def on_progress(finished: int, steps: int) -> None:
            done[0] += 1
            progress.update(done[0])

        for path_a, path_b, text in pairs:
            results.append(
                interpolate_weights(
                    the_task,
                    path_a,
                    path_b,
                    settings=settings,
                    label=text,
                    on_progress=on_progress,
                    runtime=runtime,
                )
            )
    return results


def _primary_columns(result: InterpolationResult, primary: Metric) -> tuple[str, str] | None:
    """The table's columns of the primary metric: ``train top-1`` and ``top-1`` for a
    classification, ``train MAE`` and ``MAE`` for a regression scored by MAE; None when
    they would repeat the losses or be NaN (:attr:`InterpolationResult.shows_primary`)."""
    if not result.shows_primary:
        return None
    if result.primary_metric == "top1":
        return "train top-1", "top-1"
    label = primary.header if primary.name == result.primary_metric else result.primary_metric
    return f"train {label}", label


def _render(results: list[InterpolationResult], plot: Path | None, primary: Metric) -> None:
    from rich.table import Table

    for result in results:
        best = result.argmin("test_loss").alpha
        title = result.label or f"{result.source_a} -> {result.source_b}"
        table = Table(title=f"{result.task}: {title}  (A at α=0, B at α=1)")
        extra = _primary_columns(result, primary)
        for column in ("α", "train loss", "test loss", *(extra or ()), ""):
            table.add_column(column, justify="right")
        for p in result.points:
            mark = {0.0: "A", 1.0: "B"}.get(p.alpha, "")
            mark += " min test loss" if p.alpha == best else ""
            values = result.primary_of(p) if extra else ()
            table.add_row(
                f"{p.alpha:.3g}",
                _fmt(p.train_loss),
                _fmt(p.test_loss),
                *(_fmt(v) for v in values),
                mark,
            )
        stdout.print(table)
    if plot is not None:
        stdout.print(f"plot: {plot}")


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


def interpolate(
    task: TaskOpt,
    from_: Annotated[
        list[Path] | None,
        typer.Option(
            "--from",
            help="Weights A (alpha = 0): a state_dict or checkpoint file. Required; repeatable.",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        list[Path] | None,
        typer.Option(
            "--to",
            help="Weights B (alpha = 1), paired with the --from of the same rank. Required.",
            show_default=False,
        ),
    ] = None,
    points: Annotated[
        int, typer.Option("--points", help="Evenly spaced alphas (0 and 1 always added).")
    ] = DEFAULT_POINTS,
    alpha_min: Annotated[
        float, typer.Option("--alpha-min", help="Smallest alpha.")
    ] = DEFAULT_ALPHA_MIN,
    alpha_max: Annotated[
        float, typer.Option("--alpha-max", help="Largest alpha.")
    ] = DEFAULT_ALPHA_MAX,
    recompute_bn: Annotated[
        bool,
        typer.Option(
            "--recompute-bn", help="Re-estimate BatchNorm statistics on training data per point."
        ),
    ] = False,
    train_samples: Annotated[
        int, typer.Option("--train-samples", help="Training subsample size.")
    ] = DEFAULT_TRAIN_SAMPLES,
    data_dir: DataDirOpt = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label", help="Panel title of each pair (repeat once per pair).", show_default=False
        ),
    ] = None,
    plot: PlotOpt = None,
    loss_scale: Annotated[
        str, typer.Option("--loss-scale", help="log or linear loss axis.")
    ] = "log",
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the results in the database.")
    ] = True,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Loss and the primary metric of (1 - alpha) * A + alpha * B (Smith and Topin 2017)."""
    from lrscope.landscape import InterpolationSettings
    from lrscope.landscape.plot import LOSS_SCALE
    from lrscope.validation import check

    sources_a, sources_b = list(from_ or []), list(to or [])
    labels = _check_pairs(sources_a, sources_b, label)
    settings = InterpolationSettings(
        points=points,
        alpha_min=alpha_min,
        alpha_max=alpha_max,
        recompute_bn=recompute_bn,
        train_samples=train_samples,
    )
    loss_scale = check("plot_interpolations", "loss_scale", loss_scale, LOSS_SCALE)
    runtime = runtime_option(device, precision, None)
    db_url = resolve_db_url(db) if store else None
    if plot is not None:
        check_output(_OWNER, "--plot", plot, IMAGE, db_url=db_url)
    from lrscope.landscape import plot_interpolations
    from lrscope.tasks import get_task

    the_task = get_task(task, data_dir=data_dir)
    pairs = list(zip(sources_a, sources_b, labels, strict=True))
    with _opened(db_url) as opened:  # before any evaluation: a bad --db loses no work
        results = _evaluate(the_task, pairs, settings, runtime, quiet)
        ids: list[int | None] = (
            [opened.put_interpolation(r.task, r.to_dict()) for r in results]
            if opened is not None
            else [None] * len(results)
        )
    if plot is not None:
        kept = _kept(ids)
        with (
            interrupt_note(lambda: f"{kept}; the plot is not written"),
            writing({"--plot": plot}, kept=kept),
            replacing(plot) as temporary,
        ):
            plot_interpolations(
                results, temporary, loss_scale=loss_scale, primary=the_task.scoring.primary_metric
            )
    document: dict[str, Any] = {
        "task": the_task.name,
        "recompute_bn": settings.recompute_bn,
        "train_samples": results[0].train_samples,
        "plot": str(plot) if plot is not None else None,
        "db": _hidden(db_url),
        "interpolations": [
            {**r.to_dict(), "summary": _summary(r), "stored_id": i}
            for r, i in zip(results, ids, strict=True)
        ],
    }
    primary = the_task.scoring.primary_metric
    emit(document, as_json, lambda: _render(results, plot, primary))


def _kept(ids: list[int | None]) -> str:
    """What is safe when the plot fails: the stored ids, or nothing (``--no-store``)."""
    stored = [str(i) for i in ids if i is not None]
    if not stored:
        return "the results are not stored (--no-store)"
    return f"the interpolations are stored as id {', '.join(stored)}"


def _hidden(url: str | None) -> str | None:
    if url is None:
        return None
    from lrscope.store import hide_credentials

    return hide_credentials(url)
