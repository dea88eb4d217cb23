"""Values in and out of the database: NaN handling and JSON sanitising.

SQL float columns get NULL for NaN (PostgreSQL would store NaN, SQLite would
not; NULL is the one both agree on) and read back as ``float('nan')``. JSON
has no NaN or infinity and PostgreSQL rejects them, so every non-finite float
in a JSON document is written as ``null``, the convention of the whole
project (``lrscope ... --json``, ``RangeTestResult.to_dict``). Where the
store knows a field is a float (the metrics of a trial's curve) it reads
``null`` back as NaN; generic documents (range tests, interpolations) come back
with ``None`` and their own ``from_dict`` turns it into NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from lrscope.errors import StoreError, short_repr
from lrscope.validation import is_real

_MAX_METRIC_NAME = 200

CURVE_FLOAT_FIELDS = ("lr", "train_loss", "test_loss", "top1", "top5")
"""Fields of a curve point (``EvalPoint``) that are floats: ``null`` reads as NaN."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite returns naive ones, written in UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def float_in(value: Any) -> float | None:
    """A float metric for a SQL column: NaN, an infinity (or None) becomes NULL.

    PostgreSQL would keep an infinity and SQLite would not: NULL is the value
    both store alike.
    """
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def float_out(value: float | None) -> float:
    """A float metric read from a SQL column: NULL becomes NaN."""
    return math.nan if value is None else float(value)


def int_in(value: Any) -> int | None:
    """An optional integer for a SQL column."""
    return None if value is None else int(value)


def json_in(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON: non-finite floats become None, tuples lists.

    numpy / torch scalars are unwrapped with ``.item()``; objects with a
    ``to_dict()`` are converted with it. Anything else that JSON cannot hold
    raises :class:`StoreError` naming ``where`` and the offending type.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_json_key(k, where): json_in(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_in(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "to_dict"):
        return json_in(value.to_dict(), where)
    if hasattr(value, "item") and callable(value.item):
        return json_in(value.item(), where)
    raise StoreError(
        f"cannot store {where} of type {type(value).__name__} as JSON; allowed: "
        "None, bool, int, float, str, and lists or dicts (str keys) of those"
    )


def _json_key(key: Any, where: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float, bool)):
        return str(key)
    raise StoreError(
        f"cannot store {where} as JSON: dict key {key!r} of type {type(key).__name__}; "
        "allowed keys: str (or int/float, stored as text)"
    )


def curve_in(points: Any) -> list[dict[str, Any]]:
    """A trial's curve (EvalPoints or dicts) as JSON-safe dicts."""
    out: list[dict[str, Any]] = []
    for i, point in enumerate(points or ()):
        data = point.to_dict() if hasattr(point, "to_dict") else _asdict(point)
        out.append(json_in(data, f"curve[{i}]"))
    return out


def _asdict(point: Any) -> dict[str, Any]:
    if isinstance(point, Mapping):
        return dict(point)
    if hasattr(point, "__dataclass_fields__"):
        return {name: getattr(point, name) for name in point.__dataclass_fields__}
    raise StoreError(
        f"cannot store a curve point of type {type(point).__name__}; "
        "allowed: EvalPoint or a dict with step, lr, train_loss, test_loss, top1, top5"
    )


def curve_out(points: list[dict[str, Any]] | None) -> tuple[dict[str, float], ...]:
    """A stored curve: ``null`` in any field reads back as NaN (``step`` stays an int)."""
    out = []
    for point in points or ():
        data: dict[str, float] = {}
        for name, value in point.items():
            if name in CURVE_FLOAT_FIELDS or value is None:
                data[name] = float_out(value)
            else:
                data[name] = value
        out.append(data)
    return tuple(out)


def metrics_in(value: Any) -> dict[str, float | None] | None:
    """A trial's ``metrics`` map (name -> number) for its JSON column; None when absent.

    Non-finite values become ``null``. Raises :class:`StoreError` for anything
    but a mapping of metric names (text) to numbers.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise StoreError(
            f"a trial's metrics are a mapping of metric names to numbers, "
            f"got {type(value).__name__}"
        )
    out: dict[str, float | None] = {}
    for name, number in value.items():
        if not isinstance(name, str) or not name or len(name) > _MAX_METRIC_NAME:
            raise StoreError(
                f"a metric name is text of 1 to {_MAX_METRIC_NAME} characters, got {name!r}"
            )
        if not isinstance(number, (int, float)) and callable(getattr(number, "item", None)):
            number = number.item()  # numpy / torch scalars
        if number is not None and not is_real(number):
            raise StoreError(f"metric {name!r} must be a number, got {type(number).__name__}")
        out[name] = float_in(number)
    return out


def metrics_out(value: Mapping[str, float | None] | None) -> dict[str, float]:
    """A stored ``metrics`` map: ``null`` reads back as NaN; empty when none was stored."""
    return {name: float_out(number) for name, number in (value or {}).items()}


class UnreadableJson:
    """What a JSON column holds when its stored text does not decode (a damaged row).

    :class:`StoredJson` returns it instead of raising, so that one bad row
    cannot stop a whole query; the readers of :mod:`lrscope.store._read` name it.
    """

    def __init__(self, text: object, error: Exception) -> None:
        self.text = text
        self.error = error

    def __repr__(self) -> str:
        return f"UnreadableJson({short_repr(self.text, 40)})"


class StoredJson(TypeDecorator[Any]):
    """SQLAlchemy's JSON (None as SQL NULL); undecodable text reads as :class:`UnreadableJson`."""

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        inner = super().result_processor(dialect, coltype)
        if inner is None:  # the driver decodes (PostgreSQL), and refuses bad JSON on writing
            return None

        def process(value: Any) -> Any:
            try:
                return inner(value)
            except ValueError as exc:  # json.JSONDecodeError, or an int too long to read
                return UnreadableJson(value, exc)

        return process
