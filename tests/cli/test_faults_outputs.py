"""Output paths (issue 16, A and C): every option that writes is checked before any work.

Each output option meets each unfit path: a directory where a file goes, a
path under a file, a place this process cannot write to, an unknown image
suffix, the results database, and an existing file of another kind. Every
time: exit 2, one line naming the option, no training started (the slow
task's marker file never appears), the store's rows unchanged, the other
file's bytes unchanged. Outputs do replace files of their own kind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from fault_testlib import error_line, fault_task, invoke, table_rows, url

pytestmark = pytest.mark.usefixtures("keep_torch_threads")

SLOW = fault_task("make_slow")

Command = Callable[[Path, Path], list[str]]
"""The arguments of a command writing to ``out``, with the store folder ``stored``."""


def _report(out: Path, stored: Path) -> list[str]:
    return ["report", "--db", url(stored / "lrscope.db"), "-o", str(out)]


def _policies_plot(out: Path, stored: Path) -> list[str]:
    return ["policies", "plot", "FIX(k0=0.1)", "-o", str(out)]


def _find_plot(out: Path, stored: Path) -> list[str]:
    return ["find", "--task", SLOW, "--steps", "20", "--db", url(stored / "lrscope.db"),
            "--plot", str(out)]  # fmt: skip


def _interpolate_plot(out: Path, stored: Path) -> list[str]:
    return ["interpolate", "--task", SLOW, "--from", str(stored / "a.pt"), "--to",
            str(stored / "b.pt"), "--points", "3", "--db", url(stored / "lrscope.db"),
            "--plot", str(out)]  # fmt: skip


def _train(option: str) -> Command:
    def command(out: Path, stored: Path) -> list[str]:
        extra = ["--snapshot-every", "5"] if option == "--snapshot-dir" else []
        return ["train", "--task", SLOW, "--policy", "FIX(k0=0.1)", "--steps", "10",
                *extra, option, str(out)]  # fmt: skip

    return command


def _demo(out: Path, stored: Path) -> list[str]:
    return ["demo", "--out", str(out), "--minutes", "0.1"]


IMAGES = {"policies plot -o": _policies_plot, "find --plot": _find_plot,
          "interpolate --plot": _interpolate_plot}  # fmt: skip
FILES: dict[str, tuple[Command, str]] = {
    "report -o": (_report, ".html"),
    **{name: (command, ".png") for name, command in IMAGES.items()},
    "train --save-weights": (_train("--save-weights"), ".pt"),
    "train --checkpoint": (_train("--checkpoint"), ".pt"),
}
DIRECTORIES: dict[str, Command] = {"train --snapshot-dir": _train("--snapshot-dir"),
                                   "demo --out": _demo}  # fmt: skip


def _refused(command: Command, out: Path, stored: Path, *needles: str) -> str:
    """Run ``command`` on ``out``: refused in one line, nothing trained, the store as it was."""
    marker = stored / "trained"
    before = table_rows(stored / "lrscope.db")
    result = invoke(*command(out, stored), env={"LRSCOPE_TEST_MARKER": str(marker)})
    line = error_line(result, *needles)
    assert not marker.exists(), "the command trained before it checked its output"
    assert table_rows(stored / "lrscope.db") == before
    return line


@pytest.mark.parametrize("name", FILES)
def test_a_directory_is_not_a_file(name: str, stored: Path) -> None:
    command, suffix = FILES[name]
    folder = stored / f"folder{suffix}"
    folder.mkdir()
    _refused(command, folder, stored, "it is a directory")


@pytest.mark.parametrize("name", [*FILES, *DIRECTORIES])
def test_a_path_under_a_file(name: str, stored: Path) -> None:
    command, suffix = FILES.get(name, (DIRECTORIES.get(name), ""))
    assert command is not None
    _refused(command, stored / "a.pt" / f"out{suffix}", stored, "is a file, not a directory")


@pytest.mark.parametrize("name", [*FILES, *DIRECTORIES])
def test_a_place_that_cannot_be_written(name: str, stored: Path, unwritable: Path) -> None:
    command, suffix = FILES.get(name, (DIRECTORIES.get(name), ""))
    assert command is not None
    _refused(command, unwritable / f"out{suffix}", stored, "cannot create files in")


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("suffix", [".bmp", ".gif", ".html", ""])
def test_an_unknown_image_suffix(name: str, suffix: str, stored: Path) -> None:
    line = _refused(IMAGES[name], stored / f"figure{suffix}", stored, "must be a path ending in")
    assert ".png" in line
    assert ".svg" in line


@pytest.mark.parametrize("name", FILES)
def test_an_unrelated_file_is_never_replaced(name: str, stored: Path) -> None:
    command, suffix = FILES[name]
    other = stored / f"notes{suffix}"
    other.write_bytes(b"<html><body>my own notes, not written by lrscope</body></html>\n")
    before = other.read_bytes()
    _refused(command, other, stored, "the file exists and is not")
    assert other.read_bytes() == before


@pytest.mark.parametrize("name", FILES)
def test_a_sqlite_file_is_never_replaced(name: str, stored: Path) -> None:
    command, suffix = FILES[name]
    other = stored / f"other{suffix}"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    _refused(command, other, stored, "SQLite database")
    assert other.read_bytes() == before


@pytest.mark.parametrize(
    "command", [_report, _train("--save-weights"), _train("--checkpoint")],
    ids=["report -o", "train --save-weights", "train --checkpoint"],
)  # fmt: skip
def test_the_store_is_never_an_output(command: Command, stored: Path) -> None:
    db = stored / "lrscope.db"
    before = db.read_bytes()
    _refused(command, db, stored, "lrscope.db")
    assert db.read_bytes() == before


@pytest.mark.parametrize("name", ["find --plot", "interpolate --plot"])
def test_a_plot_never_replaces_the_store_it_is_about_to_create(name: str, stored: Path) -> None:
    """The store file does not exist yet (``--db`` names a new one): still refused."""
    out = stored / "new-store.png"
    args = IMAGES[name](out, stored)
    args[args.index("--db") + 1] = url(out)
    result = invoke(*args, env={"LRSCOPE_TEST_MARKER": str(stored / "trained")})
    error_line(result, "it is the results database (--db)")
    assert not out.exists()


@pytest.mark.parametrize("name", DIRECTORIES)
def test_a_file_is_not_a_directory(name: str, stored: Path) -> None:
    _refused(DIRECTORIES[name], stored / "a.pt", stored, "it is a file, not a directory")


@pytest.mark.parametrize("existing", ["report.html", "range_test.png", "policies.png"])
def test_demo_never_replaces_a_file_of_another_kind(existing: str, stored: Path) -> None:
    out = stored / "demo"
    out.mkdir()
    (out / existing).write_text("mine")
    _refused(_demo, out, stored, existing, "the file exists and is not")
    assert (out / existing).read_text() == "mine"


# --- what may be replaced ------------------------------------------------------


def test_a_report_replaces_an_earlier_report(stored: Path) -> None:
    out = stored / "report.html"
    assert invoke(*_report(out, stored)).exit_code == 0
    first = out.read_text(encoding="utf-8")
    assert '<meta name="generator" content="lrscope' in first
    result = invoke(*_report(out, stored))
    assert result.exit_code == 0, result.output
    # a report written before the generator tag: recognised by its footer
    out.write_text(first.replace('<meta name="generator"', "<meta"), encoding="utf-8")
    assert invoke(*_report(out, stored)).exit_code == 0
    assert '<meta name="generator"' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_an_image_replaces_an_image_of_its_format(suffix: str, stored: Path) -> None:
    out = stored / f"figure{suffix}"
    for _ in range(2):
        result = invoke(*_policies_plot(out, stored))
        assert result.exit_code == 0, result.output
    assert not list(stored.glob(".figure*")), "a temporary file was left behind"


def test_an_image_of_another_format_is_not_replaced(stored: Path) -> None:
    assert invoke(*_policies_plot(stored / "figure.svg", stored)).exit_code == 0
    (stored / "figure.svg").rename(stored / "figure.png")  # SVG text under a .png name
    _refused(_policies_plot, stored / "figure.png", stored, "is not an image")


def test_weights_replace_a_torch_file_and_an_empty_file(stored: Path) -> None:
    legacy = stored / "legacy.pt"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    empty = stored / "empty.pt"
    empty.touch()
    for target in (stored / "a.pt", legacy, empty):
        args = ["train", "--task", fault_task("make_good"), "--policy", "FIX(k0=0.1)",
                "--steps", "5", "--save-weights", str(target), "--json"]  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 0, (target, result.output)
        assert set(torch.load(target, weights_only=True)) == {"weight", "bias"}


def test_missing_directories_are_created(stored: Path) -> None:
    out = stored / "new" / "deeper" / "report.html"
    assert invoke(*_report(out, stored)).exit_code == 0
    assert out.is_file()


def test_the_marker_shows_when_a_run_trains(stored: Path) -> None:
    """The control of ``_refused``: a run that trains does leave the marker."""
    marker = stored / "trained"
    out = stored / "w.pt"
    result = invoke(
        *_train("--save-weights")(out, stored), env={"LRSCOPE_TEST_MARKER": str(marker)}
    )
    assert result.exit_code == 0, result.output
    assert marker.exists()
    assert out.is_file()


def test_snapshots_never_replace_a_file_of_another_kind(stored: Path) -> None:
    folder = stored / "snapshots"
    folder.mkdir()
    (folder / "step_000005.pt").write_text("my notes")
    _refused(_train("--snapshot-dir"), folder, stored, "step_000005.pt", "is not a torch file")
    assert (folder / "step_000005.pt").read_text() == "my notes"
    (folder / "step_000005.pt").unlink()
    torch.save({"w": torch.zeros(1)}, folder / "step_000010.pt")  # an earlier snapshot: replaced
    args = ["train", "--task", fault_task("make_good"), "--policy", "FIX(k0=0.1)", "--steps",
            "10", "--snapshot-every", "5", "--snapshot-dir", str(folder)]  # fmt: skip
    assert invoke(*args).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["step_000005.pt", "step_000010.pt"]
