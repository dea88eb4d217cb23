"""Spec strings: canonical form, case-insensitivity, round trips, errors with positions."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError, SpecError
from lrscope.policies import NSTEP, TRI2, onecycle, parse, policy_names


def test_canonical_examples_of_policies_md() -> None:
    tri2 = parse("TRI2(k0=0.001, k1=0.006, l=2000)")
    assert tri2 == TRI2(k0=0.001, k1=0.006, l=2000)
    assert tri2.spec == "TRI2(k0=0.001, k1=0.006, l=2000)"
    text = "onecycle(max_lr=0.8, total_steps=5000, anneal=linear, three_phase=true)"
    assert parse(text).spec == text
    assert parse(text) == onecycle(max_lr=0.8, total_steps=5000, anneal="linear", three_phase=True)
    assert parse("NSTEP(k0=0.1, gamma=0.1, milestones=[300, 500, 600])") == NSTEP(
        k0=0.1, gamma=0.1, milestones=(300, 500, 600)
    )


def test_names_and_choices_are_case_insensitive() -> None:
    assert parse("tri2(K0=1e-3, k1=6E-3, l=2000)").spec == "TRI2(k0=0.001, k1=0.006, l=2000)"
    assert parse("OneCycle(max_lr=1, total_steps=10, anneal=LINEAR, three_phase=TRUE)").spec == (
        "onecycle(max_lr=1.0, total_steps=10, anneal=linear, three_phase=true)"
    )


def test_defaults_are_omitted_and_explicit_defaults_parse_equal() -> None:
    explicit = parse("onecycle(max_lr=0.1, total_steps=100, pct_start=0.3, anneal=cos)")
    assert explicit == parse("onecycle(max_lr=0.1, total_steps=100)")
    assert explicit.spec == "onecycle(max_lr=0.1, total_steps=100)"


@pytest.mark.parametrize(
    "value", [0.1, 1e-05, 1 / 3, 2.5e-300, 123456789.123, 0.1 + 0.2, 5e-324, 1e300]
)
def test_float_formatting_round_trips_exactly(value: float) -> None:
    policy = TRI2(k0=value, k1=value * 2 if value < 1e300 else 1.5e300, l=3)
    again = parse(policy.spec)
    assert again.params["k0"] == value
    assert again == policy
    assert hash(again) == hash(policy)


def test_whitespace_trailing_commas_and_ints_for_floats() -> None:
    policy = parse("  TRI2 ( k0 = 1 , k1 = 2 , l = 3 , )  ")
    assert policy.spec == "TRI2(k0=1.0, k1=2.0, l=3)"
    assert parse("NSTEP(k0=1, gamma=0.5, milestones=[1, 2,])").params["milestones"] == (1, 2)
    assert parse("TRI2(k0=1, k1=2, l=3e3)").params["l"] == 3000


def test_positional_pieces_of_piecewise_and_keyword_form() -> None:
    text = "piecewise([FIX(k0=0.1), FIX(k0=0.2)], boundaries=[5])"
    assert parse(text).spec == text
    assert parse("piecewise(pieces=[FIX(k0=0.1), FIX(k0=0.2)], boundaries=[5])").spec == text


def test_parse_returns_a_policy_unchanged() -> None:
    policy = TRI2(k0=0.001, k1=0.006, l=2000)
    assert parse(policy) is policy


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["expected a policy name", "position 0"]),
        ("TRI2", ["expected '('", "position 4"]),
        ("TRI2(k0=0.001, k1=0.006, l=2000", ["expected ')'", "found the end", "position 31"]),
        ("TRI2(k0=0.001,, k1=0.006)", ["expected a value", "found ','", "position 14"]),
        ("TRI2(k0=0.001, k1=0.006, l=2000) x", ["expected the end", "position 33"]),
        ("TRI2(k0=0.001; k1=2)", ["unexpected character ';'", "position 13"]),
        ("TRI2(k0=[0.1, 0.2)", ["expected ']'", "position 17"]),
        ("foo(x=1)", ["unknown policy 'foo'", "TRI2", "onecycle", "piecewise", "position 0"]),
        ("TRI2(k0=1, k1=2, l=3, lr=4)", ["unknown parameter 'lr' of TRI2", "k0, k1, l"]),
        ("TRI2(k0=1, k1=2)", ["TRI2 is missing required parameter(s) 'l'"]),
        ("onecycle()", ["missing", "'max_lr', 'total_steps'"]),
        ("TRI2(k0=1, k0=2, k1=3, l=4)", ["'k0' of TRI2 given twice", "position 11"]),
        ("TRI2(1, 2, 3)", ["TRI2 takes name=value arguments", "k0, k1, l"]),
        (
            "piecewise([FIX(k0=1), bogus(a=1)], boundaries=[1])",
            ["unknown policy 'bogus'", "position 22"],
        ),
    ],
)
def test_spec_errors_say_what_and_where(text: str, fragments: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert repr(text) in message or text == ""


def test_unknown_policy_lists_every_valid_name() -> None:
    with pytest.raises(SpecError) as info:
        parse("nope(a=1)")
    for name in policy_names():
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "TRI2(k0=0.001, k1=0.0001, l=10)",
            "The 'k1' parameter of TRI2 must be a float greater than k0=0.001. Got 0.0001 instead.",
        ),
        (
            "TRI2(k0=0.001, k1=0.006, l=0)",
            "The 'l' parameter of TRI2 must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            "onecycle(max_lr=0.1, total_steps=10, anneal=sine)",
            "The 'anneal' parameter of onecycle must be a str among {'cos', 'linear'}. "
            "Got 'sine' instead.",
        ),
        (
            "TRI2(k0=FIX(k0=1), k1=2, l=3)",
            "The 'k0' parameter of TRI2 must be a float in the range (0, inf). "
            "Got FIX(k0=1.0) instead.",
        ),
    ],
)
def test_value_errors_are_parameter_errors(text: str, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse(text)
    assert str(info.value) == message


def test_non_string_spec_is_rejected() -> None:
    with pytest.raises(SpecError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]


# --- limits: no text exhausts memory or the stack ----------------------------


def _nested(depth: int) -> str:
    """``depth`` levels of calls and lists: piecewise([piecewise([...], ...), FIX], ...)."""
    levels = depth // 2
    return "piecewise([" * levels + "FIX(k0=0.1)" + ", FIX(k0=0.2)], boundaries=[5])" * levels


def test_the_deepest_nesting_allowed_parses_and_one_more_does_not() -> None:
    from lrscope.policies.spec import MAX_SPEC_DEPTH

    deepest = parse(_nested(MAX_SPEC_DEPTH - 1))  # the FIX inside is one level more
    assert deepest.spec.count("piecewise(") == (MAX_SPEC_DEPTH - 1) // 2
    with pytest.raises(SpecError, match=f"nested more than {MAX_SPEC_DEPTH} deep at position"):
        parse(_nested(MAX_SPEC_DEPTH + 1))
    with pytest.raises(SpecError, match="nested more than"):
        parse("FIX(k0=" + "[" * 5000 + "]" * 5000 + ")")


def test_numbers_of_up_to_100_digits_and_no_more() -> None:
    from lrscope.policies.spec import MAX_NUMBER_DIGITS

    assert parse(f"FIX(k0=0.{'3' * (MAX_NUMBER_DIGITS - 1)})").spec == "FIX(k0=0.3333333333333333)"
    with pytest.raises(ParameterError, match="'l' parameter of TRI2"):  # a long int: its range
        parse(f"TRI2(k0=0.1, k1=0.2, l={'9' * MAX_NUMBER_DIGITS})")
    with pytest.raises(SpecError, match=r"a number of 5000 digits \(at most 100\) at position 23"):
        parse(f"TRI2(k0=0.1, k1=0.2, l={'9' * 5000})")
    with pytest.raises(SpecError, match="a number of 101 digits"):
        parse(f"FIX(k0={'1' * 50}.{'1' * 51}e-60)")


def test_the_length_of_a_spec_is_bounded() -> None:
    from lrscope.policies.spec import MAX_SPEC_LENGTH

    padded = "FIX(k0=0.1" + " " * (MAX_SPEC_LENGTH - 11) + ")"
    assert len(padded) == MAX_SPEC_LENGTH
    assert parse(padded).spec == "FIX(k0=0.1)"
    with pytest.raises(SpecError, match="at most 100,000 characters; got 100,001"):
        parse(padded + " ")


def test_an_error_quotes_a_long_spec_shortened() -> None:
    with pytest.raises(SpecError) as info:
        parse("FIX(k0=0.1" + ", x=1" * 10_000 + ")")
    assert len(str(info.value)) < 300


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="FIXTRI2piecewise()[],= 0123456789.e-+kl_", max_size=400))
def test_any_text_parses_or_raises_a_spec_or_parameter_error(text: str) -> None:
    """Fuzz: a spec string is a policy or a clear error, never another exception."""
    with contextlib.suppress(SpecError, ParameterError):
        parse(text)
