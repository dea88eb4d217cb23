"""The runnable examples in the docstrings of the configuration modules stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lrscope.validation",
    "lrscope.rangetest.settings",
    "lrscope.landscape.settings",
    "lrscope.bench.plan",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, verbose=False, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert attempted > 0
