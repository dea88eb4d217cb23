"""Read-only stores: a store in a read-only directory is readable, and reading writes nothing.

The commands that only read (``db info``, ``rank``, ``report``, ``db export``)
open the store with ``readonly=True``. Here they run as a user who may not
write the store's file or directory (the tests run as root, whom permissions
do not stop, so the commands run without the capabilities that let root
write anywhere), and must succeed with nothing on stderr: no warning about
claims they cannot release.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from lrscope.errors import StoreError
from lrscope.store import Store
from store_testlib import Key, fill, subprocess_env

_CAPABILITIES = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH (linux/capability.h)
_PR_CAPBSET_DROP = 24


def _as_reader() -> Callable[[], None] | None:
    """Let permissions bind the child even when we are root.

    Root passes permission checks through two capabilities; dropped from the
    child's bounding set, they are gone after its exec, so a 0555 directory
    and a 0444 file stop root as they stop anyone.
    """
    if os.geteuid() != 0:
        return None

    def drop() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in _CAPABILITIES:
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return drop


@pytest.fixture
def locked_store() -> Iterator[tuple[Path, Path]]:
    """A store (WAL mode, closed cleanly) in a read-only directory, and a writable folder."""
    top = Path(tempfile.mkdtemp(prefix="lrscope-readonly-"))
    top.chmod(0o755)
    data, out = top / "data", top / "out"
    data.mkdir()
    out.mkdir()
    out.chmod(0o777)
    path = data / "lab.db"
    with Store.open(f"sqlite:///{path}") as store:
        fill(store)
        store.start_trial(Key("blobs-mlp", "FIX(k0=0.2)", 7))  # left running: released on close
    path.chmod(0o444)
    data.chmod(0o555)
    try:
        yield path, out
    finally:
        data.chmod(0o755)
        shutil.rmtree(top)


def _lrscope(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**subprocess_env(), "MPLCONFIGDIR": str(out)}
    return subprocess.run(
        [sys.executable, "-c", "from lrscope.cli.app import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=out,
        preexec_fn=_as_reader(),
        timeout=300,
        check=False,
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_reading_commands_work_in_a_read_only_directory(locked_store: tuple[Path, Path]) -> None:
    path, out = locked_store
    url = f"sqlite:///{path}"
    before = _snapshot(path.parent)
    commands = {
        "db info": ["db", "info", "--db", url],
        "rank": ["rank", "--task", "blobs-mlp", "--db", url, "--json"],
        "report": ["report", "-o", str(out / "page.html"), "--db", url],
        "db export": ["db", "export", "-o", str(out / "lab.jsonl"), "--db", url],
    }
    for name, command in commands.items():
        result = _lrscope(*command, out=out)
        assert result.returncode == 0, (name, result.stderr)
        assert result.stderr == "", (name, result.stderr)
    assert _snapshot(path.parent) == before  # not a byte written, no -wal or -shm file
    assert (out / "page.html").stat().st_size > 10_000
    assert "blobs-mlp" in (out / "lab.jsonl").read_text()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o555


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    with Store.open(url) as store:
        fill(store)
    with Store.open(url, readonly=True) as store:
        assert store.readonly
        writes: list[Callable[[], object]] = [
            lambda: store.put_task("new"),
            lambda: store.start_trial(Key("blobs-mlp", "FIX(k0=0.3)", 0)),
            lambda: store.put_range_test("blobs-mlp", {"lr": [0.1]}),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="is opened read-only"):
                write()
        assert len(store.trials()) == 6


def test_a_read_only_session_cannot_write_even_by_mistake(db_url: str) -> None:
    with Store.open(db_url) as store:
        fill(store)
    with Store.open(db_url, readonly=True) as store:
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            store._db.run(
                lambda s: s.execute(text("DELETE FROM trials")), write=False, what="write to"
            )
        assert len(store.trials()) == 6


def test_opening_read_only_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no database file at"):
        Store.open(f"sqlite:///{path}", readonly=True)
    assert list(tmp_path.iterdir()) == []


def test_closing_a_store_that_claimed_nothing_writes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "lab.db"
    with Store.open(f"sqlite:///{path}") as store:
        fill(store)
    store = Store.open(f"sqlite:///{path}", busy_timeout_s=0.05, retry_s=0.5)
    assert store.info().counts["trials"] == 6
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # any write of close() would wait, then warn
    try:
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="lrscope.store"):
            store.close()
        assert time.monotonic() - started < 0.2
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "could not release" not in caplog.text
