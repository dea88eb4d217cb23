"""The search space of tune: centres from the range test, readable specs, budgets rescaled."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.tune.space import (
    FAMILIES,
    LRBounds,
    Proposal,
    SearchSpace,
    centre_cycles,
    round_decay,
    round_sig,
)

BOUNDS = LRBounds(suggested_lr=0.171, min_lr=0.0391, max_lr=0.206, peak_lr=0.206)
SPACE = SearchSpace(BOUNDS, 4800, 32)


def test_every_lrbench_function_one_cycle_sgdr_and_warmup_cosine_are_searched() -> None:
    lrbench = ("FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "TRI", "TRI2", "TRIEXP", "SIN",
               "SIN2", "SINEXP", "COS")  # fmt: skip
    assert (*lrbench, "onecycle", "sgdr", "warmup_cosine") == FAMILIES
    names = {parse(SPACE.build(SPACE.centre(f)).spec).name for f in FAMILIES}
    assert names == {*lrbench, "onecycle", "sgdr", "warmup_cosine"}


def test_the_centres_are_the_range_test_candidates() -> None:
    spec = {f: SPACE.build(SPACE.centre(f)).spec for f in FAMILIES}
    assert spec["FIX"] == "FIX(k0=0.171)"
    assert spec["STEP"] == "STEP(k0=0.171, gamma=0.1, l=1600)"  # two drops: ends at s/100
    assert spec["NSTEP"] == "NSTEP(k0=0.171, gamma=0.1, milestones=[2400, 3600])"
    assert spec["POLY"] == "POLY(k0=0.171, p=1.0, l=4800, k1=0.00171)"
    assert spec["TRI"] == "TRI(k0=0.0391, k1=0.206, l=150)"  # 16 cycles of 2 x 4.7 epochs
    assert spec["COS"] == "COS(k0=0.0391, k1=0.206, l=192)"  # 25 half-cycles: ends at k0
    assert spec["onecycle"] == "onecycle(max_lr=0.206, total_steps=4800)"
    exp = parse(spec["EXP"])
    assert exp(4800) == pytest.approx(0.171 * 0.01, rel=0.01)  # two orders lower at the end
    inv = parse(spec["INV"])
    assert inv(4800) == pytest.approx(0.171 * 0.01, rel=0.01)


def test_the_half_cycle_centre_is_the_range_test_one() -> None:
    assert centre_cycles(4800, 32) == 16  # 4800 / (2 * 16) = 150 steps = 4.7 epochs
    assert centre_cycles(4800, 32, odd=True) == 13  # 25 half-cycles of 192 steps
    assert centre_cycles(100, 32) == 1  # at least one cycle
    assert SPACE.max_cycles == 37  # half-cycles of two epochs or more


def test_rounding_keeps_three_significant_digits() -> None:
    assert round_sig(0.171234) == 0.171
    assert round_sig(1234.5) == 1230.0
    assert round_decay(0.9990403) == 0.99904
    assert round_decay(0.5) == 0.5
    assert round_decay(0.01 ** (1 / 4800)) == 0.999041  # 1 - 0.000959


def _proposals() -> st.SearchStrategy[Proposal]:
    def for_family(family: str) -> st.SearchStrategy[Proposal]:
        dims = SPACE.dims()
        params: dict[str, st.SearchStrategy[float]] = {}
        for name in SPACE.family_params(family):
            dim = dims[name]
            if dim.integer:
                params[name] = st.integers(int(dim.low), int(dim.high))
            else:
                params[name] = st.floats(dim.low, dim.high)
        return st.fixed_dictionaries(params).map(lambda p: Proposal(family, p))

    return st.sampled_from(FAMILIES).flatmap(for_family)


def _digits(value: Decimal) -> int:
    return len(value.normalize().as_tuple().digits)


_FLOAT = re.compile(r"=(-?\d+\.\d+(?:e-?\d+)?)")


@settings(max_examples=300, deadline=None)
@given(_proposals(), st.integers(8, 20_000))
def test_every_sampled_policy_builds_with_readable_floats(proposal: Proposal, steps: int) -> None:
    policy = SPACE.build(proposal, steps)
    assert parse(policy.spec) == policy
    for text in _FLOAT.findall(policy.spec):
        value = Decimal(text)
        complement = 1 - value  # a decay factor near 1 keeps 3 digits of 1 - gamma
        assert min(_digits(value), _digits(complement) if complement > 0 else 99) <= 3, policy.spec
    assert all(math.isfinite(policy(t)) and policy(t) >= 0 for t in (0, steps // 2, steps - 1))


def test_a_shorter_budget_scales_the_same_shape() -> None:
    tri = Proposal("TRI", {"cyclic.top": 1.0, "cyclic.ratio": 5.0, "cyclic.cycles": 6})
    assert SPACE.build(tri).spec == "TRI(k0=0.0412, k1=0.206, l=400)"  # 6 cycles in 4800
    assert SPACE.build(tri, 1200).spec == "TRI(k0=0.0412, k1=0.206, l=100)"  # 6 cycles in 1200
    one = SPACE.centre("onecycle")
    assert SPACE.build(one, 300).spec == "onecycle(max_lr=0.206, total_steps=300)"
    nstep = SPACE.build(SPACE.centre("NSTEP"), 8).spec
    assert nstep == "NSTEP(k0=0.171, gamma=0.1, milestones=[4, 6])"


def test_bad_spaces_and_proposals_are_named() -> None:
    with pytest.raises(ParameterError, match="'steps' parameter of the tune search space"):
        SearchSpace(BOUNDS, 7, 32)
    with pytest.raises(ParameterError, match="'families'"):
        SearchSpace(BOUNDS, 100, 4, families=("FIX", "ADAM"))
    with pytest.raises(ParameterError, match="'family'"):
        SPACE.build(Proposal("ADAM", {}))
    with pytest.raises(ParameterError, match="'params'"):
        SPACE.build(Proposal("STEP", {"decay.lr": 1.0}))
    with pytest.raises(ParameterError, match="'max_lr'"):
        LRBounds(suggested_lr=0.1, min_lr=0.2, max_lr=0.1, peak_lr=0.1)
