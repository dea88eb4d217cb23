"""A ranking as a terminal table that reads well at any width (80 columns included).

:class:`RankingTable` is a rich renderable. Where the specs fit beside the
numbers it draws one table with them inline; where they do not (an
80-column terminal, a long one-cycle or SGDR spec) the table names each
policy by its family and the specs follow below it, one per line, so no spec
is folded over several lines; where even that table is too wide, it leaves
out the step of the best evaluation, then the best value, never cutting a
number. The rows shown apart (one-seed search trials,
other budgets and runtimes, trials stopped early) follow in a smaller table,
the best :data:`MAX_APART` of them. The runtime (precision, gradient
accumulation) is named in the title when the ranked one is not the default
(fp32, no accumulation), and in a column of the rows shown apart when they
hold more than one. Headers, units and digits come from
:mod:`lrscope.metrics`; ``-`` is NaN; ``*`` marks the Pareto front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from lrscope.metrics import Metric
from lrscope.rank import runtime_label, tie_break_name

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table
    from rich.text import Text

    from lrscope.rank import PolicyStats, Ranking

__all__ = ["MAX_APART", "RankingTable", "short_name"]

MAX_APART = 8
"""Rows shown apart that the table lists (``--json`` and ``--format csv`` list all)."""

_WIDE = ("best", "best_iter", "primary", "ld", "wall_s")
_NARROW = (("best", "best_iter"), ("best",), ())
"""The columns beside the ranking metric when the specs follow below the table, most
first: the first set whose table fits the width is drawn, so no number is cut."""


def short_name(spec: str) -> str:
    """The policy's name in ``spec`` (``TRI2(k0=...)`` -> ``TRI2``)."""
    return spec.split("(", 1)[0].strip() or spec


def _metrics(ranking: Ranking, names: Iterable[str]) -> list[Metric]:
    """The columns: the ranking metric, then ``names`` (``best``: ``best_<primary>``,
    ``primary``: the task's primary metric), as the task's scoring defines them."""
    scoring = ranking.scoring
    aliases = {"best": scoring.best.name, "primary": scoring.primary}
    wanted = [aliases.get(m, m) for m in (ranking.metric, *names)]
    known = scoring.rankable()
    return [known[m] for m in dict.fromkeys(wanted) if m != "diverged_rate"]


class RankingTable:
    """The renderable of a :class:`~lrscope.rank.Ranking` (see the module docstring).

    ``marks`` adds a word after a spec (``{"FIX(k0=0.171)": "baseline"}``);
    ``with_apart`` adds the rows shown apart.
    """

    def __init__(
        self,
        ranking: Ranking,
        *,
        marks: Mapping[str, str] | None = None,
        with_apart: bool = True,
    ) -> None:
        self.ranking = ranking
        self.marks = dict(marks or {})
        self.with_apart = with_apart

    def _title(self) -> str:
        r = self.ranking
        budget = "" if r.steps is None else f", {r.steps:,} steps"
        runtime = f", {r.runtime}" if r.runtime else ""
        tie = f", ties within {r.tie:g} by {tie_break_name(r.metric)}" if r.tie else ""
        return f"{r.task}: ranked by {r.metric}{budget}{runtime}{tie} (* = Pareto front)"

    def _label(self, spec: str) -> str:
        mark = self.marks.get(spec)
        return f"{spec}  [{mark}]" if mark else spec

    def _table(self, inline: bool, names: Iterable[str] = _WIDE) -> Table:
        from rich.table import Table
        from rich.text import Text

        metrics = _metrics(self.ranking, names)
        table = Table(title=Text(self._title()), title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("policy", overflow="fold")
        table.add_column("n", justify="right")
        table.add_column("div", justify="right")
        for metric in metrics:
            table.add_column(metric.header, justify="right", no_wrap=True)
        table.add_column("*", justify="center")
        for row in self.ranking.rows:
            name = self._label(row.spec) if inline else short_name(row.spec)
            cells: list[str | Text] = [str(row.rank), Text(name)]  # specs are not markup
            cells += [str(row.n), f"{row.diverged_rate:.0%}"]
            cells += [m.format(row.value(m.name), row.std.get(m.name, math.nan)) for m in metrics]
            cells.append("*" if row.pareto else "")
            table.add_row(*cells)
        return table

    def _legend(self) -> Iterator[Text]:
        from rich.text import Text

        width = len(str(len(self.ranking.rows)))
        for row in self.ranking.rows:
            yield Text(f"{row.rank:>{width}}  {self._label(row.spec)}", overflow="fold")

    def _apart(self) -> Iterator[Table | Text]:
        from rich.table import Table
        from rich.text import Text

        rows = self.ranking.apart
        if not rows:
            return
        metric = self.ranking.scoring.get(self.ranking.metric, owner="the ranking table")
        table = Table(title=Text("shown apart, not ranked"), title_justify="left")
        table.add_column("policy", overflow="fold", ratio=1)
        table.add_column("steps", justify="right")
        runtimes = len({row.runtime for row in (*self.ranking.rows, *rows)}) > 1
        if runtimes:
            table.add_column("runtime")
        table.add_column("n", justify="right")
        table.add_column(metric.header, justify="right", no_wrap=True)
        table.add_column("why", overflow="fold")
        for row in rows[:MAX_APART]:
            runtime = [runtime_label(row.runtime)] if runtimes else []
            table.add_row(
                Text(row.spec),
                f"{row.steps:,}",
                *runtime,
                str(row.n),
                _format(metric, row),
                row.apart,
            )
        yield table
        if len(rows) > MAX_APART:
            yield Text(f"... and {len(rows) - MAX_APART} more shown apart (--json lists every row)")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.measure import Measurement
        from rich.text import Text

        if not self.ranking.rows:
            yield Text(f"no ranked policies of {self.ranking.task}")
        else:
            unbounded = options.update(max_width=10_000)

            def fits(table: Table) -> bool:
                return Measurement.get(console, unbounded, table).maximum <= options.max_width

            inline = self._table(inline=True)
            if fits(inline):
                yield inline
            else:
                narrow = [self._table(inline=False, names=names) for names in _NARROW]
                yield next((table for table in narrow if fits(table)), narrow[-1])
                yield from self._legend()
        if self.with_apart:
            yield from self._apart()


def _format(metric: Metric, row: PolicyStats) -> str:
    value = row.value(metric.name)
    return metric.format(value) if not math.isnan(value) else "-"
