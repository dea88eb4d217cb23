"""Golden values of the 13 LRBench functions at their phase and cycle boundaries."""

from __future__ import annotations

import math

import pytest

from lrscope.policies import (
    COS,
    EXP,
    FIX,
    INV,
    NSTEP,
    POLY,
    SIN,
    SIN2,
    SINEXP,
    STEP,
    TRI,
    TRI2,
    TRIEXP,
)

from .helpers import close

A = 0.006 - 0.001  # the amplitude k1 - k0 of the cyclic examples
S45 = math.sin(math.pi / 4)


@pytest.mark.parametrize(
    ("policy", "golden"),
    [
        (FIX(k0=0.1), {0: 0.1, 1: 0.1, 10**6: 0.1}),
        (STEP(k0=0.1, gamma=0.5, l=100), {0: 0.1, 99: 0.1, 100: 0.05, 199: 0.05, 200: 0.025}),
        (
            NSTEP(k0=0.1, gamma=0.1, milestones=[300, 500, 600]),
            {
                0: 0.1,
                299: 0.1,
                300: 0.01,
                499: 0.01,
                500: 0.001,
                599: 0.001,
                600: 1e-4,
                10**5: 1e-4,
            },
        ),
        (EXP(k0=0.1, gamma=0.99), {0: 0.1, 1: 0.099, 2: 0.09801}),
        (EXP(k0=0.1, gamma=1.0), {0: 0.1, 10**6: 0.1}),
        (INV(k0=0.1, gamma=0.01, p=0.5), {0: 0.1, 300: 0.05, 800: 0.1 / 3}),
        (POLY(k0=0.1, p=2.0, l=100), {0: 0.1, 50: 0.025, 99: 1e-5, 100: 0.0, 500: 0.0}),
        (POLY(k0=0.1, p=1.0, l=100, k1=0.01), {0: 0.1, 50: 0.055, 100: 0.01, 101: 0.01}),
        (
            TRI(k0=0.001, k1=0.006, l=2000),
            {0: 0.001, 1000: 0.0035, 2000: 0.006, 3000: 0.0035, 4000: 0.001, 6000: 0.006},
        ),
        (
            TRI2(k0=0.001, k1=0.006, l=2000),
            {
                0: 0.001,
                2000: 0.006,
                4000: 0.001,
                6000: 0.001 + A / 2,
                8000: 0.001,
                10000: 0.001 + A / 4,
                11000: 0.001 + A / 8,
            },
        ),
        (
            TRIEXP(k0=0.001, k1=0.006, gamma=0.5, l=2),
            {0: 0.001, 1: 0.001 + A * 0.5 * 0.5, 2: 0.001 + A * 0.25, 4: 0.001, 6: 0.001 + A / 64},
        ),
        (
            SIN(k0=0.001, k1=0.006, l=2000),
            {0: 0.001, 1000: 0.001 + A * S45, 2000: 0.006, 4000: 0.001, 6000: 0.006},
        ),
        (
            SIN2(k0=0.001, k1=0.006, l=2000),
            {0: 0.001, 2000: 0.006, 4000: 0.001, 6000: 0.001 + A / 2, 10000: 0.001 + A / 4},
        ),
        (
            SINEXP(k0=0.001, k1=0.006, gamma=0.5, l=2),
            {0: 0.001, 1: 0.001 + A * S45 * 0.5, 2: 0.001 + A * 0.25, 6: 0.001 + A / 64},
        ),
        (
            COS(k0=0.001, k1=0.1, l=1000),
            {0: 0.1, 500: 0.0505, 1000: 0.001, 1500: 0.0505, 2000: 0.1, 3000: 0.001},
        ),
    ],
    ids=lambda value: value.name if hasattr(value, "name") else "",
)
def test_golden_values(policy: object, golden: dict[int, float]) -> None:
    for t, expected in golden.items():
        assert policy(t) == close(expected), f"{policy} at t={t}"  # type: ignore[operator]


def test_tri_formula_everywhere_in_two_cycles() -> None:
    policy = TRI(k0=0.001, k1=0.006, l=7)
    for t in range(28):
        x = t % 14
        tri = x / 7 if x <= 7 else 2 - x / 7
        assert policy(t) == close(0.001 + A * tri)


def test_tri2_does_not_overflow_after_thousands_of_cycles() -> None:
    policy = TRI2(k0=0.001, k1=0.006, l=1)
    assert policy(2 * 5000 + 1) == close(0.001)
    assert policy.cycle_length() == 2


@pytest.mark.parametrize(
    ("policy", "n_params"),
    [
        (FIX(k0=1.0), 1),
        (STEP(k0=1.0, gamma=0.5, l=3), 3),
        (NSTEP(k0=1.0, gamma=0.5, milestones=[3]), 3),
        (NSTEP(k0=1.0, gamma=0.5, milestones=[3, 5, 8]), 5),
        (EXP(k0=1.0, gamma=0.5), 2),
        (INV(k0=1.0, gamma=0.5, p=1.0), 3),
        (POLY(k0=1.0, p=1.0, l=3), 3),
        (POLY(k0=1.0, p=1.0, l=3, k1=0.5), 4),
        (TRI(k0=1.0, k1=2.0, l=3), 3),
        (TRI2(k0=1.0, k1=2.0, l=3), 3),
        (TRIEXP(k0=1.0, k1=2.0, gamma=0.5, l=3), 4),
        (SIN(k0=1.0, k1=2.0, l=3), 3),
        (SIN2(k0=1.0, k1=2.0, l=3), 3),
        (SINEXP(k0=1.0, k1=2.0, gamma=0.5, l=3), 4),
        (COS(k0=1.0, k1=2.0, l=3), 3),
    ],
    ids=str,
)
def test_n_params_is_lrbench_param_count(policy: object, n_params: int) -> None:
    assert policy.n_params == n_params  # type: ignore[attr-defined]


def test_cycle_length_and_ends() -> None:
    policy = TRI2(k0=0.001, k1=0.006, l=2000)
    assert policy.cycle_length() == 4000
    assert policy.cycle_ends(10000) == [4000, 8000]
    assert policy.cycle_ends(12000) == [4000, 8000, 12000]
    assert STEP(k0=0.1, gamma=0.5, l=10).cycle_length() is None
    assert STEP(k0=0.1, gamma=0.5, l=10).cycle_ends(100) == []


def test_canonical_parameter_order_follows_policies_md() -> None:
    assert list(TRIEXP(k0=0.1, k1=0.2, gamma=0.5, l=3).params) == ["k0", "k1", "gamma", "l"]
    assert list(POLY(k0=0.1, p=2.0, l=3).params) == ["k0", "p", "l", "k1"]
    assert TRIEXP(k0=0.1, k1=0.2, gamma=0.5, l=3).spec == "TRIEXP(k0=0.1, k1=0.2, gamma=0.5, l=3)"
