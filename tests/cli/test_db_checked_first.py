"""A bad ``--db`` exits 2 before any training: every command that trains or evaluates.

The fault: ``lrscope find --db bogus://x`` ran the whole range test and only
then said ``unsupported database 'bogus'``, the work lost. Each command that
takes ``--db`` and trains, evaluates or tunes opens its store before the first
step, so a URL of an unsupported kind, a PostgreSQL server that does not
answer, or a file that is not a database exits 2 with one line at once. The
task's model factory leaves a mark when it is called: no mark, no training.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fault_testlib import error_line, invoke, url

TASK = textwrap.dedent(
    """
    from pathlib import Path

    import torch
    from torch.utils.data import TensorDataset

    import lrscope

    MARK = Path(__file__).with_name("model_built")


    def model():
        MARK.touch()
        return torch.nn.Linear(4, 2)


    def make_task():
        x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
        data = TensorDataset(x, (x[:, 0] > 0).long())
        return lrscope.Task(
            name="marked", model=model, train_data=data, test_data=data, num_classes=2,
            batch_size=8,
        )
    """
)

UNREACHABLE = "postgresql+psycopg://lrscope@127.0.0.1:1/none?connect_timeout=2"


@pytest.fixture
def marked(tmp_path: Path) -> Path:
    """A task file whose model factory touches ``model_built`` next to it; two weight files."""
    import torch

    (tmp_path / "marked.py").write_text(TASK)
    for name in ("a.pt", "b.pt"):
        torch.save(torch.nn.Linear(4, 2).state_dict(), tmp_path / name)
    (tmp_path / "not_a.db").write_text("these are notes, not a database\n")
    return tmp_path


def _command(name: str, folder: Path, db: str) -> list[str]:
    ref = f"{folder / 'marked.py'}:make_task"
    if name == "find":
        return ["find", "--task", ref, "--steps", "40", "--db", db, "--quiet"]
    if name == "interpolate":
        a, b = str(folder / "a.pt"), str(folder / "b.pt")
        return ["interpolate", "--task", ref, "--from", a, "--to", b, "--points", "3",
                "--db", db, "--quiet"]  # fmt: skip
    if name == "bench":
        return ["bench", "--task", ref, "--policy", "FIX(k0=0.05)", "--steps", "8",
                "--db", db, "--quiet"]  # fmt: skip
    if name == "tune":
        return ["tune", "--task", ref, "--steps", "16", "--trials", "2", "--executor", "local",
                "--db", db, "--quiet"]  # fmt: skip
    return ["recommend", "--task", ref, "--db", db]


COMMANDS = ["find", "interpolate", "bench", "tune", "recommend"]
BAD_URLS = {
    "unsupported": ("bogus://x", "unsupported database 'bogus'"),
    "unreachable": (UNREACHABLE, "127.0.0.1"),
    "not a database": (None, "not_a.db"),
}


@pytest.mark.usefixtures("keep_torch_threads")
@pytest.mark.parametrize("kind", list(BAD_URLS))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_db_exits_2_before_any_training(marked: Path, command: str, kind: str) -> None:
    db, needle = BAD_URLS[kind]
    result = invoke(*_command(command, marked, db or url(marked / "not_a.db")))
    error_line(result, needle)
    assert not (marked / "model_built").exists(), f"{command} built the model before the store"
    assert (marked / "not_a.db").read_text() == "these are notes, not a database\n"


@pytest.mark.usefixtures("keep_torch_threads")
@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "recommend"])
def test_a_good_db_trains_the_marked_model(marked: Path, command: str) -> None:
    """The mark is real: with a store that opens, the same command builds the model.

    (``recommend`` trains only for a store holding a similar task: it reads
    the store before it can know whether to run a range test.)
    """
    result = invoke(*_command(command, marked, url(marked / "good.db")))
    assert result.exit_code == 0, result.output
    assert (marked / "model_built").exists()


def test_demo_with_an_out_dir_holding_no_database_exits_2_before_training(tmp_path: Path) -> None:
    (tmp_path / "lrscope.db").write_text("these are notes, not a database\n")
    result = invoke("demo", "--out", str(tmp_path), "--minutes", "0.2", "--workers", "1")
    error_line(result, "lrscope.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lrscope.db"]
