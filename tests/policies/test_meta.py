"""Meta-test: walk the registry, feed every parameter generated bad values.

Each message must name the policy, the parameter, what is allowed and the
value, exactly in the shape of ParameterError.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from lrscope.errors import ParameterError
from lrscope.policies import FIX, Policy, parse, registry
from lrscope.policies.base import PolicyList
from lrscope.validation import (
    Bool,
    Choice,
    Constraint,
    Interval,
    IntList,
)

from .helpers import EXAMPLES


def bad_values(constraint: Constraint) -> list[Any]:
    """Values the constraint must reject, generated from its declaration."""
    if isinstance(constraint, Interval):
        values: list[Any] = ["x", None, True, False, [1]]
        left_open = constraint.closed in ("right", "neither")
        right_open = constraint.closed in ("left", "neither")
        if constraint.low is not None:
            values.append(constraint.low - 1)
            values.append(constraint.low - 1e-9 if constraint.kind is float else constraint.low - 1)
            if left_open:
                values.append(constraint.kind(constraint.low))
        if constraint.high is not None:
            values.append(constraint.high + 1)
            if right_open:
                values.append(constraint.kind(constraint.high))
        if constraint.kind is int:
            values += [1.5, float("nan"), "2"]
        else:
            values += [math.nan, math.inf, -math.inf, "0.1"]
        return values
    if isinstance(constraint, Choice):
        return ["bogus", 1, None, True, ""]
    if isinstance(constraint, Bool):
        return ["yes", "true", 1, 0, None]
    if isinstance(constraint, IntList):
        low = constraint.low
        return [[], [low + 3, low + 2], [low - 1], [low, low], "x", [1.5], 5, None]
    if isinstance(constraint, PolicyList):
        return [[], [1, 2], "x", [FIX(k0=1.0)] * (constraint.min_length - 1), None]
    raise AssertionError(f"no bad values for {constraint!r}")


def cases() -> list[tuple[str, str, Any]]:
    out = []
    for key, cls in registry().items():
        for param in cls.declared_params():
            out += [(key, param.name, value) for value in bad_values(param.constraint)]
    return out


def test_every_registered_policy_has_a_valid_example() -> None:
    assert set(EXAMPLES) == set(registry())
    for key, cls in registry().items():
        policy = cls(**EXAMPLES[key])
        assert parse(policy.spec) == policy
        assert policy.name.lower() == key


@pytest.mark.parametrize(("key", "param", "value"), cases(), ids=repr)
def test_bad_values_name_policy_parameter_and_value(key: str, param: str, value: Any) -> None:
    cls = registry()[key]
    kwargs = {**EXAMPLES[key], param: value}
    with pytest.raises(ParameterError) as info:
        cls(**kwargs)
    error = info.value
    assert (error.owner, error.name) == (cls.name, param)
    message = str(error)
    assert message.startswith(f"The {param!r} parameter of {cls.name} must be ")
    assert message.endswith(f"Got {value!r} instead.")


def relation_cases() -> list[tuple[str, Any]]:
    return [(key, rel) for key, cls in registry().items() for rel in cls.relations]


@pytest.mark.parametrize(("key", "relation"), relation_cases(), ids=repr)
def test_relations_name_both_parameters(key: str, relation: Any) -> None:
    cls: type[Policy] = registry()[key]
    example = cls(**EXAMPLES[key]).params
    other = example[relation.other]
    bad = (
        other
        if relation.op in (">", "<")
        else other - 0.05
        if relation.op == ">="
        else other + 0.05
    )
    with pytest.raises(ParameterError) as info:
        cls(**{**EXAMPLES[key], relation.param: bad})
    message = str(info.value)
    assert message.startswith(f"The {relation.param!r} parameter of {cls.name} must be a float ")
    assert (
        f"than {relation.other}={other!r}" in message or f"to {relation.other}={other!r}" in message
    )
    assert message.endswith(f"Got {bad!r} instead.")


def test_constraint_descriptions() -> None:
    assert Interval(int, 1, None, "left").describe() == "an int in the range [1, inf)"
    assert Interval(float, 0, 1, "right").describe() == "a float in the range (0, 1]"
    assert Interval(float, 0, None, "neither").describe() == "a float in the range (0, inf)"
    assert Interval(float, 0.25, 0.5).describe() == "a float in the range [0.25, 0.5]"
    assert Choice(("cos", "linear")).describe() == "a str among {'cos', 'linear'}"
    assert IntList().describe() == (
        "a non-empty list of strictly increasing ints in the range [1, inf)"
    )
