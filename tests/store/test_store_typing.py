"""The public API of the store is typed without ``Any`` (issue: typed all the way)."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Iterator

import pytest

import lrscope.store
import lrscope.store.exchange


def _public() -> Iterator[tuple[str, object]]:
    for module in (lrscope.store, lrscope.store.exchange):
        for name in module.__all__:
            yield f"{module.__name__}.{name}", getattr(module, name)


def _callables(name: str, value: object) -> Iterator[tuple[str, object]]:
    if inspect.isclass(value):
        for attribute, member in vars(value).items():
            if attribute.startswith("_") and attribute != "__init__":
                continue
            if isinstance(member, (classmethod, staticmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if callable(member):
                yield f"{name}.{attribute}", member
        if dataclasses.is_dataclass(value):
            yield f"{name} (fields)", value
    elif callable(value):
        yield name, value


def _mentions_any(hint: object) -> bool:
    if hint is typing.Any:
        return True
    return any(_mentions_any(arg) for arg in typing.get_args(hint))


def _hints(value: object) -> dict[str, object]:
    """Resolved annotations, with the names modules import only for type checking."""
    from sqlalchemy import URL

    from lrscope.engine.result import TrialKey, TrialResult
    from lrscope.store._db import Database
    from lrscope.tasks.base import TaskMetadata

    extra = {"TrialKey": TrialKey, "TrialResult": TrialResult, "TaskMetadata": TaskMetadata,
             "URL": URL, "Database": Database}  # fmt: skip
    return typing.get_type_hints(value, localns=extra)


SIGNATURES = sorted(
    (name, member) for public, value in _public() for name, member in _callables(public, value)
)


@pytest.mark.parametrize(("name", "member"), SIGNATURES, ids=[n for n, _ in SIGNATURES])
def test_no_public_signature_of_the_store_says_any(name: str, member: object) -> None:
    hints = _hints(member)
    assert hints or name.endswith("__init__") or not inspect.signature(member).parameters  # type: ignore[arg-type]
    offending = {k: v for k, v in hints.items() if _mentions_any(v)}
    assert offending == {}, f"{name}: {offending}"
