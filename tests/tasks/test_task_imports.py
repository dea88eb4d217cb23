"""Where a task reference imports from: the file's directory, the current directory.

The rule (:mod:`lrscope.tasks.loader`): ``file.py:function`` puts the file's
directory first on ``sys.path`` like ``python file.py``; ``module:function``
looks in the current directory, like ``python -m module``, only when the
module is not importable otherwise; an entry is added once, and one that did
not help is taken off again.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrscope.errors import TaskError
from lrscope.tasks import get_task
from lrscope.tasks.loader import added_path_entries


@pytest.fixture(autouse=True)
def _forget_modules() -> Iterator[None]:
    """The modules a test imported are gone after it (conftest restores ``sys.path``)."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("imp_", "lrscope_user_task_")):
            del sys.modules[name]


def _task_with_sibling(folder: Path, stem: str, name: str = "sibling") -> Path:
    """``folder/stem.py`` whose ``make_task`` takes its model from ``folder/imp_<stem>_net.py``."""
    folder.mkdir(parents=True, exist_ok=True)
    net = f"imp_{stem}_net"
    (folder / f"{net}.py").write_text(
        "import torch\n\n\ndef Net():\n    return torch.nn.Linear(4, 2)\n"
    )
    (folder / f"{stem}.py").write_text(
        textwrap.dedent(
            f"""
            import torch
            from torch.utils.data import TensorDataset

            import lrscope
            from {net} import Net


            def make_task():
                x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
                data = TensorDataset(x, (x[:, 0] > 0).long())
                return lrscope.Task(
                    name={name!r}, model=Net, train_data=data, test_data=data,
                    num_classes=2, batch_size=8,
                )
            """
        )
    )
    return folder / f"{stem}.py"


def test_a_relative_file_reference_imports_its_sibling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _task_with_sibling(tmp_path / "proj", "imp_rel")
    monkeypatch.chdir(tmp_path)
    assert get_task("proj/imp_rel.py:make_task").name == "sibling"
    folder = str((tmp_path / "proj").resolve())
    assert sys.path[0] == folder
    assert added_path_entries() == (folder,)
    get_task("proj/imp_rel.py:make_task")  # a second import adds nothing
    assert sys.path.count(folder) == 1
    assert added_path_entries() == (folder,)


def test_an_absolute_file_reference_imports_its_sibling_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _task_with_sibling(tmp_path / "proj", "imp_abs")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert get_task(f"{path}:make_task").name == "sibling"
    assert added_path_entries() == (str(path.parent.resolve()),)


def test_a_file_that_fails_to_import_leaves_sys_path_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "imp_broken.py").write_text("from imp_not_there import Net\n")
    before = list(sys.path)
    with pytest.raises(TaskError, match="No module named 'imp_not_there'"):
        get_task(f"{tmp_path / 'imp_broken.py'}:make_task")
    assert sys.path == before
    assert added_path_entries() == ()


def test_a_module_reference_finds_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _task_with_sibling(tmp_path, "imp_mod")
    monkeypatch.chdir(tmp_path)
    assert get_task("imp_mod:make_task").name == "sibling"
    assert sys.path[0] == str(tmp_path.resolve())
    assert added_path_entries() == (str(tmp_path.resolve()),)


def test_a_module_found_nowhere_leaves_sys_path_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    with pytest.raises(TaskError, match="no module named 'imp_nowhere'"):
        get_task("imp_nowhere:make_task")
    assert sys.path == before
    assert added_path_entries() == ()


def test_an_importable_module_wins_over_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _task_with_sibling(tmp_path / "installed", "imp_both", name="installed")
    _task_with_sibling(tmp_path / "cwd", "imp_both", name="current directory")
    monkeypatch.syspath_prepend(str(tmp_path / "installed"))
    monkeypatch.chdir(tmp_path / "cwd")
    assert get_task("imp_both:make_task").name == "installed"
    assert str((tmp_path / "cwd").resolve()) not in sys.path
    assert added_path_entries() == ()
