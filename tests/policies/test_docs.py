"""The runnable examples in the policy modules' docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lrscope.policies",
    "lrscope.policies.lrbench",
    "lrscope.policies.clr",
    "lrscope.policies.onecycle",
    "lrscope.policies.sgdr",
    "lrscope.policies.warmup",
    "lrscope.policies.ramps",
    "lrscope.policies.spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, verbose=False)
    assert failed == 0
    assert attempted > 0
