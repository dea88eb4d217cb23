"""Fixtures for the report tests: a headless Chromium (see report_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from report_browser import CHROMIUM, Chromium


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser test needs Chromium at {CHROMIUM} (CI installs Debian's chromium "
            "with apt-get); it is absent on this machine"
        )
    browser = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()
