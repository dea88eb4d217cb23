"""Execution: validated at construction, resolved by one rule (lrscope.bench.execution)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrscope.bench.execution import (
    DEFAULT_BATCH_TRIALS,
    MAX_AUTO_BATCH_TRIALS,
    Execution,
    Resolution,
    default_workers,
    split_ray_address,
)
from lrscope.errors import ParameterError

BAD_VALUES: dict[str, list[Any]] = {
    "executor": ["dask", "", None, 1, True],
    "workers": [0, -1, 1.5, "2", True, math.nan],
    "batch_trials": [0, -3, 2.5, "many", "", True, [2]],
    "ray_address": [1, "", "x\x00y"],
    "ray_timeout_s": [0, -1.0, math.inf, math.nan, "30", True],
}


def test_every_field_has_bad_values_here() -> None:
    assert set(BAD_VALUES) == {p.name for p in Execution.declared_params()}


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BAD_VALUES.items() for v in values], ids=repr
)
def test_a_bad_value_names_the_field_what_is_allowed_and_the_value(name: str, value: Any) -> None:
    options = {"executor": "ray"} if name.startswith("ray") else {}
    with pytest.raises(ParameterError) as info:
        Execution(**{**options, name: value})
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of Execution must be ")
    assert message.endswith(" instead.")
    assert "Got " in message


def test_defaults_and_canonical_forms() -> None:
    assert Execution() == Execution("local", None, None, None, 30.0)
    assert Execution("PROCESS", workers=2.0, batch_trials="Auto") == Execution(  # type: ignore[arg-type]
        "process", workers=2, batch_trials="auto"
    )
    assert Execution("batched") == Execution("local", batch_trials="auto")
    assert Execution("batched", batch_trials=4) == Execution("local", batch_trials=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Execution().workers = 3  # type: ignore[misc]
    assert len({Execution(), Execution("local"), Execution("batched")}) == 2


@pytest.mark.parametrize(
    ("options", "name", "words"),
    [
        ({"executor": "local", "workers": 2}, "workers", "use executor 'process'"),
        ({"executor": "batched", "workers": 2}, "workers", "use executor 'process'"),
        ({"executor": "process", "ray_address": "head:6379"}, "ray_address", "executor 'ray'"),
        ({"executor": "ray", "ray_address": "head"}, "ray_address", "'host:port'"),
    ],
)
def test_fields_that_do_not_go_together(options: dict[str, Any], name: str, words: str) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter of Execution") as info:
        Execution(**options)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("auto", None),
        ("10.0.0.1:6379", ("10.0.0.1", 6379)),
        ("head.example.com:6379", ("head.example.com", 6379)),
        ("ray://head:10001", ("head", 10001)),
        ("[::1]:6379", ("::1", 6379)),
    ],
)
def test_ray_addresses(address: str, expected: tuple[str, int] | None) -> None:
    assert split_ray_address(address) == expected
    assert Execution("ray", ray_address=address).ray_address == address


@pytest.mark.parametrize(
    "address", ["head", ":6379", "head:0", "head:70000", "head:port", "ray://", "a b:1", "h:-1"]
)
def test_not_ray_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="not a Ray address"):
        split_ray_address(address)
    with pytest.raises(ParameterError, match="'ray_address'"):
        Execution("ray", ray_address=address)


def test_resolve_workers() -> None:
    assert Execution().resolve().workers == 1
    assert Execution("local").resolve(cpus=8).workers == 1
    assert Execution("process").resolve().workers == default_workers()
    assert Execution("process").resolve(cpus=6).workers == 6
    assert Execution("process", workers=3).resolve(cpus=6).workers == 3
    assert Execution("ray", ray_address="auto").resolve(cpus=12).workers == 12


def test_resolve_group_sizes() -> None:
    assert Execution().resolve(trials=30) == Resolution(1, 1)
    assert Execution(batch_trials=1).resolve(trials=30) == Resolution(1, 1)
    assert Execution("process", 2, batch_trials=5).resolve(trials=30) == Resolution(2, 5)
    assert Execution("process", 2, batch_trials="auto").resolve(trials=12) == Resolution(2, 6)
    assert Execution("process", 2, batch_trials="auto").resolve(trials=13) == Resolution(2, 7)
    assert Execution("batched").resolve(trials=12) == Resolution(1, 12)
    assert Execution("batched").resolve(trials=100) == Resolution(1, MAX_AUTO_BATCH_TRIALS)
    assert Execution("batched").resolve() == Resolution(1, DEFAULT_BATCH_TRIALS)
    assert Execution("batched").resolve(trials=0) == Resolution(1, 1)


@given(
    trials=st.integers(0, 500),
    workers=st.integers(1, 64),
    executor=st.sampled_from(["process", "ray"]),
)
def test_auto_groups_give_every_worker_one_group_of_at_most_the_cap(
    trials: int, workers: int, executor: str
) -> None:
    resolved = Execution(executor, workers, batch_trials="auto").resolve(trials=trials)
    assert resolved.workers == workers
    assert 1 <= resolved.batch_trials <= MAX_AUTO_BATCH_TRIALS
    if resolved.batch_trials < MAX_AUTO_BATCH_TRIALS:
        assert resolved.batch_trials * workers >= trials  # one round of groups covers them
        assert (resolved.batch_trials - 1) * workers < max(trials, 1)  # and no larger than that


def test_describe() -> None:
    assert Execution().describe() == "local, one trial at a time"
    assert Execution("process", 2, batch_trials=8).describe() == "process x2, groups of 8"
    assert Execution("batched").describe(Resolution(1, 5)) == "local, groups of 5"
    ray = Execution("ray", 4, ray_address="head:6379")
    assert ray.describe() == "ray x4 at head:6379, one trial at a time"
    assert Execution("batched").ungrouped() == Execution("local")
    assert Execution("batched").grouped
    assert not Execution(batch_trials=1).grouped


def test_options_by_name() -> None:
    assert Execution.from_options(executor="process", batch_trials=4).resolve(cpus=2) == (2, 4)
    with pytest.raises(ParameterError, match="'threads' parameter of Execution"):
        Execution.from_options(threads=2)
