"""A store with thousands of trials still gives a small page, built and opened quickly."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lrscope.report import write_report
from lrscope.store import Store
from report_browser import Chromium
from report_testlib import add_trials, range_test_result

N_TASKS = 3
N_SPECS = 250  # per task
N_SEEDS = 4  # 3 * 250 * 4 = 3000 trials
MAX_BYTES = 10_000_000
MAX_BUILD_S = 20.0  # about 2 s of CPU; generous for a loaded CI machine

pytestmark = pytest.mark.slow  # writing 3000 trials through the Store takes ~10 s


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, int]:
    folder = tmp_path_factory.mktemp("big")
    with Store.open(f"sqlite:///{folder / 'big.db'}") as store:
        n_trials = 0
        for t in range(N_TASKS):
            task = f"task-{t}"
            specs = [
                f"TRI2(k0={1e-4 * (1 + i):.6g}, k1={1e-2 * (1 + i):.6g}, l={100 + 10 * i})"
                if i % 2
                else f"FIX(k0={1e-3 * (1 + i):.6g})"
                for i in range(N_SPECS)
            ]
            n_trials += add_trials(store, task, specs, seeds=N_SEEDS, seed=t)
            store.put_range_test(task, range_test_result(task, steps=2000).to_dict())
        started = time.perf_counter()
        path = write_report(store, folder / "big.html")
        build_s = time.perf_counter() - started
    return path, build_s, n_trials


def test_thousands_of_trials_make_a_small_page_quickly(big_report: tuple[Path, float, int]) -> None:
    path, build_s, n_trials = big_report
    assert n_trials == 3000
    size = path.stat().st_size
    print(f"\n{n_trials} trials: page {size / 1e6:.2f} MB, built in {build_s:.1f} s")
    assert size < MAX_BYTES
    assert build_s < MAX_BUILD_S
    page = path.read_text(encoding="utf-8")
    # the tables list every policy; only the top 8 per task get curves
    assert page.count('<td class="l spec"') == N_TASKS * N_SPECS
    assert len(re.findall(r'<ul class="legend"', page)) == N_TASKS
    assert page.count('<span class="chip"') == N_TASKS * 8 * 2  # legend + table rows


@pytest.mark.browser
def test_big_page_opens_in_a_couple_of_seconds(
    chromium: Chromium, big_report: tuple[Path, float, int]
) -> None:
    path, _, _ = big_report
    timing = (
        "(function () { var t = performance.getEntriesByType('navigation')[0];"
        " return t.loadEventEnd - t.startTime; })()"
    )
    result = chromium.open(path.as_uri(), scripts=(timing,))
    assert result.errors == []
    load_ms = float(result.evaluated[0])
    print(f"\nloaded in {load_ms:.0f} ms")
    assert load_ms < 5000
