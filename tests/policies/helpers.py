"""Shared helpers for the policy tests: the 1e-12 tolerance and one valid example per policy."""

from __future__ import annotations

from typing import Any

import pytest

from lrscope.policies import linear_ramp, triangular2

REL = 1e-12


def close(expected: float) -> Any:
    """``pytest.approx`` at the contract's 1e-12 relative tolerance (exact zero stays zero)."""
    return pytest.approx(expected, rel=REL, abs=0.0)


# One valid set of constructor arguments per registered policy name (lowercase).
EXAMPLES: dict[str, dict[str, Any]] = {
    "fix": {"k0": 0.1},
    "step": {"k0": 0.1, "gamma": 0.5, "l": 100},
    "nstep": {"k0": 0.1, "gamma": 0.1, "milestones": [300, 500, 600]},
    "exp": {"k0": 0.1, "gamma": 0.99},
    "inv": {"k0": 0.1, "gamma": 0.01, "p": 0.5},
    "poly": {"k0": 0.1, "p": 2.0, "l": 100, "k1": 0.01},
    "tri": {"k0": 0.001, "k1": 0.006, "l": 2000},
    "tri2": {"k0": 0.001, "k1": 0.006, "l": 2000},
    "triexp": {"k0": 0.001, "k1": 0.006, "gamma": 0.9994, "l": 2000},
    "sin": {"k0": 0.001, "k1": 0.006, "l": 2000},
    "sin2": {"k0": 0.001, "k1": 0.006, "l": 2000},
    "sinexp": {"k0": 0.001, "k1": 0.006, "gamma": 0.9994, "l": 2000},
    "cos": {"k0": 0.001, "k1": 0.1, "l": 1000},
    "triangular": {"base_lr": 0.001, "max_lr": 0.006, "stepsize": 2000},
    "triangular2": {"base_lr": 0.001, "max_lr": 0.006, "stepsize": 2000, "cycle_momentum": True},
    "exp_range": {"base_lr": 0.001, "max_lr": 0.006, "stepsize": 2000, "gamma": 0.99994},
    "decay": {"base_lr": 0.001, "max_lr": 0.007, "stepsize": 4000},
    "onecycle": {"max_lr": 0.8, "total_steps": 5000, "anneal": "linear", "three_phase": True},
    "onecycle_fastai": {"max_lr": 0.01, "total_steps": 1000},
    "onecycle_smith": {"max_lr": 1.0, "total_steps": 1000, "base_momentum": 0.8},
    "sgdr": {"max_lr": 0.1, "period": 10, "mult": 2, "min_lr": 0.001, "decay": 0.5},
    "warmup_cosine": {"max_lr": 0.001, "total_steps": 1000, "warmup_steps": 100, "min_lr": 1e-5},
    "linear_decay": {
        "max_lr": 0.1,
        "total_steps": 110,
        "warmup_steps": 10,
        "warmup_start_lr": 0.02,
    },
    "poly_decay": {"max_lr": 0.1, "total_steps": 110, "warmup_steps": 10, "power": 2.0},
    "wsd": {
        "max_lr": 0.01,
        "total_steps": 1000,
        "warmup_steps": 100,
        "decay_steps": 200,
        "min_lr": 1e-4,
        "decay_shape": "sqrt",
    },
    "inverse_sqrt": {"max_lr": 0.001, "warmup_steps": 4000, "timescale": 1000},
    "linear_ramp": {"start_lr": 0.0001, "end_lr": 0.1, "steps": 500},
    "exp_ramp": {"start_lr": 1e-5, "end_lr": 10.0, "steps": 100},
    "piecewise": {
        "pieces": [
            linear_ramp(start_lr=0.0, end_lr=0.005, steps=100),
            triangular2(base_lr=0.001, max_lr=0.005, stepsize=2000),
        ],
        "boundaries": [100],
    },
}
