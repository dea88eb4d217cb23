"""Plan: validation before any work, canonical specs, TOML schema, trial keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrscope.bench import Plan, load_plan, plan_from_mapping
from lrscope.engine.result import TrialKey
from lrscope.errors import LRScopeError, ParameterError, PlanError, SpecError


def test_specs_are_canonical_and_deduplicated() -> None:
    plan = Plan("t", ["fix(k0=0.1)", "FIX(k0=1e-1)", "tri2(k0=0.001,k1=0.006,l=20)"], steps=50)
    assert plan.policies == ("FIX(k0=0.1)", "TRI2(k0=0.001, k1=0.006, l=20)")


def test_seed_count_and_seed_list() -> None:
    assert Plan("t", ["FIX(k0=0.1)"], seeds=3, steps=5).seeds == (0, 1, 2)
    assert Plan("t", ["FIX(k0=0.1)"], seeds=[4, 0], steps=5).seeds == (4, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seeds": 0}, "seeds"),
        ({"seeds": -2}, "seeds"),
        ({"seeds": [1, 1]}, "repeat"),
        ({"seeds": [-1]}, "seeds"),
        ({"seeds": True}, "seeds"),
        ({"steps": 0}, "steps"),
        ({"steps": [100, 0]}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"eval_every": 0}, "eval_every"),
        ({"eval_every": 500}, "smallest step budget"),
    ],
)
def test_bad_numbers_raise_plan_error(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"seeds": 1, "steps": 100, **kwargs}
    with pytest.raises(PlanError, match=match):
        Plan("t", ["FIX(k0=0.1)"], **args)  # type: ignore[arg-type]


def test_bad_specs_raise_spec_or_parameter_errors() -> None:
    with pytest.raises(SpecError):
        Plan("t", ["NOPE(k0=1)"], steps=10)
    with pytest.raises(ParameterError, match="k0"):
        Plan("t", ["FIX(k0=-1)"], steps=10)
    with pytest.raises(PlanError, match="at least one policy"):
        Plan("t", [], steps=10)
    with pytest.raises(PlanError, match="task"):
        Plan("", ["FIX(k0=0.1)"], steps=10)


def test_keys_are_seed_major_and_use_one_epoch_without_eval_every() -> None:
    plan = Plan("t", ["FIX(k0=0.1)", "FIX(k0=0.2)"], seeds=2, steps=[30, 60])
    keys = plan.keys("tiny", steps_per_epoch=6)
    assert len(keys) == len(plan) == 8
    assert keys[:3] == [
        TrialKey("tiny", "FIX(k0=0.1)", 0, 30, 6),
        TrialKey("tiny", "FIX(k0=0.2)", 0, 30, 6),
        TrialKey("tiny", "FIX(k0=0.1)", 1, 30, 6),
    ]
    fixed = Plan("t", ["FIX(k0=0.1)"], steps=30, eval_every=10)
    assert {k.eval_every for k in fixed.keys("tiny", 6)} == {10}


TOML = """
task = "mnist1d-cnn"
policies = ["fix(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=250)"]
steps = 1000
seeds = 2
eval_every = 100
"""


def test_load_plan_reads_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(TOML)
    plan = load_plan(path)
    assert plan.task == "mnist1d-cnn"
    assert plan.policies == ("FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=250)")
    assert plan.seeds == (0, 1)
    assert plan.steps == (1000,)
    assert plan.eval_every == 100
    assert load_plan(path, seeds=3, steps=None).seeds == (0, 1, 2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (TOML + "executor = 'ray'\n", "unknown key"),
        ("task = 'x'\nsteps = 5\n", "missing required key 'policies'"),
        ("task = 'x'\npolicies = 'FIX(k0=1)'\nsteps = 5\n", "list of spec strings"),
        ("task = 'x'\npolicies = ['FIX(k0=1)']\nsteps = 5\nseeds = 0\n", "seeds"),
        ("task = [\n", "invalid TOML"),
    ],
)
def test_bad_toml_plans(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(PlanError, match=match) as info:
        load_plan(path)
    assert str(path) in str(info.value)


def test_missing_plan_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "absent.toml")


def test_bad_spec_in_toml_is_a_user_error() -> None:
    with pytest.raises(LRScopeError):
        plan_from_mapping({"task": "t", "policies": ["TRI(k0=1, k1=0.5, l=3)"], "steps": 9})


def test_to_dict_round_trips() -> None:
    plan = Plan("t", ["FIX(k0=0.1)"], seeds=[3, 5], steps=[10, 20], eval_every=5, data_dir="d")
    assert plan_from_mapping(plan.to_dict()) == plan
