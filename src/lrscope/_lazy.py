"""Lazy package exports (PEP 562), so light imports stay light.

A package lists which of its public names live in torch-importing modules
and installs the two hooks::

    __getattr__, __dir__ = lazy_exports(__name__, {"run_trial": "lrscope.engine.trial"}, __all__)

The first access imports the defining module and caches the value on the
package, so later accesses cost nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps a name to its module."""
    listing = sorted(public)

    def get_attr(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def list_names() -> list[str]:
        return listing

    return get_attr, list_names
