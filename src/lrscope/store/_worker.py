"""Who holds a trial claim, and whether that holder is provably dead.

A claim records the claimer's host name, the kernel boot id, the process id
and the process start time (clock ticks since boot, field 22 of
``/proc/PID/stat``). On the same host and boot, a claim whose process no
longer exists, is a zombie, or is a different process that reused the pid
(other start time) is provably dead: it was killed (``kill -9``), crashed or
exited without finishing. A claim from another boot of this host is dead too.
Claims from other hosts cannot be checked here; the lease (heartbeat age)
decides for them.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Worker", "current_worker", "is_dead", "process_start_ticks"]

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Worker:
    """The identity a claim is stored with.

    ``token`` is random per :class:`~lrscope.store.Store` and process: it tells
    this store's claims from any other's, even in the same process.
    """

    token: str
    host: str
    boot_id: str | None
    pid: int
    pid_start: int | None

    @property
    def label(self) -> str:
        """``host:pid``, for messages."""
        return f"{self.host}:{self.pid}"


def _boot_id() -> str | None:
    try:
        return _BOOT_ID_PATH.read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/PID/stat`` (after the command name), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    end = text.rfind(")")
    if end < 0:
        return None
    return text[end + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), else None."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def current_worker() -> Worker:
    """The identity of this process, with a fresh random token."""
    pid = os.getpid()
    return Worker(
        token=uuid.uuid4().hex,
        host=socket.gethostname(),
        boot_id=_boot_id(),
        pid=pid,
        pid_start=process_start_ticks(pid),
    )


def _pid_state(pid: int) -> str:
    """``"alive"``, ``"dead"`` or ``"unknown"`` for a process on this host."""
    if os.name != "posix":
        return "unknown"  # os.kill(pid, 0) is not a probe on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return "unknown"
    fields = _stat_fields(pid)
    if fields is not None and fields and fields[0] in ("Z", "X"):
        return "dead"  # killed, waiting to be reaped
    return "alive"


def is_dead(
    host: str | None,
    boot_id: str | None,
    pid: int | None,
    pid_start: int | None,
    me: Worker,
) -> bool:
    """Whether the holder of a claim is provably dead, seen from ``me``.

    False means alive *or* unknown (another host, no pid, not Linux).
    """
    if host is None or pid is None or host != me.host:
        return False
    if boot_id is not None and me.boot_id is not None and boot_id != me.boot_id:
        return True
    if pid == me.pid and pid_start == me.pid_start:
        return False
    state = _pid_state(pid)
    if state != "alive":
        return state == "dead"
    if pid_start is None:
        return False
    now_start = process_start_ticks(pid)
    return now_start is not None and now_start != pid_start
