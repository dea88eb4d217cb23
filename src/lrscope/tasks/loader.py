"""Resolve a task name: a built-in name, ``pkg.module:function`` or ``path/file.py:function``.

A user task is a function taking no arguments (or an optional ``data_dir``
keyword) that returns a :class:`~lrscope.tasks.base.Task`::

    # my_task.py
    def make_task():
        return lrscope.Task(name="my-task", model=MyNet, train_data=..., ...)

    lrscope train --task my_task.py:make_task --policy "FIX(k0=0.05)"

A reference imports its module the way Python itself would run it, so that a
task file can import the modules next to it:

- ``path/file.py:function`` puts the file's directory first on ``sys.path``,
  as ``python path/file.py`` does, before the file is executed;
- ``pkg.module:function`` imports ``pkg`` from ``sys.path`` as it stands and,
  only if it is not found there, from the current directory, which is then
  put first on ``sys.path``, as ``python -m pkg.module`` does (not with
  ``PYTHONSAFEPATH`` / ``python -P``, which asks for no such entry).

An entry is added once and stays for the life of the process, as the script's
own directory does: a model or dataset may import a sibling module only when
it is built or unpickled, long after the factory has returned (spawned
DataLoader and executor workers inherit ``sys.path``). Nothing else is added;
an entry that did not help (the module is still not found) is taken off again.
:func:`added_path_entries` lists what was added, in order, for workers that
start with a fresh ``sys.path`` (local Ray).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from lrscope.errors import LRScopeError, TaskError
from lrscope.tasks.base import Task
from lrscope.tasks.builtin import BUILTIN_TASKS, builtin_task_names, make_builtin

__all__ = ["added_path_entries", "get_task"]

_ADDED: list[str] = []  # sys.path entries this process added for task references


def added_path_entries() -> tuple[str, ...]:
    """The directories task references put on ``sys.path`` in this process, in order."""
    return tuple(_ADDED)


def _put_on_path(directory: Path) -> bool:
    """Put ``directory`` first on ``sys.path`` unless it is there; whether it was added."""
    entry = str(directory)
    if entry in sys.path:
        return False
    sys.path.insert(0, entry)
    _ADDED.append(entry)
    return True


def _take_off_path(directory: Path) -> None:
    entry = str(directory)
    if entry in sys.path:
        sys.path.remove(entry)
    if entry in _ADDED:
        _ADDED.remove(entry)


def _is_file_reference(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def _import_file(path_text: str, reference: str) -> ModuleType:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise TaskError(f"task {reference!r}: no such file {str(path)!r}")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"lrscope_user_task_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TaskError(f"task {reference!r}: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    directory = path.resolve().parent
    added = _put_on_path(directory)  # its sibling modules, as `python path/file.py` finds them
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a module that calls sys.exit() is an error too
        sys.modules.pop(module_name, None)
        if added:
            _take_off_path(directory)
        raise TaskError(
            f"task {reference!r}: importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _found_elsewhere(top: str) -> bool:
    """Whether the top-level module ``top`` is importable without the current directory."""
    if top in sys.modules:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _import_module(name: str, reference: str) -> ModuleType:
    top = name.partition(".")[0]
    cwd: Path | None = None
    if top.isidentifier() and not sys.flags.safe_path and not _found_elsewhere(top):
        here = Path.cwd().resolve()
        cwd = here if _put_on_path(here) else None  # as `python -m name` would find it
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if cwd is not None and exc.name == top:
            _take_off_path(cwd)  # the current directory does not hold it either
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise TaskError(
                f"task {reference!r}: no module named {name!r} (use 'pkg.module:function' "
                "for an importable module or 'path/file.py:function' for a file)"
            ) from exc
        raise TaskError(
            f"task {reference!r}: importing {name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except (Exception, SystemExit) as exc:
        raise TaskError(
            f"task {reference!r}: importing {name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _call_factory(factory: Any, reference: str, data_dir: str | os.PathLike[str] | None) -> Any:
    kwargs: dict[str, Any] = {}
    try:
        if "data_dir" in inspect.signature(factory).parameters:
            kwargs["data_dir"] = data_dir
    except (TypeError, ValueError):
        pass  # builtins without a signature are called without arguments
    try:
        return factory(**kwargs)
    except LRScopeError:  # a bad Task (ParameterError), a missing data file (DataError), ...
        raise
    except (Exception, SystemExit) as exc:  # sys.exit() in a factory must not end lrscope quietly
        raise TaskError(
            f"task {reference!r}: calling the factory failed: {type(exc).__name__}: {exc}"
        ) from exc


def load_user_task(reference: str, data_dir: str | os.PathLike[str] | None = None) -> Task:
    """Import ``module:function`` or ``file.py:function``, call it, check it returns a Task."""
    target, _, attr = reference.rpartition(":")
    if not target or not attr.isidentifier():
        raise TaskError(
            f"task {reference!r}: expected 'pkg.module:function' or 'path/file.py:function'"
        )
    if _is_file_reference(target):
        module = _import_file(target, reference)
    else:
        module = _import_module(target, reference)
    factory = getattr(module, attr, None)
    if factory is None:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise TaskError(
            f"task {reference!r}: {target!r} has no function {attr!r}; "
            f"its public callables: {', '.join(public) or 'none'}"
        )
    if not callable(factory):
        raise TaskError(f"task {reference!r}: {attr!r} is not callable")
    task = _call_factory(factory, reference, data_dir)
    if not isinstance(task, Task):
        raise TaskError(
            f"task {reference!r}: {attr}() returned {type(task).__name__}, expected an lrscope.Task"
        )
    return task


def get_task(name: str, data_dir: str | os.PathLike[str] | None = None) -> Task:
    """The task called ``name``.

    Args:
        name: a built-in name (see :func:`builtin_task_names`),
            ``pkg.module:function`` or ``path/to/file.py:function``.
        data_dir: directory of on-disk datasets (CIFAR-10, MNIST); defaults to
            ``$LRSCOPE_DATA_DIR``. Passed to user factories that accept a
            ``data_dir`` keyword.

    Raises:
        TaskError: unknown name, or a user task that cannot be loaded.
        DataError: a dataset file is missing or malformed.
    """
    if name in BUILTIN_TASKS:
        return make_builtin(name, data_dir)
    if ":" in name:
        return load_user_task(name, data_dir)
    if name.endswith(".py") or os.sep in name or "/" in name:
        raise TaskError(
            f"task {name!r} names a file but not the function that builds the task: "
            f"give it as '{name}:function' (e.g. '{name}:make_task')"
        )
    raise TaskError(
        f"unknown task {name!r}; built-in tasks: {', '.join(builtin_task_names())}; "
        "or give a user task as 'pkg.module:function' or 'path/file.py:function'"
    )
