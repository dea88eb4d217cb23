"""Decimation and the SVG clean-up, on their own."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrscope._plaintext import plain_text
from lrscope.metrics import METRICS, REGRESSION_SCORING, Metric
from lrscope.report.decimate import minmax_indices, stride_indices
from lrscope.report.model import InterpolationView, MetricCurve
from lrscope.report.plots import finish_svg, interpolation_svg, metric_limits


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=3000), st.integers(4, 500))
def test_minmax_keeps_extremes_ends_and_order(values: list[float], max_points: int) -> None:
    keep = minmax_indices(values, max_points)
    assert keep == sorted(set(keep))
    assert keep[0] == 0
    assert keep[-1] == len(values) - 1
    assert len(keep) <= max(max_points, len(values) if len(values) <= max_points else 0) + 2
    kept = [values[i] for i in keep]
    assert max(kept) == max(values)
    assert min(kept) == min(values)


def test_minmax_ignores_non_finite_values() -> None:
    values = [math.nan] * 50 + [float(i % 7) for i in range(5000)] + [math.inf]
    keep = minmax_indices(values, 100)
    kept = [values[i] for i in keep if math.isfinite(values[i])]
    assert max(kept) == 6.0
    assert min(kept) == 0.0
    assert len(keep) <= 102


def test_stride_keeps_the_last_point() -> None:
    assert stride_indices(5, 10) == [0, 1, 2, 3, 4]
    keep = stride_indices(1001, 100)
    assert keep[0] == 0
    assert keep[-1] == 1000
    assert len(keep) <= 101
    with pytest.raises(ValueError, match="max_points"):
        stride_indices(10, 1)


def test_plain_text_is_literal() -> None:
    assert plain_text("cost $5 and $6") == r"cost \$5 and \$6"
    assert plain_text("_hidden").startswith("\u200b_")


MATPLOTLIB_LIKE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="288pt" height="216pt" viewBox="0 0 288 216">
 <metadata><rdf:RDF>x</rdf:RDF></metadata>
 <defs><path id="m1" d="M 0 0 L 0 3.5"/><clipPath id="p2"><rect x="1.123456" y="2"/></clipPath>
 </defs>
 <g id="figure_1"><g id="line2d_1" clip-path="url(#p2)">
  <path d="M 46.145455 154.44
L 47.000001 184.68" style="font-family: 'DejaVu Sans', sans-serif; fill: red"/>
  <use xlink:href="#m1" x="10.55555" y="3"/>
  <text>0.001234</text>
 </g></g>
</svg>
"""


def test_finish_svg_strips_prologue_scopes_ids_and_rounds_geometry() -> None:
    out = finish_svg(MATPLOTLIB_LIKE, uid="f1", title="<b>&</b>")
    assert out.startswith('<svg role="img" class="plot"')
    assert "<title>&lt;b&gt;&amp;&lt;/b&gt;</title>" in out
    assert "<?xml" not in out
    assert "DOCTYPE" not in out
    assert "metadata" not in out
    assert "font-family" not in out
    assert 'width="288pt"' not in out
    assert 'viewBox="0 0 288 216"' in out
    assert set(re.findall(r'id="([^"]+)"', out)) == {"f1-m1", "f1-p2"}
    assert "url(#f1-p2)" in out
    assert 'href="#f1-m1"' in out
    assert 'd="M 46.1 154.4 L 47.0 184.7"' in out  # rounded to 0.1 unit, one line
    assert 'x="10.6"' in out
    assert "<text>0.001234</text>" in out  # text content is never rounded
    with pytest.raises(ValueError, match="uid"):
        finish_svg(MATPLOTLIB_LIKE, uid='x" onload="', title="t")


def test_a_real_figure_is_lean_and_escaped() -> None:
    alphas = tuple(i / 10 for i in range(11))
    view = InterpolationView("t", alphas, alphas, alphas, alphas)
    svg = interpolation_svg(view, uid="ip", title='A "quoted" <title>')
    assert "&lt;title&gt;" in svg
    assert 'role="img"' in svg
    assert len(svg) < 40_000
    assert re.search(r"\d\.\d{2,}", " ".join(re.findall(r' d="([^"]*)"', svg))) is None


def test_the_interpolation_shows_the_task_s_own_metric_and_loss_unit() -> None:
    alphas = tuple(i / 10 for i in range(11))
    classification = interpolation_svg(
        InterpolationView("t", alphas, alphas, alphas, alphas), uid="c", title="c"
    )
    assert "loss (nats)" in classification
    assert "Accuracy along the line" in classification
    mse = METRICS["mse"]
    trained_on_it = InterpolationView("t", alphas, alphas, alphas, (), mse, "loss units")
    regression = interpolation_svg(trained_on_it, uid="r", title="r")
    assert "nats" not in regression
    assert "top-1" not in regression
    assert "Accuracy" not in regression
    assert ">loss<" in regression
    by_mae = InterpolationView("t", alphas, alphas, alphas, alphas, METRICS["mae"], "loss units")
    drawn = interpolation_svg(by_mae, uid="m", title="m")
    assert "MAE along the line" in drawn
    assert "test MAE" in drawn
    assert "nats" not in drawn


def _limits(curves: list[MetricCurve], metric: Metric = METRICS["top1"]) -> tuple[float, float]:
    limits = metric_limits(curves, metric)
    assert limits is not None
    return limits


def test_the_accuracy_chart_zooms_to_where_the_policies_differ() -> None:
    steps = tuple(range(0, 1001, 100))
    rising = tuple(0.3 + 0.65 * min(1.0, t / 300) for t in steps)  # 30 % early, 95 % late
    close = tuple(v + 0.02 for v in rising)  # another policy, 2 points better
    curves = [
        MetricCurve("a", steps, rising, rising, rising, 3),
        MetricCurve("b", steps, close, close, tuple(v + 0.01 for v in close), 3),
    ]
    # from a quarter of training on (step 300 here) the means are 0.95 and 0.97 and the
    # best band tops at 0.98: the axis spans 94.5 % to 98.5 %, not 30 % to 100 %
    low, high = _limits(curves)
    assert (low, high) == pytest.approx((0.945, 0.985))
    wide = [curves[0], MetricCurve("c", steps, tuple(v - 0.2 for v in rising), rising, rising, 1)]
    low, high = _limits(wide)
    assert low == pytest.approx(0.75 - 0.1 * 0.2)
    assert high == pytest.approx(0.95 + 0.1 * 0.2)
    assert metric_limits([]) is None
    flat = [MetricCurve("f", (0, 10), (0.999, 0.999), (0.999, 0.999), (1.0, 1.0), 2)]
    low, high = _limits(flat)
    assert (low, high) == pytest.approx((0.994, 1.0))


def test_a_lower_is_better_chart_zooms_to_the_best_seeds_and_is_not_clamped() -> None:
    steps = tuple(range(0, 1001, 100))
    falling = tuple(2.0 - 1.9 * min(1.0, t / 300) for t in steps)  # 2.0 early, 0.1 late
    curves = [MetricCurve("a", steps, falling, tuple(v - 0.02 for v in falling), falling, 3)]
    # from step 300 the mean is 0.1 and the best seed's band bottom 0.08: the axis spans
    # 0.08 to 0.1 padded by 2 % of 0.1 (a tenth of the span is less), above 1 kept open
    low, high = _limits(curves, REGRESSION_SCORING.primary_metric)
    assert low == pytest.approx(0.08 - 0.002)
    assert high == pytest.approx(0.1 + 0.002)
