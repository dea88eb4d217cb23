"""The Policy base: immutability, identity, step validation, registry."""

from __future__ import annotations

import dataclasses

import pytest

from lrscope.errors import LRScopeError, ParameterError
from lrscope.policies import (
    COS,
    TRI,
    TRI2,
    OneCycle,
    Policy,
    onecycle,
    parse,
    policy_names,
    registry,
    triangular,
)


def test_registry_has_every_policy_of_policies_md() -> None:
    expected = [
        "FIX",
        "STEP",
        "NSTEP",
        "EXP",
        "INV",
        "POLY",
        "TRI",
        "TRI2",
        "TRIEXP",
        "SIN",
        "SIN2",
        "SINEXP",
        "COS",
        "triangular",
        "triangular2",
        "exp_range",
        "decay",
        "onecycle",
        "onecycle_fastai",
        "onecycle_smith",
        "sgdr",
        "warmup_cosine",
        "linear_decay",
        "poly_decay",
        "wsd",
        "inverse_sqrt",
        "linear_ramp",
        "exp_ramp",
        "piecewise",
    ]
    assert policy_names() == expected
    assert list(registry()) == [name.lower() for name in expected]
    assert registry()["onecycle"] is OneCycle
    assert all(issubclass(cls, Policy) for cls in registry().values())
    families = {cls.family for cls in registry().values()}
    assert families == {"fixed", "decay", "cyclic", "onecycle", "restarts", "ramp", "composite"}


def test_policies_are_immutable_hashable_and_equal_by_name_and_params() -> None:
    a = TRI2(k0=0.001, k1=0.006, l=2000)
    b = TRI2(k0=1e-3, k1=6e-3, l=2000)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, TRI(k0=0.001, k1=0.006, l=2000)}) == 2
    tri: Policy = TRI(k0=0.001, k1=0.006, l=2000)
    assert a != tri  # same params, other name
    assert a != TRI2(k0=0.001, k1=0.006, l=2001)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.k0 = 0.5  # type: ignore[misc]
    assert repr(a) == str(a) == a.spec


def test_params_are_canonical_and_complete() -> None:
    policy = onecycle(max_lr=1, total_steps=10)
    assert policy.params["max_lr"] == 1.0
    assert isinstance(policy.params["max_lr"], float)
    assert list(policy.params) == [
        "max_lr",
        "total_steps",
        "pct_start",
        "div_factor",
        "final_div_factor",
        "anneal",
        "three_phase",
        "base_momentum",
        "max_momentum",
        "cycle_momentum",
    ]
    assert policy.n_params == 2


@pytest.mark.parametrize("bad", [-1, 1.5, 2.0, "3", None, True])
def test_negative_or_non_int_steps_are_errors(bad: object) -> None:
    policy = COS(k0=0.001, k1=0.1, l=10)
    with pytest.raises(ParameterError, match=r"The 't' parameter of COS must be an int") as info:
        policy(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, LRScopeError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ParameterError, match="'t' parameter"):
        policy.momentum(bad)  # type: ignore[arg-type]


def test_values_and_momentum_values() -> None:
    policy = triangular(base_lr=0.1, max_lr=0.2, stepsize=2, cycle_momentum=True)
    assert policy.values(5) == [policy(t) for t in range(5)]
    assert policy.momentum_values(5) == [policy.momentum(t) for t in range(5)]
    assert policy.values(0) == []
    with pytest.raises(ParameterError, match="'steps' parameter"):
        policy.values(-1)
    with pytest.raises(ParameterError, match="'total_steps' parameter"):
        policy.cycle_ends(-5)


def test_numpy_integers_are_valid_steps() -> None:
    numpy = pytest.importorskip("numpy")
    policy = COS(k0=0.001, k1=0.1, l=10)
    assert policy(numpy.int64(10)) == policy(10)
    assert COS(k0=0.001, k1=0.1, l=numpy.int32(10)) == policy


def test_policy_list_args_become_tuples_and_spec_parses_back() -> None:
    policy = parse("NSTEP(k0=0.1, gamma=0.5, milestones=[3, 7])")
    assert policy.params["milestones"] == (3, 7)
    assert hash(policy) == hash(parse(policy.spec))


def test_missing_arguments_in_python_are_type_errors() -> None:
    with pytest.raises(TypeError, match="'l'"):
        TRI2(k0=0.001, k1=0.006)  # type: ignore[call-arg]


def test_policies_pickle_and_copy_to_equal_values() -> None:
    import copy
    import pickle

    policy = parse(
        "piecewise([linear_ramp(start_lr=0.0, end_lr=0.1, steps=11), "
        "onecycle(max_lr=0.1, total_steps=100)], boundaries=[10])"
    )
    policy(50)  # fills onecycle's cached phases
    for clone in (pickle.loads(pickle.dumps(policy)), copy.deepcopy(policy)):
        assert clone == policy
        assert clone.values(120) == policy.values(120)


def test_values_list_at_most_max_listed_steps() -> None:
    from lrscope.policies import FIX, onecycle
    from lrscope.policies.base import MAX_LISTED_STEPS
    from lrscope.policies.plot import default_steps

    policy = FIX(k0=0.1)
    assert policy.values(0) == []
    for listing in (policy.values, policy.momentum_values):
        with pytest.raises(ParameterError, match=r"'steps' parameter of FIX must be .*1000000\]"):
            listing(MAX_LISTED_STEPS + 1)
    huge = onecycle(max_lr=0.1, total_steps=10**11)
    assert default_steps(huge) == MAX_LISTED_STEPS  # the default horizon never exceeds it
