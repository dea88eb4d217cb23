"""Property tests (hypothesis): bounds, monotone segments, joins, spec round trips."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.policies import (
    COS,
    SIN,
    SIN2,
    SINEXP,
    TRI,
    TRI2,
    TRIEXP,
    Policy,
    exp_range,
    linear_ramp,
    onecycle,
    parse,
    piecewise,
    registry,
    sgdr,
    triangular,
    triangular2,
)
from lrscope.policies.base import PolicyList
from lrscope.validation import (
    Bool,
    Choice,
    Constraint,
    Interval,
    IntList,
)

FAST = settings(max_examples=40, deadline=None)
TOL = 1e-12

lrs = st.floats(min_value=1e-6, max_value=10.0)
ratios = st.floats(min_value=1.001, max_value=1000.0)
halves = st.integers(min_value=1, max_value=300)
gammas = st.floats(min_value=0.5, max_value=1.0)
steps = st.integers(min_value=0, max_value=5000)


LRBENCH_CYCLIC: dict[str, Callable[..., Policy]] = {
    "TRI": TRI,
    "TRI2": TRI2,
    "SIN": SIN,
    "SIN2": SIN2,
    "COS": COS,
}


@st.composite
def cyclic_policies(draw: st.DrawFn) -> tuple[Policy, float, float]:
    """A cyclic policy with its bounds (k0, k1)."""
    k0 = draw(lrs)
    k1 = k0 * draw(ratios)
    half = draw(halves)
    kind = draw(st.sampled_from(["TRI", "TRI2", "SIN", "SIN2", "COS", "TRIEXP", "SINEXP"]))
    kind = draw(st.sampled_from([kind, "triangular", "triangular2", "exp_range"]))
    gamma = draw(gammas)
    policy: Policy
    if kind in ("TRIEXP", "SINEXP"):
        policy = {"TRIEXP": TRIEXP, "SINEXP": SINEXP}[kind](k0=k0, k1=k1, gamma=gamma, l=half)
    elif kind in ("triangular", "triangular2"):
        cls = {"triangular": triangular, "triangular2": triangular2}[kind]
        policy = cls(base_lr=k0, max_lr=k1, stepsize=half, cycle_momentum=True)
    elif kind == "exp_range":
        policy = exp_range(base_lr=k0, max_lr=k1, stepsize=half, gamma=gamma)
    else:
        policy = LRBENCH_CYCLIC[kind](k0=k0, k1=k1, l=half)
    return policy, k0, k1


@FAST
@given(cyclic_policies(), steps)
def test_cyclic_policies_stay_within_their_bounds(case: Any, t: int) -> None:
    policy, k0, k1 = case
    lr = policy(t)
    assert k0 * (1 - TOL) <= lr <= k1 * (1 + TOL)
    if policy.has_momentum:
        assert 0.8 - TOL <= policy.momentum(t) <= 0.9 + TOL


@FAST
@given(cyclic_policies(), st.integers(min_value=0, max_value=5))
def test_triangles_rise_then_fall_within_each_cycle(case: Any, cycle: int) -> None:
    policy, _, _ = case
    half = policy.cycle_length() // 2
    start = 2 * half * cycle
    rising = [policy(t) for t in range(start, start + half + 1)]
    falling = [policy(t) for t in range(start + half, start + 2 * half + 1)]
    if policy.name == "COS":
        rising, falling = falling, rising
    if policy.name in ("TRIEXP", "SINEXP", "exp_range"):
        assert all(b <= a * (1 + TOL) for a, b in itertools.pairwise(falling))
        return  # the gamma**t decay may outweigh a slow rise
    assert all(b >= a * (1 - TOL) for a, b in itertools.pairwise(rising))
    assert all(b <= a * (1 + TOL) for a, b in itertools.pairwise(falling))


@FAST
@given(
    lrs,
    st.integers(min_value=2, max_value=400),
    st.floats(min_value=0.05, max_value=0.95),
    st.sampled_from(["cos", "linear"]),
)
def test_onecycle_rises_then_falls_and_momentum_mirrors(
    max_lr: float, total: int, pct: float, anneal: str
) -> None:
    assume(float(pct * total) - 1 != 0)
    policy = onecycle(max_lr=max_lr, total_steps=total, pct_start=pct, anneal=anneal)
    values = policy.values(total)
    momentum = policy.momentum_values(total)
    assert momentum is not None
    split = max(0, math.floor(float(pct * total) - 1) + 1)  # first step after phase 1
    up, down = values[:split], values[split:]
    assert all(b >= a * (1 - TOL) for a, b in itertools.pairwise(up))
    assert all(b <= a * (1 + TOL) for a, b in itertools.pairwise(down))
    assert max(values) <= max_lr * (1 + TOL)
    m_up = momentum[:split]
    assert all(b <= a + TOL for a, b in itertools.pairwise(m_up))  # type: ignore[operator]
    assert policy(total + 5) == values[-1]


@FAST
@given(lrs, st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=3), steps)
def test_sgdr_decreases_between_restarts(max_lr: float, period: int, mult: int, t: int) -> None:
    policy = sgdr(max_lr=max_lr, period=period, mult=mult)
    _, t_cur, t_i = policy.restart(t)
    assert 0 <= t_cur < t_i
    assert 0.0 <= policy(t) <= max_lr
    if t_cur + 1 < t_i:
        assert policy(t + 1) <= policy(t) * (1 + TOL)
    else:
        assert policy(t + 1) == max_lr  # a restart
    assert (t + 1 - t_cur + t_i - 1) in policy.cycle_ends(t + t_i)


@FAST
@given(cyclic_policies(), st.integers(min_value=1, max_value=4), steps)
def test_piecewise_of_equal_pieces_at_cycle_ends_is_the_piece(
    case: Any, cycles: int, t: int
) -> None:
    policy, _, k1 = case
    assume(policy.name in ("TRI", "SIN", "COS", "triangular"))
    boundary = cycles * policy.cycle_length()
    joined = piecewise([policy, policy], boundaries=[boundary])
    # sin/cos of pi*t/l lose ~t ulps of their argument: compare on the scale of k1.
    assert math.isclose(joined(t), policy(t), rel_tol=TOL, abs_tol=TOL * k1)


@FAST
@given(lrs, ratios, halves, st.integers(min_value=1, max_value=500))
def test_warmup_join_is_continuous_when_the_pieces_agree(
    k0: float, ratio: float, half: int, warmup: int
) -> None:
    k1 = k0 * ratio
    ramp = linear_ramp(start_lr=0.0, end_lr=k1, steps=warmup + 1)
    main = COS(k0=k0, k1=k1, l=half)
    assert math.isclose(ramp(warmup), main(0), rel_tol=TOL)  # the pieces agree at the join
    joined = piecewise([ramp, main], boundaries=[warmup])
    for t in range(max(0, warmup - 3), warmup + 3):
        expected = ramp(t) if t < warmup else main(t - warmup)
        assert joined(t) == expected
    # the join continues the ramp: no jump beyond the 1e-12 tolerance
    assert math.isclose(joined(warmup), ramp(warmup), rel_tol=TOL)


# --- spec round trips for generated valid parameters -----------------------


def values_for(constraint: Constraint) -> st.SearchStrategy[Any]:
    """Valid values of a constraint, generated from its declaration."""
    if isinstance(constraint, Interval):
        low = constraint.low
        high = constraint.high
        if constraint.kind is int:
            return st.integers(min_value=int(low or 0), max_value=int(high or 10**6))
        return st.floats(
            min_value=low,
            max_value=high if high is not None else 1e12,
            exclude_min=low is not None and constraint.closed in ("right", "neither"),
            exclude_max=high is not None and constraint.closed in ("left", "neither"),
            allow_nan=False,
            allow_infinity=False,
        )
    if isinstance(constraint, Choice):
        return st.sampled_from(constraint.options)
    if isinstance(constraint, Bool):
        return st.booleans()
    if isinstance(constraint, IntList):
        items = st.integers(min_value=constraint.low, max_value=10**6)
        return st.lists(items, min_size=1, max_size=5, unique=True).map(sorted)
    raise AssertionError(constraint)


@st.composite
def simple_policies(draw: st.DrawFn) -> Policy:
    classes = [c for c in registry().values() if c.name != "piecewise"]
    cls = draw(st.sampled_from(classes))
    required = {p.name: values_for(p.constraint) for p in cls.declared_params() if p.required}
    optional = {p.name: values_for(p.constraint) for p in cls.declared_params() if not p.required}
    kwargs = draw(st.fixed_dictionaries(required, optional=optional))
    try:
        return cls(**kwargs)
    except ParameterError:
        assume(False)
        raise


@st.composite
def any_policies(draw: st.DrawFn) -> Policy:
    if draw(st.booleans()):
        return draw(simple_policies())
    pieces = draw(st.lists(simple_policies(), min_size=2, max_size=4))
    bounds = draw(
        st.lists(
            st.integers(min_value=1, max_value=10**5),
            min_size=len(pieces) - 1,
            max_size=len(pieces) - 1,
            unique=True,
        )
    )
    return piecewise(pieces, boundaries=sorted(bounds))


def test_round_trip_generator_covers_every_parameter_kind() -> None:
    kinds = {
        type(p.constraint)
        for cls in registry().values()
        for p in cls.declared_params()
        if cls.name != "piecewise"
    }
    assert kinds == {Interval, Choice, Bool, IntList}
    assert isinstance(registry()["piecewise"].declared_params()[0].constraint, PolicyList)


@settings(max_examples=150, deadline=None)
@given(any_policies())
def test_spec_round_trips(policy: Policy) -> None:
    again = parse(policy.spec)
    assert again == policy
    assert hash(again) == hash(policy)
    assert again.spec == policy.spec
    assert again.params == policy.params
    assert again(0) == policy(0) or (math.isnan(again(0)) and math.isnan(policy(0)))
