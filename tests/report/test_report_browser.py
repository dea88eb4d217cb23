"""The report opened in a real headless Chromium: no errors, offline, sortable, not blank."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lrscope.report import write_report
from lrscope.store import Store
from report_browser import Chromium
from report_testlib import SPECS, add_trials, realistic_store

pytestmark = pytest.mark.browser

EVIL = "<script>alert(1)</script>"


def ink_fraction(png: bytes) -> tuple[float, int, tuple[int, int]]:
    """Fraction of pixels that are not near-white, distinct colours, (height, width)."""
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    ink = float((pixels.min(axis=2) < 0.94).mean())
    rgb = (pixels * 255).astype(np.uint32)
    colours = len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))
    return ink, colours, (pixels.shape[0], pixels.shape[1])


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    with realistic_store(f"sqlite:///{folder / 'store.db'}") as store:
        add_trials(store, EVIL, SPECS[:2], seeds=2)
        return write_report(store, folder / "report.html")


def test_harness_reports_errors_and_blank_pages(chromium: Chromium, tmp_path: Path) -> None:
    """The checks below can fail: a broken page is caught, a blank one is blank."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('bad thing');"
        "undefinedFunction();</script></body></html>"
    )
    result = chromium.open(broken.as_uri())
    assert any("bad thing" in e for e in result.errors), result.errors
    assert any("undefinedFunction" in e for e in result.errors), result.errors
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    ink, _, _ = ink_fraction(chromium.open(blank.as_uri()).png)
    assert ink < 0.001


def test_report_opens_without_errors_offline_and_is_not_blank(
    chromium: Chromium, report_page: Path, tmp_path: Path
) -> None:
    titles = "Array.from(document.querySelectorAll('section.task h2'), h => h.textContent)"
    result = chromium.open(report_page.as_uri(), scripts=(titles,))
    assert result.errors == []
    # everything is inline: the page itself is the only request
    assert result.requests == [report_page.as_uri()]
    # the task named like a script tag is shown as text, not run
    assert result.evaluated[0] == [EVIL, "mnist1d-cnn"]
    (tmp_path / "report.png").write_bytes(result.png)
    ink, colours, (height, width) = ink_fraction(result.png)
    assert (height, width) == (2000, 1280)
    assert ink > 0.05, f"screenshot looks blank: {ink:.3%} of pixels are not white"
    assert colours > 50


SORT_SCRIPT = """
(function () {
  var table = document.querySelector('table.ranking');
  var header = function (text) {
    return Array.prototype.find.call(table.tHead.rows[0].cells,
      function (th) {
        var label = th.textContent.replace(/\\s+/g, ' ').replace(/\\u2011/g, '-');
        return label.indexOf(text) === 0;
      });
  };
  var column = function (th) {
    var i = Array.prototype.indexOf.call(table.tHead.rows[0].cells, th);
    return Array.prototype.map.call(table.tBodies[0].rows,
      function (r) { return r.cells[i].getAttribute('data-v'); });
  };
  var out = {};
  var top1 = header('Top-1');
  top1.querySelector('button').click();
  out.top1_first = column(top1);
  out.top1_state = top1.getAttribute('aria-sort');
  top1.querySelector('button').click();
  out.top1_second = column(top1);
  var policy = header('Policy');
  policy.querySelector('button').click();
  out.policy = column(policy);
  return JSON.stringify(out);
})()
"""


def test_ranking_table_sorts_in_the_page(chromium: Chromium, tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        add_trials(store, "sortme", SPECS, seeds=2, diverge=[(SPECS[3], 0), (SPECS[3], 1)])
        page = write_report(store, tmp_path / "sort.html")
    result = chromium.open(page.as_uri(), scripts=(SORT_SCRIPT,))
    assert result.errors == []
    out = json.loads(result.evaluated[0])
    first = [float(v) for v in out["top1_first"] if v]
    assert out["top1_state"] == "descending"
    assert first == sorted(first, reverse=True)
    # every seed of SPECS[3] diverged: its empty value sorts last either way
    assert out["top1_first"][-1] == ""
    assert out["top1_second"][-1] == ""
    second = [float(v) for v in out["top1_second"] if v]
    assert second == sorted(second)
    assert out["policy"] == sorted(out["policy"], key=str.lower)
