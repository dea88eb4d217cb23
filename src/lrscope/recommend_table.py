"""Recommendations as a terminal table that reads well at any width (80 columns included).

:class:`RecommendTable` is a rich renderable of a
:class:`~lrscope.recommend.RecommendResult`. Where the specs and task names
fit beside the numbers it draws one table with them inline; where they do not
(an 80-column terminal, a long one-cycle spec, a long task name) the table
numbers the recommendations and each one's spec and evidence (source task
and budget, the measured spec when it was rescaled) follow below it, each on
a line of its own, so neither a spec nor a number is cut. The evidence column is
the task's primary metric
(:attr:`RecommendResult.metric`: top-1 for a classification, MSE for a
regression), mean ± std over the seeds measured, as :mod:`lrscope.metrics`
displays it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table
    from rich.text import Text

    from lrscope.recommend import Recommendation, RecommendResult

__all__ = ["RecommendTable"]


class RecommendTable:
    """The renderable of a :class:`~lrscope.recommend.RecommendResult` (module docstring)."""

    def __init__(self, result: RecommendResult) -> None:
        self.result = result

    def _measured(self, r: Recommendation) -> str:
        name = self.result.metric.name
        mean = r.evidence.mean.get(name, math.nan)
        std = r.evidence.std.get(name, math.nan)
        return f"{self.result.metric.format(mean, std)} (n={r.evidence.n_seeds})"

    @staticmethod
    def _source(r: Recommendation) -> str:
        runtime = r.evidence.runtime
        return (
            r.source_task
            + ("" if runtime == "fp32" else f", {runtime}")
            + (" (imported)" if r.imported else "")
        )

    def _table(self, inline: bool) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"recommended for {self.result.task}"), title_justify="left")
        table.add_column("#", justify="right")
        if inline:
            table.add_column("policy")
        table.add_column("steps", justify="right", no_wrap=True)
        if inline:
            table.add_column("from task")
        table.add_column("similarity", justify="right", no_wrap=True)
        if inline:
            table.add_column("measured")
        table.add_column(self.result.metric.header, justify="right", no_wrap=True)
        table.add_column("lr x", justify="right", no_wrap=True)
        for i, r in enumerate(self.result.recommendations, start=1):
            cells: list[str | Text] = [str(i)]
            if inline:
                cells.append(Text(r.spec))  # specs are not markup
            cells.append(f"{r.steps:,}")
            if inline:
                cells.append(Text(self._source(r)))
            cells.append(f"{r.similarity:.2f}")
            if inline:
                cells.append(Text(f"{r.source_spec} @ {r.source_steps:,}"))
            cells += [self._measured(r), f"{r.lr_factor:.3g}"]
            table.add_row(*cells)
        return table

    def _legend(self) -> Iterator[Text]:
        from rich.text import Text

        width = len(str(len(self.result.recommendations)))
        indent = " " * (width + 2)
        for i, r in enumerate(self.result.recommendations, start=1):
            yield Text(f"{i:>{width}}  {r.spec}", overflow="fold")
            yield Text(f"{indent}from {self._source(r)}, {r.source_steps:,} steps", overflow="fold")
            if r.source_spec != r.spec:  # carried over: rescaled from what was measured
                yield Text(f"{indent}measured as {r.source_spec}", overflow="fold")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.measure import Measurement
        from rich.text import Text

        if not self.result.recommendations:
            yield Text(self.result.message or "no recommendation")
            return
        inline = self._table(inline=True)
        unbounded = options.update(max_width=10_000)
        if Measurement.get(console, unbounded, inline).maximum <= options.max_width:
            yield inline
            return
        yield self._table(inline=False)
        yield from self._legend()
