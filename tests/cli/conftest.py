"""Fixtures of the command-line tests: a store with every kind of row, an unwritable place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fault_testlib import TINY, invoke, url


@pytest.fixture
def keep_torch_threads() -> Iterator[None]:
    """Commands set torch's thread count (``--threads``, default 1); put it back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def _stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with trials, a range test and an interpolation, and two weight files."""
    import torch

    threads = torch.get_num_threads()
    folder = tmp_path_factory.mktemp("stored")
    db = url(folder / "lrscope.db")
    runs = [
        ["bench", "--task", TINY, "--policy", "FIX(k0=0.05)", "--policy",
         "TRI(k0=0.01, k1=0.1, l=6)", "--seeds", "2", "--steps", "30", "--eval-every", "10",
         "--db", db, "--quiet"],
        ["find", "--task", TINY, "--steps", "50", "--db", db, "--quiet", "--json"],
        ["train", "--task", TINY, "--policy", "FIX(k0=0.05)", "--steps", "10",
         "--save-weights", str(folder / "a.pt"), "--json"],
        ["train", "--task", TINY, "--policy", "FIX(k0=0.05)", "--steps", "20",
         "--save-weights", str(folder / "b.pt"), "--json"],
        ["interpolate", "--task", TINY, "--from", str(folder / "a.pt"), "--to",
         str(folder / "b.pt"), "--points", "3", "--db", db, "--quiet", "--json"],
    ]  # fmt: skip
    for args in runs:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    torch.set_num_threads(threads)
    return folder


@pytest.fixture
def stored(_stored: Path, tmp_path: Path) -> Path:
    """A copy of the session's store folder (``lrscope.db``, ``a.pt``, ``b.pt``) to change."""
    copy = tmp_path / "stored"
    shutil.copytree(_stored, copy)
    return copy


def _unwritable_for_root() -> Path | None:
    for candidate in (Path("/sys"), Path("/proc")):
        if not candidate.is_dir():
            continue
        try:
            fd, name = tempfile.mkstemp(dir=candidate)
        except OSError:
            return candidate
        os.close(fd)
        os.unlink(name)
    return None


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot create files in.

    Permission bits do not stop root, so as root it is a kernel file system
    (``/sys``, else ``/proc``) where creating a file fails.
    """
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    found = _unwritable_for_root()
    if found is None:
        pytest.skip("root, and neither /sys nor /proc refuses new files: nowhere is unwritable")
    yield found
