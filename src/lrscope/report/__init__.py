"""The report: one self-contained HTML page of everything stored about each task.

>>> from lrscope.report import write_report
>>> from lrscope.store import Store
>>> write_report(Store.open("sqlite:///lrscope.db"), "report.html")  # doctest: +SKIP
PosixPath('report.html')

Per task: the range tests (loss and accuracy against lr, suggestions marked),
the policies' lr and momentum curves, test top-1 against step (mean over
seeds with a min-max band, the axis zoomed to where the policies differ),
the ranking table with every LRBench metric (sortable in the page; the
ranking of ``lrscope rank`` and ``lrscope tune``), the rows shown apart
(one-seed search trials, other budgets and runtimes, trials stopped early), accuracy
against cost with the Pareto front, and the stored interpolations. The page
needs no network: styles, the sorting script and the figures (SVG) are
inline. matplotlib is imported only while drawing.
"""

from __future__ import annotations

import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lrscope.report.data import DEFAULT_TOP_N, gather
from lrscope.report.html import DEFAULT_TITLE, render_report

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.store import Store

__all__ = [
    "DEFAULT_TITLE",
    "DEFAULT_TOP_N",
    "build_report",
    "gather",
    "render_report",
    "write_report",
]


def build_report(
    store: Store,
    task: str | None = None,
    *,
    metric: str | None = None,
    top_n: int = DEFAULT_TOP_N,
    title: str = DEFAULT_TITLE,
    now: datetime | None = None,
) -> str:
    """The report of ``store`` (every task, or only ``task``) as one HTML string.

    Args:
        store: an open :class:`lrscope.store.Store`.
        task: a stored task name; None for every task.
        metric: the ranking metric (one a task ranks by,
            :meth:`lrscope.metrics.Scoring.rankable`); default: each task's
            primary metric at the end (final top-1 for classification, final
            MSE for regression), as ``lrscope rank`` and ``lrscope tune`` rank.
        top_n: how many of the best policies get curves (the table lists all).
        title: the page title.
        now: the time printed as "generated" (default: now, UTC).

    Raises:
        TaskError: ``task`` is not stored. ParameterError: bad ``metric`` or ``top_n``.
    """
    data = gather(store, task, metric=metric, top_n=top_n, now=now)
    return render_report(data, title=title)


def write_report(
    store: Store,
    path: str | Path,
    task: str | None = None,
    *,
    metric: str | None = None,
    top_n: int = DEFAULT_TOP_N,
    title: str = DEFAULT_TITLE,
) -> Path:
    """Write :func:`build_report` to ``path`` (UTF-8, parent folders created); returns it.

    The page is written to a temporary file beside ``path`` and moved into
    place, so an interrupted or failed write leaves an earlier report whole.
    Stored rows that cannot be read are left out, each with a note on the
    page and an :class:`~lrscope.errors.LRScopeWarning`.
    """
    page = build_report(store, task, metric=metric, top_n=top_n, title=title)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _mode(target: Path) -> int:
    """The permissions ``target`` has, or those a new file gets (0o666 less the umask)."""
    if target.exists():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
