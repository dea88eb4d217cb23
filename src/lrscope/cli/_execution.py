"""How trials run, as options of ``lrscope bench``, ``tune`` and ``demo``.

The options build one :class:`lrscope.bench.Execution`, which validates them
(bad values exit 2 with its one-line message); each command chooses its own
defaults (``bench``: ``local``, one trial at a time; ``tune`` and ``demo``:
``process`` in groups sized to the work, where the model allows).
"""

from __future__ import annotations

from typing import Annotated

import typer

from lrscope.bench.execution import DEFAULT_RAY_TIMEOUT_S, Execution

__all__ = [
    "DEFAULT_RAY_TIMEOUT_S",
    "BatchTrialsOpt",
    "ExecutorOpt",
    "GroupedBatchTrialsOpt",
    "RayAddressOpt",
    "RayTimeoutOpt",
    "WorkersOpt",
    "build_execution",
    "prepare_process",
]

ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where trials run: local (this process), process (worker processes) or ray; "
        "batched means local in groups.",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Parallel workers (process, ray; default: the CPUs)."),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="A running Ray cluster, host:port or auto (default: start a local Ray).",
    ),
]
RayTimeoutOpt = Annotated[
    float,
    typer.Option("--ray-timeout", help="Seconds to wait for --ray-address to accept a connection."),
]
_BATCH_TRIALS_HELP = (
    "Each worker trains K trials of the task at a time in one stacked model "
    "(1: one at a time; auto: sized to the work). Models that cannot be batched "
    "run one trial at a time."
)
BatchTrialsOpt = Annotated[
    str | None,
    typer.Option(
        "--batch-trials",
        metavar="K|auto",
        help=_BATCH_TRIALS_HELP + "  [default: 1; auto with --executor batched]",
    ),
]
"""``--batch-trials`` of ``bench``: one trial at a time unless asked."""
GroupedBatchTrialsOpt = Annotated[
    str, typer.Option("--batch-trials", metavar="K|auto", help=_BATCH_TRIALS_HELP)
]
"""``--batch-trials`` of ``tune`` and ``demo``, whose default is ``auto``."""


def _group_size(text: str | None) -> int | str | None:
    """``--batch-trials`` as given: an int when it is one, else the text (validated later)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def build_execution(
    executor: str,
    workers: int | None,
    batch_trials: str | None,
    *,
    ray_address: str | None = None,
    ray_timeout_s: float = DEFAULT_RAY_TIMEOUT_S,
) -> Execution:
    """The :class:`Execution` of the options. Raises ``ParameterError`` for bad values."""
    return Execution(
        executor,
        workers=workers,
        batch_trials=_group_size(batch_trials),
        ray_address=ray_address,
        ray_timeout_s=ray_timeout_s,
    )


def prepare_process(execution: Execution) -> None:
    """Set up this process when its own trials train in groups (executor ``local``).

    The command line owns its process, so it may do what a library call must
    not: keep freed memory in the heap for the batched steps
    (:func:`lrscope.bench.worker.keep_freed_memory`). Worker processes and Ray
    workers do this at their own start-up.
    """
    if execution.executor == "local" and execution.grouped:
        from lrscope.bench.worker import keep_freed_memory

        keep_freed_memory()
