"""The ray executor's connection and error texts, without starting a Ray.

An unreachable ``--ray-address`` fails in bounded time with one line naming
it: the address is a local port that is bound but does not listen, so every
connection is refused, and the timeout is short. (``test_ray.py`` runs
trials on a local Ray.)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.bench import Execution, Plan, make_executor, run_plan
from lrscope.bench.ray_executor import ray_failure_text, wait_for_address
from lrscope.cli.app import app
from lrscope.errors import PlanError
from lrscope.store import Store

TINY = f"{Path(__file__).resolve().with_name('tiny_task.py')}:make_task"

pytest.importorskip("ray", reason="the ray executor is the 'ray' extra")


@pytest.fixture
def dead_address() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a bound socket that never listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


def test_waiting_for_a_dead_address_gives_up_after_the_timeout(dead_address: str) -> None:
    start = time.monotonic()
    with pytest.raises(PlanError) as info:
        wait_for_address(dead_address, 1.5)
    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 5.0
    message = str(info.value)
    assert f"cannot reach the Ray cluster at {dead_address!r}" in message
    assert "within 1.5 s" in message
    assert "\n" not in message


def test_a_listening_address_is_accepted_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        start = time.monotonic()
        wait_for_address(f"127.0.0.1:{server.getsockname()[1]}", 10.0)
        assert time.monotonic() - start < 2.0


def test_run_plan_fails_before_any_trial_runs(tmp_path: Path, dead_address: str) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    execution = Execution("ray", ray_address=dead_address, ray_timeout_s=1.0)
    with Store.open(url) as store:
        with pytest.raises(PlanError, match="cannot reach the Ray cluster"):
            run_plan(Plan(TINY, ["FIX(k0=0.05)"], steps=10), store, execution)
        assert store.trials() == []
    with pytest.raises(PlanError, match=dead_address):
        make_executor(execution)


def test_cli_bench_exits_2_with_one_line_naming_the_address(
    tmp_path: Path, dead_address: str
) -> None:
    args = ["bench", "--task", TINY, "--policy", "FIX(k0=0.05)", "--steps", "10"]
    args += ["--executor", "ray", "--ray-address", dead_address, "--ray-timeout", "1"]
    start = time.monotonic()
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert time.monotonic() - start < 30.0
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert dead_address in result.stderr
    assert "Traceback" not in result.output


def test_a_lost_group_is_stored_with_its_root_cause_first() -> None:
    ray_text = (
        "\x1b[36mray::execute_group()\x1b[39m (pid=1488, ip=192.0.2.2)\n"
        "RuntimeError: The remote function failed to import on the worker. ...\n\n"
        "    function = pickle.loads(serialized_function)\n"
        "ModuleNotFoundError: No module named 'lrscope.bench.worker'"
    )
    text = ray_failure_text(RuntimeError(ray_text))
    first, _, rest = text.partition("\n")
    assert first == (
        "RuntimeError: ModuleNotFoundError: No module named 'lrscope.bench.worker' "
        "(the Ray workers cannot import this lrscope: install it on every node)"
    )
    assert "\x1b" not in text
    assert "ray::execute_group() (pid=1488" in rest
    assert ray_failure_text(ValueError("lost node")) == "ValueError: lost node"
    assert len(ray_failure_text(RuntimeError("x\n" * 5000))) == 4000
