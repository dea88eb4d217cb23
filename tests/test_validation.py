"""lrscope.validation: each constraint's canonical forms, rejections and description.

The meta-tests (tests/test_config_meta.py, tests/policies/test_meta.py) check
the message shape for every declared parameter; these pin each constraint's
own behaviour with golden values.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from constraint_testlib import bad_values, good_values
from lrscope.errors import ParameterError
from lrscope.validation import (
    COUNT,
    FINITE_FLOAT,
    INVALID,
    MAX_SEEDS,
    SEED,
    SEEDS,
    STEP,
    STEP_SIZE,
    AnyOf,
    Choice,
    Constraint,
    FirstN,
    Interval,
    ListOf,
    OrNone,
    PathText,
    Relation,
    Text,
    Validated,
    check,
    is_integer,
    is_real,
)


def test_choice_matches_case_insensitively_and_returns_the_declared_option() -> None:
    choice = Choice(("exp", "linear", "MyMetric"))
    assert choice.coerce("EXP") == "exp"
    assert choice.coerce("mymetric") == "MyMetric"
    assert choice.coerce("cubic") is INVALID
    assert choice.describe() == "a str among {'exp', 'linear', 'MyMetric'}"


def test_text_counts_after_stripping_when_asked() -> None:
    assert Text().coerce("  ") == "  "
    assert Text(strip=True).coerce("  t ") == "t"
    assert Text(strip=True).coerce("   ") is INVALID
    assert Text(min_length=0).coerce("") == ""
    assert Text(max_length=3).coerce("abcd") is INVALID
    assert Text(strip=True).describe() == "a non-blank str of at most 10000 characters"
    assert Text(min_length=0, max_length=500).describe() == "a str of at most 500 characters"


def test_path_text_takes_path_like_values() -> None:
    assert PathText().coerce(Path("data") / "cifar") == str(Path("data") / "cifar")
    assert PathText().coerce("d") == "d"
    assert PathText().coerce("") is INVALID
    assert PathText().coerce(b"d") is INVALID


def test_list_of_orders_sizes_and_scalars() -> None:
    budgets = ListOf(STEP_SIZE, order="distinct", scalar=True)
    assert budgets.coerce(1000) == (1000,)
    assert budgets.coerce([2e3, 500]) == (2000, 500)
    assert budgets.coerce([500, 500]) is INVALID
    assert budgets.coerce([]) is INVALID
    assert budgets.coerce("500") is INVALID
    increasing = ListOf(STEP_SIZE, order="increasing")
    assert increasing.coerce([1, 2]) == (1, 2)
    assert increasing.coerce([2, 1]) is INVALID
    assert increasing.coerce(1) is INVALID
    assert ListOf(FINITE_FLOAT, min_length=0).coerce([]) == ()
    assert ListOf(FINITE_FLOAT).coerce([0.5, math.nan]) is INVALID
    assert budgets.describe() == (
        "an int in the range [1, inf) or a non-empty list of distinct values, "
        "each an int in the range [1, inf)"
    )
    assert ListOf(SEED, min_length=2).describe() == (
        "a list of at least 2 values, each an int in the range [0, 4294967295]"
    )
    assert ListOf(SEED, min_length=0).describe() == (
        "a list of values, each an int in the range [0, 4294967295]"
    )


def test_seeds_are_a_count_or_distinct_named_seeds() -> None:
    assert SEEDS.coerce(3) == (0, 1, 2)
    assert SEEDS.coerce([7, 0]) == (7, 0)
    assert SEEDS.coerce(0) is INVALID
    assert SEEDS.coerce(MAX_SEEDS + 1) is INVALID
    assert SEEDS.coerce([1, 1]) is INVALID
    assert SEEDS.coerce([-1]) is INVALID
    assert SEEDS.coerce(True) is INVALID
    assert FirstN(5).describe() == "a count in the range [1, 5] (n means 0 .. n-1)"


def test_any_of_takes_the_first_alternative_that_accepts() -> None:
    either = AnyOf((Choice(("auto",)), COUNT))
    assert either.coerce("AUTO") == "auto"
    assert either.coerce(4.0) == 4
    assert either.coerce(0) is INVALID
    assert either.describe() == "a str among {'auto'} or an int in the range [1, inf)"


def test_exact_int_intervals_refuse_integral_floats() -> None:
    assert STEP.coerce(3) == 3
    assert STEP.coerce(3.0) is INVALID
    assert COUNT.coerce(3.0) == 3


@given(st.integers(min_value=-(10**29), max_value=10**29))
def test_check_gives_the_canonical_form_or_the_one_message(value: int) -> None:
    if value >= 1:
        assert check("f", "n", value, COUNT) == value
        return
    with pytest.raises(ParameterError) as info:
        check("f", "n", value, COUNT)
    assert str(info.value).startswith(
        "The 'n' parameter of f must be an int in the range [1, inf). Got "
    )


CONSTRAINTS: list[Constraint] = [
    STEP_SIZE,
    SEED,
    FINITE_FLOAT,
    SEEDS,
    Choice(("a", "b")),
    Text(strip=True),
    PathText(),
    OrNone(COUNT),
    ListOf(STEP_SIZE, order="increasing"),
    ListOf(Interval(float, 0, 1, "left"), scalar=True),
]


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
def test_generated_values_are_rejected_and_accepted_as_declared(constraint: Constraint) -> None:
    """The shared generator and the constraints agree (the meta-tests rely on both)."""
    for value in bad_values(constraint):
        assert constraint.coerce(value) is INVALID, value
    for value in good_values(constraint):
        assert constraint.coerce(value) is not INVALID, value


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Window(Validated):
    owner = "the window"
    relations = (Relation("stop", ">", "start"),)

    start: Annotated[int, STEP] = 0
    stop: Annotated[int, STEP_SIZE] = 10
    every: Annotated[int | None, OrNone(COUNT)] = None

    def _check(self) -> None:
        if self.every is not None and self.every > self.stop - self.start:
            raise ParameterError(self.owner, "every", "at most stop - start", self.every)


def test_validated_checks_fields_then_relations_then_the_hook() -> None:
    # a float on purpose (type: ignore): construction makes it the canonical int
    assert _Window(stop=2e1) == _Window(stop=20)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'stop' parameter of the window must be an int"):
        _Window(stop=0, start=5)  # the field fails before the relation
    with pytest.raises(ParameterError, match=r"greater than start=5\. Got 5 instead"):
        _Window(start=5, stop=5)
    with pytest.raises(ParameterError, match="'every' parameter of the window must be at most"):
        _Window(stop=4, every=5)


def test_from_options_replaces_fields_of_a_base_and_names_unknown_options() -> None:
    base = _Window(stop=8)
    assert _Window.from_options(base, start=2) == _Window(start=2, stop=8)
    assert _Window.from_options(None, stop=3) == _Window(stop=3)
    with pytest.raises(ParameterError) as info:
        _Window.from_options(base, width=3)
    assert str(info.value) == (
        "The 'width' parameter of the window must be one of the options start, stop, every. "
        "Got 3 instead."
    )


@pytest.mark.parametrize(
    ("value", "integer", "real"),
    [(3, True, True), (0, True, True), (2.5, False, True), (float("nan"), False, True),
     (True, False, False), (False, False, False), ("3", False, False), (None, False, False)],
)  # fmt: skip
def test_is_integer_and_is_real_never_count_a_bool(
    value: object, integer: bool, real: bool
) -> None:
    assert is_integer(value) is integer
    assert is_real(value) is real
