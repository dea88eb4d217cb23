"""one-cycle: golden values at the phase ends, presets, holding after total_steps."""

from __future__ import annotations

import pytest

from lrscope.errors import ParameterError
from lrscope.policies import onecycle, onecycle_fastai, onecycle_smith, parse

from .helpers import close


def test_two_phase_cos_golden() -> None:
    policy = onecycle(max_lr=0.8, total_steps=5000)
    # phase 1 ends at 0.3 * 5000 - 1 = 1499; phase 2 at 4999; its middle is 3249.
    assert policy(0) == close(0.032)
    assert policy(1499) == close(0.8)
    assert policy(3249) == close((0.8 + 3.2e-6) / 2)
    assert policy(4999) == close(3.2e-6)
    assert policy.momentum(0) == close(0.95)
    assert policy.momentum(1499) == close(0.85)
    assert policy.momentum(3249) == close(0.9)
    assert policy.momentum(4999) == close(0.95)


def test_three_phase_linear_golden() -> None:
    policy = onecycle(max_lr=0.8, total_steps=5000, anneal="linear", three_phase=True)
    # phase ends: 1499, 2 * 0.3 * 5000 - 2 = 2998, 4999.
    assert policy(0) == close(0.032)
    assert policy(100) == close(0.032 + (0.8 - 0.032) * 100 / 1499)
    assert policy(1499) == close(0.8)
    assert policy(2998) == close(0.032)
    assert policy(4999) == close(3.2e-6)
    assert [policy.momentum(t) for t in (0, 1499, 2998, 4000, 4999)] == [
        close(0.95),
        close(0.85),
        close(0.95),
        close(0.95),
        close(0.95),
    ]


def test_holds_final_value_after_total_steps() -> None:
    policy = onecycle(max_lr=0.8, total_steps=100)
    assert policy(100) == policy(99)
    assert policy(10**7) == policy(99)
    assert policy.momentum(10**7) == policy.momentum(99)


def test_fastai_preset() -> None:
    policy = onecycle_fastai(max_lr=1.0, total_steps=1000)
    assert policy.spec == "onecycle_fastai(max_lr=1.0, total_steps=1000)"
    assert policy(0) == close(0.04)
    assert policy(249) == close(1.0)
    assert policy(999) == close(1e-5)  # max_lr / 1e5
    explicit = onecycle(max_lr=1.0, total_steps=1000, pct_start=0.25, final_div_factor=4000.0)
    assert policy.values(1000) == explicit.values(1000)
    assert policy != explicit  # different names, different specs
    assert policy.n_params == 2


def test_smith_preset() -> None:
    policy = onecycle_smith(max_lr=1.0, total_steps=1000)
    explicit = onecycle(
        max_lr=1.0,
        total_steps=1000,
        pct_start=0.45,
        div_factor=10.0,
        anneal="linear",
        three_phase=True,
    )
    assert policy.values(1000) == explicit.values(1000)
    assert policy.momentum_values(1000) == explicit.momentum_values(1000)
    assert policy(0) == close(0.1)
    assert policy(449) == close(1.0)
    assert policy(898) == close(0.1)
    assert policy(999) == close(1e-5)
    assert [policy.momentum(t) for t in (0, 449, 898, 999)] == [
        close(0.95),
        close(0.85),
        close(0.95),
        close(0.95),
    ]


def test_preset_overrides_round_trip() -> None:
    policy = onecycle_smith(max_lr=0.5, total_steps=300, three_phase=False, pct_start=0.3)
    assert policy.spec == (
        "onecycle_smith(max_lr=0.5, total_steps=300, pct_start=0.3, three_phase=false)"
    )
    assert parse(policy.spec) == policy


def test_without_momentum_cycling() -> None:
    policy = onecycle(max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert not policy.has_momentum
    assert policy.momentum(3) is None
    assert policy.momentum_values(10) is None


def test_one_cycle_ends_at_total_steps() -> None:
    policy = onecycle(max_lr=0.1, total_steps=100)
    assert policy.cycle_length() == 100
    assert policy.cycle_ends(99) == []
    assert policy.cycle_ends(250) == [100]


def test_pct_start_that_would_divide_by_zero_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"'pct_start' parameter of onecycle .*total_steps=10"):
        onecycle(max_lr=0.1, total_steps=10, pct_start=0.1)
