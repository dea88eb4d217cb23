"""One truth: FIX's rank and numbers are the same in every view of one tune.

``lrscope tune --json``, ``lrscope rank --json``, the HTML report and the demo
summary all rank with :func:`lrscope.rank.rank_trials`; this test reads each
one's FIX row and compares rank and numbers exactly (the report's cells carry
the exact means in their ``data-v`` attributes), and the time-to-accuracy
ratio of tune, the demo and the report.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lrscope.bench import Execution
from lrscope.cli.app import app
from lrscope.demo import run_demo
from lrscope.report.model import METRICS

TASKS = Path(__file__).resolve().with_name("tune_tasks.py")
MLP = f"{TASKS}:make_mlp"


def _cli_json(args: list[str]) -> Any:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _report_row(page: str, spec: str) -> tuple[int, dict[str, float]]:
    """The rank and the exact metric means of ``spec``'s row in the report's ranking."""
    (table,) = re.findall(r'<table class="sortable ranking".*?</table>', page, flags=re.S)
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
        cells = re.findall(r'<td[^>]*data-v="([^"]*)"', row)
        if len(cells) > 1 and html.unescape(cells[1]) == spec:
            values = cells[3 : 3 + len(METRICS)]  # rank, policy, seeds, then the metrics
            means = {m.name: float(v) for m, v in zip(METRICS, values, strict=True) if v}
            return int(cells[0]), means
    raise AssertionError(f"{spec} is not in the report's ranking")


@pytest.mark.slow
def test_fix_rank_and_numbers_are_identical_in_tune_rank_report_and_demo(tmp_path: Path) -> None:
    demo = run_demo(tmp_path / "demo", minutes=0.3, task=MLP, execution=Execution("local"))
    db = demo.db_url
    summary = demo.summary()
    tuned = _cli_json(["tune", "--task", MLP, "--minutes", "0.3", "--executor", "local",
                       "--db", db, "--json"])  # fmt: skip  # resumes the demo's tune: no training
    ranked = _cli_json(["rank", "--task", "blobs4-mlp", "--db", db, "--json"])
    fix = tuned["baseline_spec"]
    assert fix.startswith("FIX(")
    assert summary["baseline"]["spec"] == fix

    baseline = tuned["baseline"]
    (ranked_fix,) = [row for row in ranked if row["spec"] == fix and row["rank"] is not None]
    assert ranked_fix == baseline  # the same row: rank, seeds, every mean and spread
    assert [r for r in ranked if r["rank"] is not None] == tuned["ranking"]
    assert summary["baseline"]["rank"] == baseline["rank"]
    assert summary["baseline"]["top1_mean"] == baseline["top1_mean"]
    assert summary["baseline"]["top1_std"] == baseline["top1_std"]
    assert summary["winner"]["spec"] == tuned["winner_spec"] == ranked[0]["spec"]

    page = demo.report.read_text(encoding="utf-8")
    ratio = summary["time_to_accuracy_ratio"]
    assert ratio == tuned["summary"]["time_to_accuracy_ratio"]
    assert "<h3>Time to accuracy</h3>" in page  # the report finds the ladder in the store
    if ratio is not None:
        assert f"The ratio is <b>{ratio:.2f}</b>." in page
    rank, means = _report_row(page, fix)
    assert rank == baseline["rank"]
    for name, value in means.items():
        expected = baseline.get(f"{name}_mean", baseline.get(name))
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12), name


@pytest.mark.slow
def test_two_tunes_on_two_runtimes_each_agree_with_rank_of_their_runtime(tmp_path: Path) -> None:
    """An fp32 tune and a ``--grad-accum 2`` tune on one store: neither's trials are more
    seeds of the other's; ``rank`` with each tune's runtime options is that tune's ranking,
    and ``rank``, the report and ``recommend`` without them rank fp32's (the default runtime,
    measured on as many policies), never a mix."""
    db = f"sqlite:///{tmp_path / 'two.db'}"
    tune = ["tune", "--task", MLP, "--steps", "60", "--trials", "6", "--executor", "local",
            "--db", db, "--json"]  # fmt: skip  # one budget: the same FIX spec on both runtimes
    fp32 = _cli_json(tune)
    accum = _cli_json([*tune, "--grad-accum", "2"])
    assert (fp32["runtime"], accum["runtime"]) == ("", "accum=2")
    for tuned, options in ((fp32, []), (fp32, ["--precision", "fp32"]),
                           (accum, ["--grad-accum", "2"])):  # fmt: skip
        ranked = _cli_json(["rank", "--task", "blobs4-mlp", "--db", db, "--json", *options])
        assert [r for r in ranked if r["rank"] is not None] == tuned["ranking"]
    ranked = _cli_json(["rank", "--task", "blobs4-mlp", "--db", db, "--json"])
    assert {(r["precision"], r["grad_accum"]) for r in ranked if r["rank"] is None} >= {
        ("fp32", 2)
    }  # the accumulated tune's confirmed policies: shown apart, never merged
    page = tmp_path / "report.html"
    assert CliRunner().invoke(app, ["report", "--db", db, "-o", str(page)]).exit_code == 0
    fix = fp32["baseline_spec"]
    rank, means = _report_row(page.read_text(encoding="utf-8"), fix)
    assert rank == fp32["baseline"]["rank"]
    assert means["top1"] == pytest.approx(fp32["baseline"]["top1_mean"], rel=1e-12)
    advice = _cli_json(["recommend", "--task", MLP, "--db", db, "--no-range-test", "--json"])
    ranked_fp32 = {(r["spec"], r["n"]) for r in fp32["ranking"]}
    for item in advice["recommendations"]:
        evidence = item["evidence"]
        assert evidence["runtime"] == "fp32"
        assert (evidence["spec"], evidence["n_seeds"]) in ranked_fp32
