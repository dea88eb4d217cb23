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
    ("kwargs", "name", "allowed"),
    [
        ({"seeds": 0}, "seeds", "a count in the range [1, 10000]"),
        ({"seeds": -2}, "seeds", "a count"),
        ({"seeds": [1, 1]}, "seeds", "list of distinct values"),
        ({"seeds": [-1]}, "seeds", "an int in the range [0, 4294967295]"),
        ({"seeds": True}, "seeds", "a count"),
        ({"steps": 0}, "steps", "an int in the range [1, inf)"),
        ({"steps": [100, 0]}, "steps", "list of distinct values"),
        ({"steps": [100, 100]}, "steps", "list of distinct values"),
        ({"steps": 2.5}, "steps", "an int in the range [1, inf)"),
        ({"eval_every": 0}, "eval_every", "None or an int in the range [1, inf)"),
        ({"eval_every": 500}, "eval_every", "[1, 100] (the smallest step budget)"),
        ({"data_dir": 5}, "data_dir", "None or a path"),
    ],
)
def test_bad_values_raise_parameter_errors_in_one_shape(
    kwargs: dict[str, object], name: str, allowed: str
) -> None:
    args: dict[str, object] = {"seeds": 1, "steps": 100, **kwargs}
    with pytest.raises(ParameterError) as info:
        Plan("t", ["FIX(k0=0.1)"], **args)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of the benchmark plan must be ")
    assert allowed in message
    assert message.endswith(f"Got {kwargs[name]!r} instead.")


def test_bad_specs_raise_spec_or_parameter_errors() -> None:
    with pytest.raises(SpecError):
        Plan("t", ["NOPE(k0=1)"], steps=10)
    with pytest.raises(ParameterError, match="k0"):
        Plan("t", ["FIX(k0=-1)"], steps=10)
    with pytest.raises(ParameterError, match="'policies' parameter of the benchmark plan"):
        Plan("t", [], steps=10)
    with pytest.raises(ParameterError, match="'policies' parameter of the benchmark plan"):
        Plan("t", ["FIX(k0=0.1)", ""], steps=10)
    with pytest.raises(ParameterError, match="'task' parameter of the benchmark plan"):
        Plan("", ["FIX(k0=0.1)"], steps=10)
    with pytest.raises(ParameterError, match="'task' parameter of the benchmark plan"):
        Plan("  ", ["FIX(k0=0.1)"], steps=10)


def test_one_spec_string_is_one_policy_and_names_are_stripped() -> None:
    plan = Plan(" t ", "fix(k0=0.1)", steps=10)
    assert (plan.task, plan.policies) == ("t", ("FIX(k0=0.1)",))


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
        ("task = [\n", "invalid TOML"),
    ],
)
def test_structural_toml_errors_are_plan_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(PlanError, match=match) as info:
        load_plan(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("task = 'x'\npolicies = ['FIX(k0=1)']\nsteps = 5\nseeds = 0\n", "seeds"),
        ("task = 'x'\npolicies = [1]\nsteps = 5\n", "policies"),
        ("task = 'x'\npolicies = ['FIX(k0=1)']\nsteps = 5\neval_every = 9\n", "eval_every"),
    ],
)
def test_bad_toml_values_name_the_file(tmp_path: Path, text: str, name: str) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(ParameterError) as info:
        load_plan(path)
    assert str(info.value).startswith(
        f"The {name!r} parameter of the benchmark plan in {path} must be "
    )


def test_missing_plan_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "absent.toml")


def test_bad_spec_in_toml_is_a_user_error() -> None:
    with pytest.raises(LRScopeError):
        plan_from_mapping({"task": "t", "policies": ["TRI(k0=1, k1=0.5, l=3)"], "steps": 9})


def test_to_dict_round_trips() -> None:
    plan = Plan("t", ["FIX(k0=0.1)"], seeds=[3, 5], steps=[10, 20], eval_every=5, data_dir="d")
    assert plan_from_mapping(plan.to_dict()) == plan


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe task = 1", r"is not UTF-8 text \(byte 0xff at offset 0\)"),
        ("policies = ['caf\u00e9']".encode("latin-1"), r"byte 0xe9 at offset 16"),
        (b"a = " + b"[" * 3000 + b"]" * 3000, "nested too deep"),
        (b"# " + b"x" * 1_000_000, "larger than 1,000,000 bytes"),
    ],
    ids=["utf-16", "latin-1", "nested", "too large"],
)
def test_a_file_that_is_no_toml_text_is_a_plan_error(
    tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(content)
    with pytest.raises(PlanError, match=match):
        load_plan(path)
