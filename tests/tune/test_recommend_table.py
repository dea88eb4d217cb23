"""``lrscope recommend`` on a regression at 80 columns: MSE evidence, no spec or number cut."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.bench import Execution, Plan, run_plan
from lrscope.cli.app import app
from lrscope.metrics import REGRESSION_SCORING
from lrscope.recommend import recommend
from lrscope.store import Store
from lrscope.tasks import get_task

TESTS = Path(__file__).parents[1]
SPECS = [
    "onecycle(max_lr=0.01,total_steps=24,pct_start=0.25,div_factor=20.0)",
    "triangular2(base_lr=0.0005,max_lr=0.006,stepsize=6)",
    "FIX(k0=0.003)",
]
NAME = "house-prices-regression-mlp"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A regression with a long name, three policies (long specs) on two seeds each."""
    root = tmp_path_factory.mktemp("recommend")
    module = root / "house_task.py"
    module.write_text(
        "import dataclasses, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from byo_tasks import regression\n\n\n"
        "def make_task():\n"
        f"    return dataclasses.replace(regression(), name={NAME!r})\n"
    )
    ref, url = f"{module}:make_task", f"sqlite:///{root / 'r.db'}"
    with Store.open(url) as store:
        run_plan(Plan(NAME, SPECS, seeds=2, steps=24), store, Execution("local"),
                 task=get_task(ref))  # fmt: skip
    return ref, url


def _recommend(ref: str, url: str, columns: int) -> str:
    args = ["recommend", "--task", ref, "--no-range-test", "--db", url]
    outcome = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert outcome.exit_code == 0, outcome.output
    return outcome.output


@pytest.mark.parametrize("columns", [80, 200])
def test_recommend_shows_the_primary_metric_and_cuts_nothing(
    stored: tuple[str, str], columns: int
) -> None:
    ref, url = stored
    with Store.open(url, readonly=True) as store:
        result = recommend(store, get_task(ref), run_range_test=False)
    assert result.metric.name == "mse"
    assert result.to_dict()["primary_metric"] == "mse"
    text = _recommend(ref, url, columns)
    assert max(len(line) for line in text.splitlines()) <= columns
    flat = re.sub(r"\s+", " ", text)
    assert "MSE" in text
    assert "top1" not in text.lower().replace("-", "")
    assert "nan" not in text
    assert len(result.recommendations) == 3
    mse = REGRESSION_SCORING.primary_metric
    for r in result.recommendations:
        assert r.spec in text  # whole, on one line
        assert r.source_task in text
        number = mse.format(r.evidence.mean["mse"], r.evidence.std["mse"])
        assert f"{number} (n=2)" in flat, number
