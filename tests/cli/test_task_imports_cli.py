"""A task file that imports a module next to it, through the real console script.

``lrscope`` is a console script: Python puts the script's own directory first
on ``sys.path``, neither the current directory nor the task file's. A task
reference must still import the way Python would run it (``python file.py``
finds the file's siblings, ``python -m module`` finds the current directory),
in the command's process and in the workers that build the task again from its
reference (spawned processes, local Ray). So these tests run a launcher script
kept in a directory of its own, in a subprocess whose current directory is the
project's or another one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

MODELS = textwrap.dedent(
    """
    import torch


    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = torch.nn.Linear(6, 16)
            self.l2 = torch.nn.Linear(16, 3)

        def forward(self, x):
            return self.l2(torch.relu(self.l1(x)))
    """
)

TASK = textwrap.dedent(
    """
    import torch
    from torch.utils.data import TensorDataset

    import lrscope
    from sibling_models import Net

    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 6, generator=g)
    Y = (X @ torch.randn(6, 3, generator=g)).argmax(1)


    def make_task():
        return lrscope.Task(
            name="sibling-import", model=Net, train_data=TensorDataset(X[:200], Y[:200]),
            test_data=TensorDataset(X[200:], Y[200:]), num_classes=3, batch_size=20,
        )
    """
)

LAUNCHER = textwrap.dedent(
    """
    import sys

    from lrscope.cli.app import main

    if __name__ == "__main__":  # as in the console script: spawned workers import this file
        sys.exit(main())
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``proj/task_sibling.py`` importing ``proj/sibling_models.py``; a launcher elsewhere."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "sibling_models.py").write_text(MODELS)
    (proj / "task_sibling.py").write_text(TASK)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "lrscope_launcher.py").write_text(LAUNCHER)
    return proj


def _lrscope(project: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``lrscope ARGS`` as the console script runs it: ``sys.path[0]`` is the launcher's dir."""
    launcher = project.parent / "bin" / "lrscope_launcher.py"
    paths = [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("PYTHONSAFEPATH", None)
    return subprocess.run(
        [sys.executable, str(launcher), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _reference(project: Path, form: str) -> tuple[str, Path]:
    """The ``--task`` value of ``form`` and the directory to run it from."""
    if form == "relative file":
        return "proj/task_sibling.py:make_task", project.parent
    if form == "absolute file":
        return f"{project / 'task_sibling.py'}:make_task", project.parent / "bin"
    return "task_sibling:make_task", project  # module form, from the module's own directory


FORMS = ["relative file", "absolute file", "module"]


@pytest.mark.parametrize("form", FORMS)
def test_train_imports_the_task_files_sibling_module(project: Path, form: str) -> None:
    ref, cwd = _reference(project, form)
    done = _lrscope(
        project, cwd, "train", "--task", ref, "--policy", "FIX(k0=0.05)", "--steps", "4", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task"] == "sibling-import"


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_bench_workers_import_the_task_files_sibling_module(project: Path, form: str) -> None:
    ref, cwd = _reference(project, form)
    db = f"sqlite:///{project.parent / 'bench.db'}"
    done = _lrscope(
        project, cwd, "bench", "--task", ref, "--policy", "FIX(k0=0.05)", "--policy",
        "FIX(k0=0.01)", "--seeds", "1", "--steps", "4", "--executor", "process",
        "--workers", "2", "--db", db, "--quiet", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["ran"], summary["failed"]) == (2, 2, 0), summary


@pytest.mark.ray
@pytest.mark.slow
def test_local_ray_workers_import_a_module_of_the_current_directory(project: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor is the 'ray' extra")
    ref, cwd = _reference(project, "module")
    db = f"sqlite:///{project.parent / 'ray.db'}"
    done = _lrscope(
        project, cwd, "bench", "--task", ref, "--policy", "FIX(k0=0.05)", "--seeds", "1",
        "--steps", "4", "--executor", "ray", "--workers", "1", "--db", db, "--quiet", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["failed"]) == (1, 0), summary


def test_a_module_in_no_directory_still_exits_2_with_one_line(project: Path) -> None:
    done = _lrscope(
        project, project.parent, "train", "--task", "task_sibling:make_task", "--policy",
        "FIX(k0=0.05)", "--steps", "4",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: task 'task_sibling:make_task': no module named 'task_sibling' "
        "(use 'pkg.module:function' for an importable module or 'path/file.py:function' "
        "for a file)"
    ]
