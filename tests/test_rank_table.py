"""The ranking table of a regression at 80 columns: every spec and every number whole."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from lrscope.metrics import REGRESSION_SCORING
from lrscope.rank import rank_trials
from lrscope.rank_table import RankingTable
from rank_testlib import RegressionRecord

TASK = "house-prices-regression"
SPECS = [
    "FIX(k0=0.0123)",
    "onecycle(max_lr=0.01, total_steps=2000, pct_start=0.25, div_factor=20.0)",
    "triangular2(base_lr=0.0005, max_lr=0.006, stepsize=250)",
    "SGDR(k0=0.00123, k1=0.0456, t0=100, t_mult=2)",
]


def _ranking(n_policies: int) -> list[RegressionRecord]:
    records = []
    for i in range(n_policies):
        spec = SPECS[i] if i < len(SPECS) else f"FIX(k0={0.001 * i:.4f})"
        for seed, d in enumerate((-0.00091, 0.0, 0.00091)):
            mse = 0.01486 + 0.0003 * i + d
            metrics = {"mse": mse, "best_mse": mse - 0.0005, "mae": 0.1, "r2": 0.9}
            best_iter = 1234 + 300 * seed
            records.append(RegressionRecord(spec, seed, metrics, best_iter, TASK, steps=2000))
    return records


@pytest.mark.parametrize(("width", "n_policies"), [(80, 4), (80, 12), (120, 4)])
def test_a_regression_ranking_cuts_no_spec_and_no_number(width: int, n_policies: int) -> None:
    ranking = rank_trials(_ranking(n_policies), scoring=REGRESSION_SCORING)
    console = Console(width=width, record=True)
    console.print(RankingTable(ranking, marks={SPECS[0]: "FIX baseline"}))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    mse = REGRESSION_SCORING.primary_metric
    cells = set(re.findall(r"[\d.]+±[\d.]+", text))
    assert len(ranking.rows) == n_policies
    for row in ranking.rows:
        assert row.spec in text
        assert mse.format(row.value("mse"), row.std["mse"]) in cells
    assert "…" not in text
