"""Meta-test: every configuration class of lrscope rejects generated bad values in one shape.

The package is walked (every module imported), every subclass of
:class:`lrscope.validation.Validated` that is not a policy is found, and every
declared constraint is fed the values :func:`constraint_testlib.bad_values`
derives from it. Each must raise :class:`lrscope.errors.ParameterError`
whose message names the owner, the parameter, what is allowed and the value
given: ``The 'mode' parameter of the range test must be a str among {'exp',
'linear'}. Got 'cubic' instead.`` Relations between parameters are broken on
purpose too. (The policies have their own meta-test: tests/policies/test_meta.py.)
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, TypeVar

import pytest

import lrscope
from constraint_testlib import bad_values, good_values, metric
from lrscope.bench.execution import Execution
from lrscope.bench.plan import Plan
from lrscope.engine.runtime import Runtime
from lrscope.errors import ParameterError, short_repr
from lrscope.landscape.settings import InterpolationSettings
from lrscope.metrics import Metric, Scoring
from lrscope.policies import Policy
from lrscope.rangetest.settings import (
    MomentumSweepSettings,
    RangeTestSettings,
    SweepSettings,
    WeightDecaySettings,
)
from lrscope.tune.budget import TuneBudget
from lrscope.tune.space import LRBounds
from lrscope.validation import Relation, Validated

#: Valid arguments of the classes with required parameters (the others build
#: from their defaults). A new configuration class with a required parameter
#: needs an entry: the meta-test fails until it has one.
EXAMPLES: dict[type[Validated], dict[str, Any]] = {
    Plan: {"task": "mnist1d-cnn", "policies": ["FIX(k0=0.1)"], "steps": 100},
    LRBounds: {"suggested_lr": 0.05, "min_lr": 0.01, "max_lr": 0.2, "peak_lr": 0.2},
    TuneBudget: {"steps": 100, "trials": 8},  # two units: either one alone is a budget
    Metric: {"name": "mape", "label": "MAPE", "direction": "min", "unit": "%", "description": ""},
    Scoring: {"metrics": (metric("a"), metric("b")), "primary": "a"},
    # ray accepts every other field's values (local takes one worker, no address)
    Execution: {"executor": "ray"},
}

#: Good values of fields whose constraint is completed by the class's own
#: ``_check`` (a Ray address must also be ``host:port``); generated ones are not.
GOOD_VALUES: dict[tuple[type[Validated], str], list[Any]] = {
    (Execution, "ray_address"): ["auto", "127.0.0.1:6379", "ray://head.example:10001"],
}

#: Every configuration class there is today; the walk must find at least these.
KNOWN = {
    Execution,
    Plan,
    LRBounds,
    TuneBudget,
    RangeTestSettings,
    SweepSettings,
    MomentumSweepSettings,
    WeightDecaySettings,
    InterpolationSettings,
    Metric,
    Scoring,
    Runtime,
}


_T = TypeVar("_T")


def _subclasses(cls: type[_T]) -> set[type[_T]]:
    found: set[type[_T]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def configuration_classes() -> list[type[Validated]]:
    """Every non-policy Validated subclass defined in lrscope, after importing every module."""
    for info in pkgutil.walk_packages(lrscope.__path__, "lrscope."):
        importlib.import_module(info.name)
    classes = [
        cls
        for cls in _subclasses(Validated)
        if not issubclass(cls, Policy) and cls.__module__.startswith("lrscope.")
    ]
    return sorted(classes, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


CLASSES = configuration_classes()


def _example(cls: type[Validated]) -> dict[str, Any]:
    return dict(EXAMPLES.get(cls, {}))


def value_cases() -> list[tuple[type[Validated], str, Any]]:
    return [
        (cls, param.name, value)
        for cls in CLASSES
        for param in cls.declared_params()
        for value in bad_values(param.constraint)
    ]


def relation_cases() -> list[tuple[type[Validated], Relation]]:
    return [(cls, relation) for cls in CLASSES for relation in cls.relations]


def _case_id(value: object) -> str:
    if isinstance(value, type):
        return value.__name__
    return short_repr(value, 30)


def test_the_walk_finds_every_configuration_class() -> None:
    assert set(CLASSES) >= KNOWN
    for cls in CLASSES:
        assert dataclasses.is_dataclass(cls)
        assert cls.declared_params(), f"{cls.__name__} declares no parameter"


@pytest.mark.parametrize("cls", CLASSES, ids=_case_id)
def test_every_class_builds_from_its_example_and_accepts_good_values(
    cls: type[Validated],
) -> None:
    required = {p.name for p in cls.declared_params() if p.required}
    assert required <= set(_example(cls)), f"add {cls.__name__} to EXAMPLES"
    built = cls(**_example(cls))
    assert dataclasses.replace(built) == built  # frozen and canonical: rebuilding changes nothing
    for param in cls.declared_params():
        if any(param.name in (r.param, r.other) for r in cls.relations):
            continue  # a good value alone may break a relation; those are tested below
        values = GOOD_VALUES.get((cls, param.name)) or good_values(param.constraint)
        for value in values:
            cls(**{**_example(cls), param.name: value})


@pytest.mark.parametrize(("cls", "param", "value"), value_cases(), ids=_case_id)
def test_bad_values_name_owner_parameter_allowed_values_and_value(
    cls: type[Validated], param: str, value: Any
) -> None:
    with pytest.raises(ParameterError) as info:
        cls(**{**_example(cls), param: value})
    error = info.value
    owner = cls.owner_name()
    allowed = next(p.constraint for p in cls.declared_params() if p.name == param).describe()
    assert (error.owner, error.name, error.allowed) == (owner, param, allowed)
    assert str(error) == (
        f"The {param!r} parameter of {owner} must be {allowed}. Got {short_repr(value)} instead."
    )


@pytest.mark.parametrize(("cls", "relation"), relation_cases(), ids=_case_id)
def test_relations_name_both_parameters(cls: type[Validated], relation: Relation) -> None:
    example = cls(**_example(cls))
    other = getattr(example, relation.other)
    bad = other if relation.op in (">", "<") else (other - 1 if relation.op == ">=" else other + 1)
    with pytest.raises(ParameterError) as info:
        cls(**{**_example(cls), relation.other: other, relation.param: bad})
    message = str(info.value)
    assert message.startswith(f"The {relation.param!r} parameter of {cls.owner_name()} must be ")
    assert f" {relation.other}={other!r}. Got " in message
    assert message.endswith(f"Got {short_repr(bad)} instead.")


@pytest.mark.parametrize("cls", CLASSES, ids=_case_id)
def test_unknown_option_names_list_the_known_ones(cls: type[Validated]) -> None:
    with pytest.raises(ParameterError) as info:
        cls.from_options(cls(**_example(cls)), bogus=1)
    for param in cls.declared_params():
        assert param.name in str(info.value)
