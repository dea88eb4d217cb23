"""Meta-test: walk the registry, feed every parameter generated bad values.

Each message must name the policy, the parameter, what is allowed and the
value, exactly in the shape of ParameterError.
"""

from __future__ import annotations

from typing import Any

import pytest

from constraint_testlib import bad_values
from lrscope.errors import ParameterError, short_repr
from lrscope.policies import Policy, parse, registry
from lrscope.validation import Choice, Interval, IntList

from .helpers import EXAMPLES


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
    allowed = next(p.constraint for p in cls.declared_params() if p.name == param).describe()
    assert message.startswith(f"The {param!r} parameter of {cls.name} must be {allowed}.")
    assert message.endswith(f"Got {short_repr(value)} instead.")


def relation_cases() -> list[tuple[str, Any]]:
    return [(key, rel) for key, cls in registry().items() for rel in cls.relations]


@pytest.mark.parametrize(("key", "relation"), relation_cases(), ids=repr)
def test_relations_name_both_parameters(key: str, relation: Any) -> None:
    cls: type[Policy] = registry()[key]
    example = cls(**EXAMPLES[key]).params
    other = example[relation.other]
    assert isinstance(other, (int, float))  # relations compare numbers
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
