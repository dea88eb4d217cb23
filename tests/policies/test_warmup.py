"""Warmup-then-decay schedules: golden values at the phase boundaries, errors, properties."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.policies import (
    Policy,
    inverse_sqrt,
    linear_decay,
    parse,
    poly_decay,
    warmup_cosine,
    wsd,
)
from lrscope.policies.plot import default_steps
from lrscope.policies.rescale import rescale

from .helpers import close

FAST = settings(max_examples=60, deadline=None)
TOL = 1e-12

# --- golden values -------------------------------------------------------------


def test_warmup_cosine_golden() -> None:
    policy = warmup_cosine(max_lr=0.001, total_steps=1000, warmup_steps=100, min_lr=1e-5)
    assert policy(0) == 0.0  # the warmup starts at warmup_start_lr = 0
    assert policy(50) == close(0.0005)
    assert policy(99) == close(0.00099)
    assert policy(100) == 0.001  # the first step at max_lr
    assert policy(400) == close(1e-5 + 0.00099 * 0.75)  # a third of the way: cos(pi/3) = 1/2
    assert policy(550) == close(1e-5 + 0.00099 / 2)  # half way
    assert policy(1000) == 1e-5
    assert [policy(t) for t in (1001, 2000, 10**9)] == [1e-5] * 3  # holds min_lr
    assert policy.spec == (
        "warmup_cosine(max_lr=0.001, total_steps=1000, warmup_steps=100, min_lr=1e-05)"
    )
    assert policy.n_params == 4
    assert policy.family == "decay"
    assert policy.cycle_length() is None
    assert policy.cycle_ends(5000) == []


def test_warmup_cosine_without_warmup_starts_at_max_lr() -> None:
    policy = warmup_cosine(max_lr=0.5, total_steps=4)
    assert policy.values(6) == [
        0.5,
        close(0.25 * (1 + math.sqrt(0.5))),
        close(0.25),
        close(0.25 * (1 - math.sqrt(0.5))),
        0.0,
        0.0,
    ]
    assert policy.spec == "warmup_cosine(max_lr=0.5, total_steps=4)"


def test_linear_decay_golden() -> None:
    policy = linear_decay(max_lr=0.1, total_steps=110, warmup_steps=10)
    assert [policy(t) for t in (0, 5, 10, 60, 109, 110, 111)] == [
        0.0,
        close(0.05),
        0.1,
        close(0.05),
        close(0.001),
        0.0,
        0.0,
    ]
    floor = linear_decay(
        max_lr=0.1, total_steps=110, warmup_steps=10, min_lr=0.01, warmup_start_lr=0.02
    )
    assert floor(0) == 0.02
    assert floor(5) == close(0.06)
    assert floor(10) == 0.1
    assert floor(60) == close(0.055)
    assert floor(110) == floor(500) == 0.01


def test_poly_decay_golden() -> None:
    policy = poly_decay(max_lr=0.1, total_steps=110, warmup_steps=10, power=2.0, min_lr=0.01)
    assert policy(5) == close(0.05)
    assert policy(10) == 0.1
    assert policy(60) == close(0.01 + 0.09 * 0.25)
    assert policy(85) == close(0.01 + 0.09 * 0.0625)
    assert policy(110) == policy(111) == 0.01
    linear = poly_decay(max_lr=0.1, total_steps=110, warmup_steps=10)
    assert linear.values(120) == linear_decay(max_lr=0.1, total_steps=110, warmup_steps=10).values(
        120
    )
    assert linear.spec == "poly_decay(max_lr=0.1, total_steps=110, warmup_steps=10)"


@pytest.mark.parametrize(
    ("shape", "at_quarter", "at_half"),
    [
        ("linear", 0.25, 0.5),
        ("cos", (1 - math.sqrt(0.5)) / 2, 0.5),
        ("sqrt", 1 - math.sqrt(0.75), 1 - math.sqrt(0.5)),
    ],
)
def test_wsd_warmup_shapes(shape: str, at_quarter: float, at_half: float) -> None:
    policy = wsd(
        max_lr=0.01, total_steps=1000, warmup_steps=100, decay_steps=200, warmup_shape=shape
    )
    assert policy(0) == 0.0
    assert policy(25) == close(0.01 * at_quarter)
    assert policy(50) == close(0.01 * at_half)
    assert policy(100) == 0.01


@pytest.mark.parametrize(
    ("shape", "at_quarter", "at_half"),
    [
        ("linear", 0.75, 0.5),
        ("cos", (1 + math.sqrt(0.5)) / 2, 0.5),
        ("sqrt", 0.5, 1 - math.sqrt(0.5)),
    ],
)
def test_wsd_stable_then_decay_shapes(shape: str, at_quarter: float, at_half: float) -> None:
    policy = wsd(
        max_lr=0.01,
        total_steps=1000,
        warmup_steps=100,
        decay_steps=200,
        min_lr=0.001,
        decay_shape=shape,
    )
    assert policy.decay_start == 800
    assert {policy(t) for t in range(100, 801)} == {0.01}  # stable up to the decay's k = 0
    assert policy(850) == close(0.001 + 0.009 * at_quarter)
    assert policy(900) == close(0.001 + 0.009 * at_half)
    assert policy(1000) == policy(1001) == 0.001


def test_wsd_defaults_and_spec() -> None:
    policy = parse("WSD(max_lr=0.01, total_steps=1000, warmup_steps=100, decay_steps=200)")
    assert (policy.warmup_shape, policy.decay_shape) == ("linear", "cos")  # type: ignore[attr-defined]
    assert policy.spec == "wsd(max_lr=0.01, total_steps=1000, warmup_steps=100, decay_steps=200)"
    no_stable = wsd(max_lr=0.01, total_steps=300, warmup_steps=100, decay_steps=200)
    assert no_stable(100) == 0.01
    assert no_stable(200) == close(0.005)


def test_inverse_sqrt_golden() -> None:
    policy = inverse_sqrt(max_lr=1.0, warmup_steps=4)
    assert policy.values(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [policy(t) for t in (16, 64, 400)] == [close(0.5), close(0.25), close(0.1)]
    assert policy.tau == 4
    big_vision = inverse_sqrt(max_lr=0.01, warmup_steps=0, timescale=10)
    assert big_vision(0) == 0.01
    assert big_vision(30) == close(0.005)
    assert big_vision.spec == "inverse_sqrt(max_lr=0.01, warmup_steps=0, timescale=10)"


def test_inverse_sqrt_is_the_noam_schedule() -> None:
    """Vaswani et al. (2017): d^-0.5 * min(t^-0.5, t * W^-1.5), with max_lr = (d W)^-0.5."""
    d_model, warmup = 512, 4000
    policy = inverse_sqrt(max_lr=(d_model * warmup) ** -0.5, warmup_steps=warmup)
    for t in [*range(1, 50), 3999, 4000, 4001, 12345, 100_000, 10**7]:
        noam = d_model**-0.5 * min(t**-0.5, t * warmup**-1.5)
        assert policy(t) == pytest.approx(noam, rel=TOL), t


# --- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "warmup_cosine(max_lr=0.1, total_steps=100, warmup_steps=100)",
            "The 'warmup_steps' parameter of warmup_cosine must be an int in the range [0, 100) "
            "(less than total_steps=100). Got 100 instead.",
        ),
        (
            "linear_decay(max_lr=0.1, total_steps=100, min_lr=0.1)",
            "The 'min_lr' parameter of linear_decay must be a float less than max_lr=0.1. "
            "Got 0.1 instead.",
        ),
        (
            "poly_decay(max_lr=0.1, total_steps=100, warmup_start_lr=0.2)",
            "The 'warmup_start_lr' parameter of poly_decay must be a float less than or equal "
            "to max_lr=0.1. Got 0.2 instead.",
        ),
        (
            "wsd(max_lr=0.1, total_steps=100, warmup_steps=30, decay_steps=71)",
            "The 'decay_steps' parameter of wsd must be an int in the range [1, 70] "
            "(at most total_steps - warmup_steps = 100 - 30). Got 71 instead.",
        ),
        (
            "wsd(max_lr=0.1, total_steps=100, warmup_steps=100, decay_steps=1)",
            "The 'warmup_steps' parameter of wsd must be an int in the range [0, 100) "
            "(less than total_steps=100). Got 100 instead.",
        ),
        (
            "wsd(max_lr=0.1, total_steps=100, decay_steps=10, decay_shape=exp)",
            "The 'decay_shape' parameter of wsd must be a str among {'linear', 'cos', 'sqrt'}. "
            "Got 'exp' instead.",
        ),
        (
            "inverse_sqrt(max_lr=0.1, warmup_steps=0)",
            "The 'timescale' parameter of inverse_sqrt must be an int in the range [1, inf) when "
            "warmup_steps is 0 (timescale=0 means timescale=warmup_steps). Got 0 instead.",
        ),
    ],
)
def test_inconsistent_phases_are_named(text: str, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse(text)
    assert str(info.value) == message


# --- properties ----------------------------------------------------------------

lrs = st.floats(min_value=1e-6, max_value=10.0)
shapes = st.sampled_from(["linear", "cos", "sqrt"])


KINDS = ("warmup_cosine", "linear_decay", "poly_decay", "wsd")


@st.composite
def warmup_decays(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> Policy:
    """Any policy of ``kinds`` (warmup_cosine, linear_decay, poly_decay, wsd), small phases."""
    max_lr = draw(lrs)
    total = draw(st.integers(min_value=1, max_value=300))
    warmup = draw(st.integers(min_value=0, max_value=total - 1))
    common: dict[str, Any] = {
        "max_lr": max_lr,
        "total_steps": total,
        "warmup_steps": warmup,
        "min_lr": max_lr * draw(st.sampled_from([0.0, 0.01, 0.5, 0.999])),
        "warmup_start_lr": max_lr * draw(st.sampled_from([0.0, 0.1, 1.0])),
    }
    kind = draw(st.sampled_from(kinds))
    if kind == "poly_decay":
        return poly_decay(**common, power=draw(st.floats(min_value=0.1, max_value=5.0)))
    if kind == "wsd":
        decay = draw(st.integers(min_value=1, max_value=total - warmup))
        return wsd(**common, decay_steps=decay, warmup_shape=draw(shapes), decay_shape=draw(shapes))
    return {"warmup_cosine": warmup_cosine, "linear_decay": linear_decay}[kind](**common)


@FAST
@given(warmup_decays())
def test_rises_to_max_lr_then_falls_to_min_lr_and_holds(policy: Any) -> None:
    warmup, total = policy.warmup_steps, policy.total_steps
    values = policy.values(total + 5)
    low = min(policy.min_lr, policy.warmup_start_lr)
    assert all(low * (1 - TOL) <= v <= policy.max_lr * (1 + TOL) for v in values)
    assert values[0] == (policy.warmup_start_lr if warmup else policy.max_lr)
    up, down = values[: warmup + 1], values[warmup:]
    assert all(b >= a * (1 - TOL) for a, b in itertools.pairwise(up))
    assert all(b <= a * (1 + TOL) for a, b in itertools.pairwise(down))
    assert values[warmup] == policy.max_lr  # exactly: the first step at the peak
    assert values[total:] == [policy.min_lr] * 5
    assert policy(10**12) == policy.min_lr


@FAST
@given(warmup_decays(kinds=("wsd",)))
def test_wsd_is_flat_between_warmup_and_decay(policy: Any) -> None:
    assert policy.name == "wsd"
    assert {policy(t) for t in range(policy.warmup_steps, policy.decay_start)} <= {policy.max_lr}


@FAST
@given(
    lrs,
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=10**6),
)
def test_inverse_sqrt_falls_as_one_over_root_time(
    max_lr: float, warmup: int, timescale: int, t: int
) -> None:
    assume(warmup or timescale)
    policy = inverse_sqrt(max_lr=max_lr, warmup_steps=warmup, timescale=timescale)
    tau = timescale or warmup
    assert policy(warmup) == pytest.approx(max_lr, rel=TOL)
    if t >= warmup:
        # lr * sqrt(t - W + tau) is the same at every step after the warmup
        invariant = policy(t) * math.sqrt(t - warmup + tau)
        assert invariant == pytest.approx(max_lr * math.sqrt(tau), rel=TOL)
        assert policy(t + 1) < policy(t)
    else:
        assert policy(t) == pytest.approx(max_lr * t / warmup, rel=TOL)


# --- carried over to another task (rescale), and plotted -------------------------

SPECS = [
    "warmup_cosine(max_lr=0.001, total_steps=1000, warmup_steps=100, min_lr=1e-05)",
    "linear_decay(max_lr=0.1, total_steps=500, warmup_steps=50, warmup_start_lr=0.01)",
    "poly_decay(max_lr=0.1, total_steps=500, power=2.0, min_lr=0.001)",
    "wsd(max_lr=0.01, total_steps=1000, warmup_steps=100, decay_steps=200, decay_shape=sqrt)",
    "inverse_sqrt(max_lr=0.001, warmup_steps=40)",
    "inverse_sqrt(max_lr=0.001, warmup_steps=0, timescale=30)",
]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(("lr_factor", "step_factor"), [(2.0, 2.0), (0.5, 3.0), (3.0, 1.0)])
def test_stretched_policy_follows_the_original(
    spec: str, lr_factor: float, step_factor: float
) -> None:
    """eta'(b t) = a eta(t): every phase boundary and length scales with b."""
    policy = parse(spec)
    scaled = rescale(policy, lr_factor=lr_factor, step_factor=step_factor)
    b = int(step_factor)
    for t in range(0, 1200, 7):
        assert scaled(b * t) == pytest.approx(lr_factor * policy(t), rel=1e-12, abs=0.0), t


@settings(max_examples=100, deadline=None)
@given(warmup_decays(), st.floats(min_value=0.001, max_value=20.0))
def test_rescaled_phases_still_fit(policy: Any, step_factor: float) -> None:
    scaled: Any = rescale(policy, step_factor=step_factor)  # raises if a phase no longer fits
    assert parse(scaled.spec) == scaled
    total = max(1, round(policy.total_steps * step_factor))
    assert scaled.total_steps == total
    if policy.warmup_steps == 0:
        assert scaled.warmup_steps == 0  # no warmup stays no warmup
    if policy.name == "wsd":
        before = policy.total_steps - policy.decay_steps
        start = max(1, round(before * step_factor)) if before else 0
        assert scaled.decay_start == min(start, total - 1)


def test_plots_show_the_whole_run() -> None:
    assert default_steps(parse(SPECS[0])) == 1100
    assert default_steps(parse(SPECS[4])) == 40 + 24 * 40
    assert parse(SPECS[4])(default_steps(parse(SPECS[4]))) == pytest.approx(0.001 / 5)
