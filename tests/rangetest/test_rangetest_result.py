"""Serialising results: the usable state round-trips, and documents of older versions load."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np

from lrscope.rangetest import RangeTestResult, Suggestions, suggest

from .curves import LR, STEPS, result_of, sigmoid_curve


def _with_suggestions(loss: np.ndarray) -> RangeTestResult:
    result = result_of(LR, loss)
    return replace(result, suggestions=suggest(result))


def _flat() -> RangeTestResult:
    return _with_suggestions(2.3 + 0.01 * np.random.default_rng(0).standard_normal(STEPS))


def test_usable_and_unusable_results_round_trip_through_json() -> None:
    for result in (_with_suggestions(sigmoid_curve()), _flat()):
        data = json.loads(json.dumps(result.to_dict()))
        assert data["suggestions"]["usable"] is result.usable
        assert data["suggestions"]["reason"] == (result.suggestions and result.suggestions.reason)
        back = RangeTestResult.from_dict(data)
        assert back.suggestions == result.suggestions
        assert back.usable is result.usable


def _old_document(result: RangeTestResult) -> dict[str, Any]:
    """What the rules of an older lrscope stored: no usable state, other numbers."""
    data = result.to_dict()
    old = {k: v for k, v in data["suggestions"].items() if k not in ("usable", "reason")}
    old["suggested_lr"] = {"lr": 1.6e-5, "method": "valley", "fallback": None, "index": 12}
    old["max_lr"] = {"lr": 10.0, "method": "last_lr", "fallback": "flat curve", "index": 300}
    data["suggestions"] = old
    return data


def test_a_document_of_the_old_rules_loads_and_is_read_again() -> None:
    for result in (_with_suggestions(sigmoid_curve()), _flat()):
        back = RangeTestResult.from_dict(json.loads(json.dumps(_old_document(result))))
        assert back.suggestions == suggest(back) == result.suggestions
        assert back.suggestions is not None
        assert back.suggestions.suggested_lr.lr != 1.6e-5


def test_old_suggestions_alone_read_as_usable_as_stored() -> None:
    data = _old_document(_with_suggestions(sigmoid_curve()))["suggestions"]
    found = Suggestions.from_dict(data)
    assert found.usable
    assert found.reason is None
    assert found.suggested_lr.lr == 1.6e-5  # as stored: there are no curves to read


def test_a_result_stored_without_suggestions_keeps_none() -> None:
    data = result_of(LR, sigmoid_curve()).to_dict()
    assert data["suggestions"] is None
    assert RangeTestResult.from_dict(data).suggestions is None


def test_items_and_pairs_cover_the_suggestions_only() -> None:
    found = suggest(result_of(LR, sigmoid_curve()))
    names = [name for name, _ in found.items()]
    assert names == [
        "suggested_lr",
        "min_lr",
        "max_lr",
        "onecycle_max_lr",
        "steepest",
        "valley",
        "min_div_10",
    ]
    assert list(found.as_pairs()) == names
    assert set(found.to_dict()) == {*names, "usable", "reason"}
