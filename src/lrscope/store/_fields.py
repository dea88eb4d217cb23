"""Typed, bounded reading of one untrusted JSON record (the export reader's toolkit).

:func:`decode` turns a line into a JSON object (UTF-8, no NaN or infinity,
no duplicate keys, bounded nesting); :class:`Fields` reads its fields with a
type, a range or a length limit each, and refuses fields nobody read. Every
problem raises :class:`InvalidRecordError` with a message that says what is allowed;
the caller adds the file, the line and the record.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import NoReturn

from lrscope.store import _format as fmt
from lrscope.store._format import SourceLine
from lrscope.validation import is_integer

__all__ = [
    "Fields",
    "InvalidRecordError",
    "check_document",
    "decode",
    "fail",
    "identity",
    "parse_time",
    "short",
]


class InvalidRecordError(Exception):
    """What is wrong with one record (turned into an :class:`ExportFormatError`)."""


def fail(message: str) -> NoReturn:
    raise InvalidRecordError(message)


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reject_constant(name: str) -> NoReturn:
    raise InvalidRecordError(f"{name} is not a number JSON allows (no NaN or infinity; write null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        fail(f"{text} is beyond the range of a float (no infinity; write null)")
    return value


def decode(raw: bytes) -> dict[str, object]:
    """One line as a JSON object (no NaN, no infinity, no duplicate keys)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"not UTF-8 text ({exc.reason} at byte {exc.start})")

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        data = dict(pairs)
        if len(data) != len(pairs):
            seen = Counter(k for k, _ in pairs)
            fail(f"the key {next(k for k, n in seen.items() if n > 1)!r} appears twice")
        return data

    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=unique,
        )
    except RecursionError:
        fail(f"JSON nested deeper than {fmt.MAX_DEPTH} levels")
    except ValueError as exc:
        fail(f"not JSON ({exc})")
    if not isinstance(value, dict):
        fail(f"a record is a JSON object, got {type(value).__name__}")
    return value


def check_document(value: object, where: str, depth: int = 0) -> None:
    """Plain JSON (objects with text keys, lists, text, numbers, booleans, null), bounded."""
    if depth > fmt.MAX_DEPTH:
        fail(f"{where} is nested deeper than {fmt.MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            check_document(item, f"{where}[{key!r}]", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_document(item, f"{where}[{i}]", depth + 1)


class Fields:
    """Typed access to one record's fields; every field must be read (unknown ones refused)."""

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.read: set[str] = {"type"}

    def raw(self, name: str) -> object:
        if name not in self.data:
            fail(f"the field {name!r} is missing")
        self.read.add(name)
        return self.data[name]

    def text(self, name: str, limit: int, *, null: bool = False, empty: bool = False) -> str | None:
        value = self.raw(name)
        if value is None and null:
            return None
        if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > limit:
            kind = "text" if empty else "non-empty text"
            fail(
                f"{name} must be {kind} of at most {limit} characters"
                f"{' or null' if null else ''}, got {short(value)}"
            )
        return value

    def required_text(self, name: str, limit: int) -> str:
        value = self.text(name, limit)
        assert value is not None
        return value

    def integer(self, name: str, low: int, high: int, *, null: bool = False) -> int | None:
        value = self.raw(name)
        if value is None and null:
            return None
        if not is_integer(value) or not low <= value <= high:
            fail(
                f"{name} must be an integer in [{low}, {high}]{' or null' if null else ''}, "
                f"got {short(value)}"
            )
        return value

    def required_integer(self, name: str, low: int, high: int) -> int:
        value = self.integer(name, low, high)
        assert value is not None
        return value

    def time(self, name: str, *, null: bool = False) -> datetime | None:
        value = self.raw(name)
        if value is None and null:
            return None
        return parse_time(value, name, null)

    def required_time(self, name: str) -> datetime:
        value = self.time(name)
        assert value is not None
        return value

    def document(self, name: str, *, null: bool = False) -> dict[str, object] | None:
        value = self.raw(name)
        if value is None and null:
            return None
        if not isinstance(value, dict):
            fail(f"{name} must be a JSON object{' or null' if null else ''}, got {short(value)}")
        check_document(value, name)
        return value

    def choice(self, name: str, allowed: Iterable[str]) -> str:
        value = self.raw(name)
        options = tuple(allowed)
        if value not in options:
            fail(f"{name} must be one of {', '.join(options)}, got {short(value)}")
        assert isinstance(value, str)
        return value

    def source(self, known: Mapping[int, SourceLine]) -> int | None:
        ref = self.integer("source", 1, fmt.MAX_INT, null=True)
        if ref is not None and ref not in known:
            fail(f"source {ref} is not defined by a source line before it")
        return ref

    def finish(self) -> None:
        extra = sorted(set(self.data) - self.read)
        if extra:
            fail(f"unknown fields {extra}")


def parse_time(value: object, name: str, null: bool = False) -> datetime:
    """An ISO 8601 time with a UTC offset (``Z`` allowed), as an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > 40:
        fail(f"{name} must be an ISO 8601 time{' or null' if null else ''}, got {short(value)}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name} must be an ISO 8601 time, got {short(value)}")
    if moment.tzinfo is None:
        fail(f"{name} must carry its UTC offset (e.g. +00:00), got {short(value)}")
    return moment.astimezone(timezone.utc)


def identity(data: Mapping[str, object], kind: str) -> str:
    """How a record is named in messages, from what it says it is."""
    if kind == "trial":
        return (
            f"trial {short(data.get('task'))} / {short(data.get('spec'))} / seed "
            f"{short(data.get('seed'))} / {short(data.get('steps'))} steps / eval every "
            f"{short(data.get('eval_every'))}"
        )
    if kind == "task":
        return f"task {short(data.get('name'))}"
    if kind == "policy":
        return f"policy {short(data.get('spec'))}"
    if kind in ("range_test", "interpolation"):
        return f"{kind.replace('_', ' ')} of task {short(data.get('task'))}"
    if kind == "source":
        return f"source {short(data.get('id'))}"
    return f"{kind} line"
