"""Spec strings: the one text form of every policy.

Grammar (names case-insensitive, whitespace free)::

    spec   := call
    call   := NAME "(" [arg ("," arg)* [","]] ")"
    arg    := NAME "=" value | value          # bare values only for positional params
    value  := NUMBER | "true" | "false" | NAME | list | call
    list   := "[" [value ("," value)* [","]] "]"

Numbers are ints (``2000``) or floats (``1e-3``, ``0.5``); other bare words
are choices (``anneal=linear``); a call inside a list is a nested policy
(``piecewise([...], boundaries=[500])``).

Limits, so that no text can exhaust memory or the stack: a spec has at most
:data:`MAX_SPEC_LENGTH` characters, a number at most :data:`MAX_NUMBER_DIGITS`
digits, and calls and lists nest at most :data:`MAX_SPEC_DEPTH` deep (a
``piecewise`` of ``piecewise`` s needs two levels per policy). Errors point at
the position::

    >>> parse("TRI2(k0=0.001, k1=0.006, l=2000)")
    TRI2(k0=0.001, k1=0.006, l=2000)
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lrscope.errors import SpecError, short_repr
from lrscope.policies.base import Policy, policy_names, registry
from lrscope.validation import INVALID, Constraint

__all__ = ["MAX_NUMBER_DIGITS", "MAX_SPEC_DEPTH", "MAX_SPEC_LENGTH", "SpecList", "parse"]

MAX_SPEC_LENGTH = 100_000
"""The longest spec text parsed, in characters (the longest real spec is a few hundred)."""
MAX_NUMBER_DIGITS = 100
"""The most digits a number of a spec may have (integer part plus fraction; a float's
``repr`` has at most 17 significant digits, and ints beyond 30 digits are refused by
every parameter anyway)."""
MAX_SPEC_DEPTH = 32
"""The deepest nesting of calls and lists in a spec."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\],=])
    """,
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # number, name, punct, end
    text: str
    pos: int


@dataclasses.dataclass(frozen=True)
class _Call:
    name: str
    pos: int
    args: tuple[tuple[str | None, Any, int], ...]  # (keyword or None, value, position)


def _tokenize(text: str) -> list[_Token]:
    if len(text) > MAX_SPEC_LENGTH:
        raise SpecError(
            f"a policy spec has at most {MAX_SPEC_LENGTH:,} characters; got {len(text):,}"
        )
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind == "number":
            mantissa = re.split("[eE]", match.group())[0]
            digits = sum(c.isdigit() for c in mantissa)
            if digits > MAX_NUMBER_DIGITS:
                raise _error(
                    text, pos, f"a number of {digits} digits (at most {MAX_NUMBER_DIGITS})"
                )
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _error(text: str, pos: int, message: str) -> SpecError:
    return SpecError(f"{message} at position {pos} of policy spec {short_repr(text)}")


class _Parser:
    """Recursive descent over the token list; builds nested :class:`_Call` trees."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def enter(self) -> None:
        """One level deeper (a call's or a list's opening bracket)."""
        self.depth += 1
        if self.depth > MAX_SPEC_DEPTH:
            message = f"calls and lists nested more than {MAX_SPEC_DEPTH} deep"
            raise _error(self.text, self.token.pos, message)

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, expected: str) -> SpecError:
        token = self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        return _error(self.text, token.pos, f"expected {expected}, found {found}")

    def expect(self, text: str) -> None:
        if self.token.text != text or self.token.kind != "punct":
            raise self.fail(repr(text))
        self.index += 1

    def accept(self, text: str) -> bool:
        if self.token.kind == "punct" and self.token.text == text:
            self.index += 1
            return True
        return False

    def spec(self) -> _Call:
        if self.token.kind != "name":
            raise self.fail("a policy name")
        call = self.call()
        if self.token.kind != "end":
            raise self.fail("the end of the spec")
        return call

    def call(self) -> _Call:
        name = self.token
        self.index += 1
        self.expect("(")
        self.enter()
        args: list[tuple[str | None, Any, int]] = []
        while not self.accept(")"):
            pos = self.token.pos
            if self.token.kind == "name" and self.tokens[self.index + 1].text == "=":
                keyword: str | None = self.token.text
                self.index += 2
            else:
                keyword = None
            args.append((keyword, self.value(), pos))
            if not self.accept(","):
                self.expect(")")
                break
        self.depth -= 1
        return _Call(name.text, name.pos, tuple(args))

    def value(self) -> Any:
        token = self.token
        if token.kind == "number":
            self.index += 1
            is_float = any(c in token.text for c in ".eE")
            return float(token.text) if is_float else int(token.text)
        if token.kind == "name":
            if self.tokens[self.index + 1].text == "(":
                return self.call()
            self.index += 1
            lowered = token.text.lower()
            return {"true": True, "false": False}.get(lowered, token.text)
        if self.accept("["):
            self.enter()
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.value())
                if not self.accept(","):
                    self.expect("]")
                    break
            self.depth -= 1
            return items
        raise self.fail("a value (number, true/false, word, [list] or policy)")


def _build(call: _Call, text: str) -> Policy:
    """Resolve names and instantiate the policy of ``call`` (nested calls first)."""
    policies = registry()
    cls = policies.get(call.name.lower())
    if cls is None:
        names = ", ".join(policy_names())
        raise _error(text, call.pos, f"unknown policy {call.name!r} (valid: {names})")
    declared = {p.name: p for p in cls.declared_params()}
    allowed = ", ".join(declared)
    kwargs: dict[str, Any] = {}
    positional = list(cls.positional)
    for keyword, value, pos in call.args:
        if keyword is None:
            if not positional or kwargs:
                raise _error(
                    text, pos, f"{cls.name} takes name=value arguments (parameters: {allowed})"
                )
            keyword = positional.pop(0)
        key = keyword.lower()
        if key not in declared:
            raise _error(
                text, pos, f"unknown parameter {keyword!r} of {cls.name} (allowed: {allowed})"
            )
        if key in kwargs:
            raise _error(text, pos, f"parameter {keyword!r} of {cls.name} given twice")
        kwargs[key] = _resolve(value, text)
    missing = [name for name, p in declared.items() if p.required and name not in kwargs]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise _error(text, call.pos, f"{cls.name} is missing required parameter(s) {listed}")
    return cls(**kwargs)


def _resolve(value: Any, text: str) -> Any:
    if isinstance(value, _Call):
        return _build(value, text)
    if isinstance(value, list):
        return [_resolve(v, text) for v in value]
    return value


def parse(spec: str | Policy) -> Policy:
    """The policy a spec string describes (a Policy is returned unchanged).

    Raises :class:`lrscope.errors.SpecError` for malformed text, unknown names
    or missing parameters (message with the position), and
    :class:`lrscope.errors.ParameterError` for values outside their range.
    """
    if isinstance(spec, Policy):
        return spec
    if not isinstance(spec, str):
        raise SpecError(f"a policy spec must be a string, got {type(spec).__name__}")
    return _build(_Parser(spec).spec(), spec)


@dataclasses.dataclass(frozen=True)
class SpecList(Constraint):
    """One policy spec, or a non-empty list of them (strings or policies).

    The canonical form is the tuple of canonical spec strings with repeats
    dropped, so two spellings of one policy are one entry
    (``["fix(k0=0.1)", "FIX(k0=1e-1)"]`` -> ``("FIX(k0=0.1)",)``). A string
    that does not parse raises its own :class:`~lrscope.errors.SpecError` (or
    :class:`~lrscope.errors.ParameterError`), which points at the position.
    """

    def coerce(self, value: object) -> Any:
        items = [value] if isinstance(value, (str, Policy)) else value
        if not isinstance(items, (list, tuple)) or not items:
            return INVALID
        if not all(isinstance(v, Policy) or (isinstance(v, str) and v.strip()) for v in items):
            return INVALID
        canonical: list[str] = []
        for item in items:
            text = parse(item).spec
            if text not in canonical:
                canonical.append(text)
        return tuple(canonical)

    def describe(self) -> str:
        return "a policy spec or a non-empty list of policy specs (strings or policies)"
