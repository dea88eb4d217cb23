"""Reading rows that may be damaged: each one checked, a bad one named, the others kept.

The store writes well-formed rows; a database edited by hand, written by a
buggy tool or half restored can still hold a curve that is not a list of
points, a metric that is text, a document that is no JSON object, or JSON
text that no longer decodes (:class:`~lrscope.store._codec.StoredJson`
reads it as :class:`~lrscope.store._codec.UnreadableJson`). Before a row
becomes a record, the checks here look at exactly what the record builders
and their readers rely on; a row that fails becomes an
:class:`UnreadableRowError` naming the table, the row and what is wrong.

The reading methods of :class:`~lrscope.store.Store` take ``on_unreadable``:
without it the first bad row raises its :class:`UnreadableRowError` (a
:class:`~lrscope.errors.StoreError`, so the command line prints one line);
with it, every bad row is handed to it and left out, and the rest is read
(``lrscope rank`` and ``lrscope report`` warn and go on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from lrscope.errors import StoreError, short_repr
from lrscope.store._codec import CURVE_FLOAT_FIELDS, UnreadableJson
from lrscope.validation import is_integer, is_real

__all__ = [
    "OnUnreadable",
    "UnreadableRowError",
    "check_document",
    "check_trial",
    "hand_over",
    "split_readable",
    "task_metadata",
]


class UnreadableRowError(StoreError):
    """A stored row that cannot be read: ``table``, ``row_id``, ``what`` it is, ``reason``."""

    def __init__(self, table: str, row_id: object, what: str, reason: str) -> None:
        self.table = table
        self.row_id = row_id
        self.what = what
        self.reason = reason
        super().__init__(f"{what} cannot be read: {reason}")


OnUnreadable = Callable[[UnreadableRowError], None]
"""What a reader does with a bad row instead of raising: warn, note, count."""

_R = TypeVar("_R")
_Row = TypeVar("_Row")


def _kind(value: object) -> str:
    if isinstance(value, UnreadableJson):
        return f"text that is not JSON ({short_repr(value.text, 40)})"
    return f"{type(value).__name__} {short_repr(value, 40)}"


def _curve_problem(curve: object) -> str | None:
    if curve is None:
        return None
    if not isinstance(curve, list):
        return f"its curve is {_kind(curve)}, not a list of evaluation points"
    for i, point in enumerate(curve):
        if not isinstance(point, dict):
            return f"point {i} of its curve is {_kind(point)}, not an object"
        if not is_integer(point.get("step")):
            return f"point {i} of its curve has step {_kind(point.get('step'))}, not an int"
        for name in CURVE_FLOAT_FIELDS:
            value = point.get(name)
            if value is not None and not is_real(value):
                return f"point {i} of its curve has {name} {_kind(value)}, not a number"
    return None


_TRIAL_INTS = ("seed", "steps", "eval_every")
_TRIAL_OPTIONAL_INTS = ("best_iter", "n_params", "steps_done", "diverged_at", "pid", "attempts")
"""Integer columns that may be NULL (``source_id`` too, where the schema has it)."""
_TRIAL_FLOATS = ("top1", "top5", "best_top1", "ac", "cd", "cdac", "ld", "wall_s")


def _trial_problem(row: Any) -> str | None:
    for name in ("task", "spec", "status"):
        if not isinstance(getattr(row, name), str):
            return f"its {name} is {_kind(getattr(row, name))}, not text"
    for name in _TRIAL_INTS:
        if not is_integer(getattr(row, name)):
            return f"its {name} is {_kind(getattr(row, name))}, not an int"
    for name in _TRIAL_OPTIONAL_INTS:
        value = getattr(row, name)
        if value is not None and not is_integer(value):
            return f"its {name} is {_kind(value)}, not an int"
    for name in _TRIAL_FLOATS:
        value = getattr(row, name)
        if value is not None and not is_real(value):
            return f"its {name} is {_kind(value)}, not a number"
    if row.seed < 0 or row.steps < 1 or row.eval_every < 1:
        return f"its seed, steps and eval_every are {row.seed}, {row.steps}, {row.eval_every}"
    for name in ("best_iter", "steps_done", "diverged_at"):
        value = getattr(row, name)
        if value is not None and not 0 <= value <= row.steps:
            return f"its {name} is {value}, outside [0, {row.steps}] (its steps)"
    metrics = getattr(row, "metrics", None)
    if metrics is not None:
        if not isinstance(metrics, dict):
            return f"its metrics are {_kind(metrics)}, not a JSON object"
        for name, value in metrics.items():
            if value is not None and not is_real(value):
                return f"its metric {short_repr(name, 40)} is {_kind(value)}, not a number"
    return _curve_problem(row.curve)


def check_trial(row: Any) -> None:
    """Raise :class:`UnreadableRowError` unless the trial row can become a ``TrialRecord``."""
    problem = _trial_problem(row)
    if problem is not None:
        what = f"trial {row.id} ({short_repr(row.task, 60)}, {short_repr(row.spec, 60)})"
        raise UnreadableRowError("trials", row.id, what, problem)


def check_document(table: str, row: Any, what: str, fields: dict[str, bool]) -> None:
    """Raise :class:`UnreadableRowError` unless each JSON field is an object (or None if optional).

    ``fields`` maps a column to whether it may be None.
    """
    for name, optional in fields.items():
        value = getattr(row, name)
        if not (isinstance(value, dict) or (optional and value is None)):
            reason = f"its {name} is {_kind(value)}, not a JSON object"
            raise UnreadableRowError(table, row.id, f"{what} {row.id} of task {row.task!r}", reason)


def task_metadata(row: Any) -> tuple[dict[str, Any] | None, UnreadableRowError | None]:
    """The task's metadata, or None and the error when it is not an object (or null).

    A task whose metadata is damaged is still a task (its trials are intact):
    it is read without metadata, and the error names what is left out.
    """
    value = row.task_metadata
    if value is None or isinstance(value, dict):
        return value, None
    what = f"the metadata of task {short_repr(row.name, 60)}"
    reason = f"it is {_kind(value)}, not a JSON object"
    return None, UnreadableRowError("tasks", row.id, what, reason)


def split_readable(
    rows: Iterable[_Row], build: Callable[[_Row], _R]
) -> tuple[list[_R], list[UnreadableRowError]]:
    """``build`` every row; those raising :class:`UnreadableRowError` are set apart, in order."""
    records: list[_R] = []
    bad: list[UnreadableRowError] = []
    for row in rows:
        try:
            records.append(build(row))
        except UnreadableRowError as exc:
            bad.append(exc)
    return records, bad


def hand_over(bad: list[UnreadableRowError], on_unreadable: OnUnreadable | None) -> None:
    """Raise the first bad row, or give every one to ``on_unreadable`` (outside the transaction)."""
    for exc in bad:
        if on_unreadable is None:
            raise exc
        on_unreadable(exc)
