"""The report page built from real stores: structure, escaping, self-containment."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lrscope.engine.result import TrialKey
from lrscope.errors import ParameterError, TaskError
from lrscope.metrics import CLASSIFICATION_SCORING, REGRESSION_SCORING, Scoring
from lrscope.report import build_report, gather, write_report
from lrscope.report.plots import PALETTE
from lrscope.store import Store
from report_testlib import (
    METADATA,
    SPECS,
    add_trials,
    interpolation_dict,
    range_test_result,
    realistic_store,
    trial_dict,
)

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    path = tmp_path_factory.mktemp("realistic") / "store.db"
    store = realistic_store(f"sqlite:///{path}")
    page = build_report(store, now=NOW)
    yield store, page
    store.close()


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_empty_store_says_so(url: str) -> None:
    with Store.open(url) as store:
        page = build_report(store, now=NOW)
    assert page.startswith("<!DOCTYPE html>")
    assert "Nothing to show yet" in page
    assert "<svg" not in page
    assert page.rstrip().endswith("</html>")


def test_one_section_per_task_and_toc_links(url: str) -> None:
    with Store.open(url) as store:
        add_trials(store, "alpha", SPECS[:3], seeds=2)
        add_trials(store, "beta", SPECS[3:5], seeds=1)
        store.put_task("gamma", None)  # a task with nothing stored yet
        page = build_report(store, now=NOW)
    sections = re.findall(
        r'<section class="card task" id="(task-\d+)">\s*<div class="task-head"><h2>([^<]*)</h2>',
        page,
    )
    assert [name for _, name in sections] == ["alpha", "beta", "gamma"]
    links = re.findall(r'<a href="#(task-\d+)">', page)
    assert links == [anchor for anchor, _ in sections]
    assert "No finished trials, range tests or interpolations" in page  # gamma
    assert "2024-06-01 12:00 UTC" in page


def test_realistic_page_has_every_part(realistic: tuple[Store, str]) -> None:
    _, page = realistic
    for heading in (
        "Learning-rate range test",
        "Policies",
        "Test accuracy during training",
        "Ranking",
        "Accuracy against cost",
        "Interpolation: cycle 2 to cycle 4 of TRI2",
    ):
        assert f"<h3>{heading}</h3>" in page
    svgs = _svgs(page)
    assert len(svgs) == 5  # range test, policies, top-1, Pareto, interpolation
    assert page.count("<figcaption>") == len(svgs)
    # the suggestions of the stored range test are listed with their methods
    assert "suggested_lr" in page
    assert "min_lr" in page
    assert "max_lr" in page
    # the momentum panel appears because onecycle cycles momentum
    assert "Momentum (policies that cycle it)" in page
    # every LRBench metric is a column of the ranking
    header = re.search(r'<table class="sortable ranking".*?</thead>', page, flags=re.S)
    assert header is not None
    for label in (
        "Top-1",
        "Top-5",
        "Best<br>top-1",
        "Best<br>iter",
        "AC",
        "CD",
        "CDAC",
        "LD",
        "#Param",
    ):
        assert f">{label}" in header.group(0).replace("&#8209;", "-"), label


def test_ranking_table_lists_every_policy_in_rank_order(realistic: tuple[Store, str]) -> None:
    store, page = realistic
    from lrscope.rank import rank

    expected = [row.spec for row in rank(store, "mnist1d-cnn").rows]
    body = re.search(r'<table class="sortable ranking".*?<tbody>(.*?)</tbody>', page, flags=re.S)
    assert body is not None
    specs = [
        html.unescape(s) for s in re.findall(r'<td class="l spec" data-v="([^"]*)"', body.group(1))
    ]
    assert specs == expected
    assert len(specs) == len(SPECS)
    # numbers sort from data-v attributes: finite floats or empty
    for value in re.findall(r'<td(?: class="c")? data-v="([^"]*)"', body.group(1)):
        if value:
            float(value)
    # the diverged seed of SIN2 shows in its row
    sin2 = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", body.group(1)) if "SIN2" in r)
    assert "1 div." in sin2


def test_colours_are_consistent_across_table_legend_and_plots(realistic: tuple[Store, str]) -> None:
    _, page = realistic
    best = SPECS[0]
    legend = re.search(r'<ul class="legend".*?</ul>', page, flags=re.S)
    assert legend is not None
    first_chip = re.search(r"background:(#[0-9a-f]{6})", legend.group(0))
    assert first_chip is not None
    assert first_chip.group(1) == PALETTE[0]
    row = re.search(r"<tr class=\"top\">.*?</tr>", page, flags=re.S)
    assert row is not None
    assert html.escape(best) in row.group(0).replace(",<wbr>", ",")
    assert f"background:{PALETTE[0]}" in row.group(0)
    policy_svg, top1_svg = _svgs(page)[1:3]
    for svg in (policy_svg, top1_svg):
        assert f"stroke: {PALETTE[0]}" in svg
        # eight policies drawn (the top 8 of 10), each in its own colour
        assert sum(f"stroke: {c}" in svg for c in PALETTE[:8]) == 8
        assert f"stroke: {PALETTE[8]}" not in svg


def test_top_n_limits_curves_but_not_the_table(url: str) -> None:
    specs = [f"FIX(k0={0.001 * (i + 1):g})" for i in range(20)]
    with Store.open(url) as store:
        add_trials(store, "many", specs, seeds=2)
        data = gather(store, top_n=5)
        page = build_report(store, top_n=5)
    view = data.tasks[0]
    assert len(view.rows) == 20
    assert len(view.plotted) == 5 == len(view.metric_curves) == len(view.policy_curves)
    assert page.count('<td class="l spec"') == 20
    assert "the top 5 policies by rank" in page


def test_user_strings_are_escaped_everywhere(url: str) -> None:
    evil_spec = 'FIX(k0=0.01) <img src=x onerror="alert(2)">'
    with Store.open(url) as store:
        add_trials(store, EVIL, [SPECS[0], evil_spec], seeds=2)
        # same identity as add_trials' metadata: only its descriptive part changes
        store.put_task(EVIL, {**METADATA, "extra": {"dataset": "</style><b>bold</b>"}})
        result = range_test_result(EVIL)
        data = result.to_dict()
        data["suggestions"]["valley"]["method"] = '<img src=y onerror="alert(3)">'
        store.put_range_test(EVIL, data)
        store.put_interpolation(EVIL, interpolation_dict(EVIL, f"label {EVIL}"))
        page = build_report(store, title=f"title {EVIL}")
    assert EVIL not in page
    assert "<img" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert EVIL_ESCAPED in page
    # the only scripts are our own sorting script: exactly one <script> element
    assert page.count("<script") == 1
    # inside SVG too: the task name in every figure's <title>, matplotlib text escaped
    svgs = _svgs(page)
    assert svgs
    assert all(EVIL_ESCAPED in svg for svg in svgs)
    range_svg = svgs[0]
    assert "&lt;img src=y onerror=" in range_svg  # the method in the legend text
    # the unparseable spec is listed (escaped) and explained, not drawn
    assert html.escape(evil_spec) in page.replace(",<wbr>", ",")
    assert "is not drawn" in page


def _meta() -> dict[str, object]:
    return {
        "dataset": "d",
        "model_family": "m",
        "input_shape": [4],
        "train_size": 10,
        "num_classes": 2,
    }


def test_page_is_self_contained(realistic: tuple[Store, str]) -> None:
    _, page = realistic
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "<link" not in page
    assert "@import" not in page
    assert "<iframe" not in page
    assert not re.search(r"url\((?!#)", page)  # only in-document SVG references
    assert not re.search(r"<script\b[^>]*\bsrc=", page)
    assert "@font-face" not in page


def test_svg_ids_are_unique_across_figures(realistic: tuple[Store, str]) -> None:
    _, page = realistic
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    referenced = set(re.findall(r"url\(#([^)]+)\)", page)) | set(
        re.findall(r'href="#([^"]+)"', page)
    )
    assert referenced <= set(ids)
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page


def test_dense_curves_are_thinned(url: str) -> None:
    with Store.open(url) as store:
        add_trials(
            store, "long", ["TRI(k0=0.001, k1=0.1, l=50)"], seeds=2, steps=100_000, eval_every=100
        )
        store.put_range_test("long", range_test_result("long", steps=20_000).to_dict())
        data = gather(store)
        page = build_report(store)
    view = data.tasks[0]
    assert len(view.policy_curves[0].steps) <= 802
    # the curve keeps both extremes of the cyclic policy
    assert max(view.policy_curves[0].lr) == pytest.approx(0.1, rel=0.02)
    assert min(view.policy_curves[0].lr) == pytest.approx(0.001, rel=0.02)
    assert len(view.metric_curves[0].steps) <= 401
    longest_path = max(len(d) for d in re.findall(r' d="([^"]*)"', page))
    assert longest_path < 20_000  # ~800 points of a few characters each
    assert len(page.encode()) < 1_000_000


def test_unknown_task_and_bad_options(url: str) -> None:
    with Store.open(url) as store:
        add_trials(store, "known", SPECS[:1], seeds=1)
        with pytest.raises(TaskError, match=r"'missing'.*'known'"):
            build_report(store, "missing")
        with pytest.raises(ParameterError, match="metric"):
            build_report(store, metric="nope")
        with pytest.raises(ParameterError, match="top_n"):
            build_report(store, top_n=0)


def test_task_filter_and_write_report(url: str, tmp_path: Path) -> None:
    with Store.open(url) as store:
        add_trials(store, "one", SPECS[:2], seeds=1)
        add_trials(store, "two", SPECS[:2], seeds=1)
        path = write_report(store, tmp_path / "out" / "report.html", task="two")
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert re.findall(r"<h2>([^<]*)</h2>", page)[1:] == ["two"]  # after the contents' heading
    assert "<h2>one</h2>" not in page


def test_one_seed_trials_are_shown_apart_and_never_the_headline(url: str) -> None:
    """A tuning run's one-seed search trials may look best; they are not ranked."""
    with Store.open(url) as store:
        add_trials(store, "tuned", SPECS[1:3], seeds=2, steps=2000)
        key = TrialKey("tuned", SPECS[0], 0, 1000, 100)  # a shorter trial, far better
        trial_id = store.start_trial(key)
        assert trial_id is not None
        data = trial_dict("tuned", SPECS[0], 0, quality=0.99, steps=1000, rng=random.Random(0))
        store.finish_trial(trial_id, data)
        view = gather(store, now=NOW).tasks[0]
        page = build_report(store, now=NOW)
    assert {r.spec for r in view.rows} == set(SPECS[1:3])
    assert [(r.spec, r.apart, r.rank) for r in view.apart] == [(SPECS[0], "1 seed", None)]
    (callout,) = re.findall(r'<div class="best">(.*?)</div>', page, flags=re.S)
    assert html.escape(view.rows[0].spec) in callout
    assert html.escape(SPECS[0]) not in callout
    assert "Shown apart, not ranked" in page
    (apart_table,) = re.findall(r'<table class="sortable apart".*?</table>', page, flags=re.S)
    assert html.escape(SPECS[0]) in apart_table.replace("<wbr>", "")


@pytest.mark.parametrize(
    ("counts", "shown", "absent"),
    [
        ({"tasks": 1, "trials": 1, "range_tests": 1, "policies": 1}, ["1</b><span>task<",
         "1</b><span>trial<", "1</b><span>range test<", "1</b><span>policy<"], "tasks"),
        ({"tasks": 2, "trials": 0, "range_tests": 3}, ["2</b><span>tasks<", "0</b><span>trials<",
         "3</b><span>range tests<"], "task<"),
    ],
)  # fmt: skip
def test_the_header_counts_in_the_singular_for_one(
    counts: dict[str, int], shown: list[str], absent: str
) -> None:
    from lrscope.report.html import _header
    from lrscope.report.model import StoreSummary

    summary = StoreSummary("sqlite:///x.db", "3", counts, "2026-01-01 00:00 UTC", "1.0")
    page = _header(summary, "lrscope report")
    for needle in shown:
        assert needle in page
    assert absent not in page


def _regression_line(task: str, scored_by: str) -> dict[str, object]:
    """An interpolation of a regression trained on MSE; its primary metric is the loss
    itself (``"mse"``) or the MAE (``"mae"``, a third of the loss here)."""
    document = interpolation_dict(task, "A to B")
    for point in [document["end_a"], document["end_b"], *document["points"]]:
        for name in ("train_top1", "top1", "top5"):
            point[name] = None  # NaN: a regression has no top-1
        own = 1.0 if scored_by == "mse" else 1 / 3
        point["train_primary"] = point["train_loss"] * own
        point["primary"] = point["test_loss"] * own
    document["primary_metric"] = scored_by
    return document


@pytest.mark.parametrize("scored_by", ["mse", "mae"])
def test_a_regression_interpolation_has_no_accuracy_nor_nats(url: str, scored_by: str) -> None:
    scoring = Scoring.from_metadata(REGRESSION_SCORING.to_metadata())
    if scored_by == "mae":
        scoring = Scoring(metrics=scoring.metrics, primary="mae")
    with Store.open(url) as store:
        store.put_task("reg", {**_meta(), "num_classes": None, **scoring.to_metadata()})
        store.put_interpolation("reg", _regression_line("reg", scored_by))
        page = build_report(store, now=NOW)
    section = page.split('<section class="card task"', 1)[1]
    assert "<h3>Interpolation: A to B</h3>" in section
    assert "Accuracy along the line" not in section
    assert "test top-1" not in section
    assert "loss (nats)" not in section
    assert ("MAE along the line" in section) is (scored_by == "mae")


def test_a_classification_interpolation_keeps_its_accuracy(url: str) -> None:
    with Store.open(url) as store:
        store.put_task("cls", _meta())
        store.put_interpolation("cls", interpolation_dict("cls", "A to B"))
        page = build_report(store, now=NOW)
    assert "Accuracy along the line" in page
    assert "loss (nats)" in page


@pytest.mark.parametrize(
    ("scoring", "heading"),
    [
        (CLASSIFICATION_SCORING, "<h3>Time to accuracy</h3>"),
        (REGRESSION_SCORING, "<h3>Time to FIX&#x27;s best MSE</h3>"),
    ],
)
def test_the_ladder_is_headed_by_the_task_s_metric(scoring: Scoring, heading: str) -> None:
    from lrscope.ladder import time_to_accuracy
    from lrscope.report.html import _ladder
    from lrscope.report.model import TaskView

    metric = scoring.primary_metric
    tta = time_to_accuracy({10: [0.5], 20: [0.2]}, {10: [0.4], 20: [0.3]}, metric)
    text = _ladder(TaskView("t", scoring=scoring), tta)
    assert text.startswith(heading)
    assert ("accuracy" in text.split("</h3>")[0].lower()) is (metric.name == "top1")
