"""Generated values for the constraints of lrscope.validation, for the meta-tests.

:func:`bad_values` derives, from a constraint's declaration alone, values it
must reject: the wrong type, each bound and just past it, NaN and infinities,
empty and unordered lists, and so on. :func:`good_values` gives values it
must accept. Both meta-tests (every policy, every configuration class) use
them; a new kind of constraint must be taught here or the meta-tests fail.
"""

from __future__ import annotations

import math
from typing import Any

from lrscope.engine.runtime import DeviceName
from lrscope.metrics import Metric, MetricList
from lrscope.policies import FIX
from lrscope.policies.base import PolicyList
from lrscope.policies.spec import SpecList
from lrscope.validation import (
    INVALID,
    AnyOf,
    Bool,
    Choice,
    Constraint,
    FirstN,
    Identifier,
    Interval,
    IntList,
    ListOf,
    OrNone,
    PathText,
    Text,
)

__all__ = ["bad_values", "good_values", "metric"]


def metric(name: str) -> Metric:
    """A plain metric called ``name`` (lower is better), for the MetricList values."""
    return Metric(name, name.upper(), "min", "", "")


def _interval_bad(c: Interval) -> list[Any]:
    values: list[Any] = ["x", None, True, False, [1]]
    left_open = c.closed in ("right", "neither")
    right_open = c.closed in ("left", "neither")
    if c.low is not None:
        values.append(c.low - 1)
        values.append(c.low - 1e-9 if c.kind is float else c.low - 1)
        if left_open:
            values.append(c.kind(c.low))
    if c.high is not None:
        values.append(c.high + 1)
        if right_open:
            values.append(c.kind(c.high))
    if c.kind is int:
        values += [1.5, math.nan, "2"]
        if c.exact:
            values.append(2.0)
    else:
        values += [math.nan, math.inf, -math.inf, "0.1"]
    return values


def _interval_good(c: Interval) -> list[Any]:
    if c.low is None and c.high is None:
        return [c.kind(0), c.kind(1)]
    if c.low is None:
        assert c.high is not None
        return [c.kind(c.high - 1), c.kind(c.high - 2)]
    low = c.low if c.closed in ("left", "both") else c.low + (1 if c.kind is int else 0.25)
    if c.high is None:
        return [c.kind(low), c.kind(low + 1)]
    step = 1 if c.kind is int else (c.high - low) / 4
    return [c.kind(low), c.kind(low + step)]


def _list_bad(c: ListOf) -> list[Any]:
    a, b = good_values(c.item)[:2]
    values: list[Any] = ["x", None, {"a": 1}]
    if not c.scalar:
        values.append(a)
    if c.min_length > 0:
        values.append([])
    values += [[bad] for bad in bad_values(c.item) if not isinstance(bad, (list, tuple))][:4]
    if c.order == "distinct":
        values.append([a, a])
    if c.order == "increasing":
        values += [[a, a], sorted([a, b], reverse=True)]
    if c.scalar:
        values += [bad for bad in bad_values(c.item) if not isinstance(bad, (list, tuple))][:4]
    return values


def bad_values(constraint: Constraint) -> list[Any]:
    """Values ``constraint`` must reject, generated from its declaration."""
    c = constraint
    if isinstance(c, Interval):
        return _interval_bad(c)
    if isinstance(c, Choice):
        return ["bogus", 1, None, True, "", f"{c.options[0]}x"]
    if isinstance(c, Bool):
        return ["yes", "true", 1, 0, None]
    if isinstance(c, Text):
        values: list[Any] = [None, 5, b"x", "a\x00b", "a" * (c.max_length + 1)]
        values += ["", "   "] if c.strip and c.min_length > 0 else []
        values += [""] if not c.strip and c.min_length > 0 else []
        return values
    if isinstance(c, PathText):
        return [None, 5, "", b"dir", "a\x00b"]
    if isinstance(c, Identifier):
        return [None, 5, "", "1a", "_a", "a-b", "a b", "é", "a" * (c.max_length + 1)]
    if isinstance(c, DeviceName):
        return [None, 5, "", "gpu", "cuda:", "cuda:x", "cuda:-1", "tpu"]
    if isinstance(c, MetricList):
        return [None, [], "mse", ["mse"], [metric("a"), metric("a")], (metric("a"), 1)]
    if isinstance(c, IntList):
        low = c.low
        return [[], [low + 3, low + 2], [low - 1], [low, low], "x", [1.5], 5, None]
    if isinstance(c, ListOf):
        return _list_bad(c)
    if isinstance(c, FirstN):
        return [0, -1, c.high + 1, True, 1.5, "3", None]
    if isinstance(c, OrNone):
        return [v for v in bad_values(c.inner) if v is not None]
    if isinstance(c, AnyOf):
        # bad for one alternative may be good for another: keep what all reject
        candidates = [v for alt in c.alternatives for v in bad_values(alt)]
        values = [v for v in candidates if c.coerce(v) is INVALID]
        assert len(values) >= 3, f"too few bad values survive for {c!r}"
        return values
    if isinstance(c, PolicyList):
        return [[], [1, 2], "x", [FIX(k0=1.0)] * (c.min_length - 1), None]
    if isinstance(c, SpecList):
        return [[], "", "  ", [""], [1], [None], 5, None, {"FIX(k0=1)": 1}]
    raise AssertionError(f"no bad values for {c!r}: teach tests/constraint_testlib.py")


def good_values(constraint: Constraint) -> list[Any]:
    """At least two distinct values ``constraint`` accepts."""
    c = constraint
    if isinstance(c, Interval):
        return _interval_good(c)
    if isinstance(c, Choice):
        return list(c.options[:2]) * (1 if len(c.options) > 1 else 2)
    if isinstance(c, Bool):
        return [True, False]
    if isinstance(c, Text):
        return ["a" * max(c.min_length, 1), "b" * max(c.min_length, 1)]
    if isinstance(c, PathText):
        return ["data", "/tmp/x"]
    if isinstance(c, Identifier):
        return ["a", "b"]
    if isinstance(c, DeviceName):
        return ["auto", "cpu", "CUDA:1"]
    if isinstance(c, MetricList):
        return [[metric("a"), metric("b")], (metric("a"),)]
    if isinstance(c, OrNone):
        return [None, *good_values(c.inner)]
    if isinstance(c, ListOf):
        a, b = good_values(c.item)[:2]
        return [[a, b] if c.order != "increasing" else sorted([a, b]), [a]]
    if isinstance(c, AnyOf):
        return good_values(c.alternatives[0])
    if isinstance(c, FirstN):
        return [1, 2]
    if isinstance(c, SpecList):
        return ["FIX(k0=0.1)", ["fix(k0=0.1)", FIX(k0=0.2)]]
    raise AssertionError(f"no good values for {c!r}: teach tests/constraint_testlib.py")
