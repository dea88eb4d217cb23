"""How tune's trials run: in groups by default, one at a time where they cannot be.

``tune(executor="batched")`` used to pass the up-front check and then fail
with PlanError after the range test and the cheap trials; an Execution is now
validated when it is built and the executor is made before any training.
What the search samples does not depend on how its trials run (rounds of
``round_size`` points, whatever the group size), so grouped and one-at-a-time
runs store the same trials as long as their measured values agree (they do on
this task: its accuracies count 64 test samples).
"""

from __future__ import annotations

import json
import logging
import math
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.bench import Execution, default_workers
from lrscope.cli.app import app
from lrscope.errors import ParameterError, PlanError
from lrscope.store import Store
from lrscope.tasks import get_task
from lrscope.tune import tune
from lrscope.tune.pipeline import DEFAULT_EXECUTION
from trial_testlib import EXACT_FIELDS, stored_trials

HERE = Path(__file__).resolve().parent
BN = f"{HERE / 'test_tune_execution.py'}:make_bn_mlp"
STEPS = 48


def make_bn_mlp() -> object:
    """``blobs4-mlp`` with a BatchNorm layer: its trials cannot be batched."""
    from torch import nn

    task = get_task(f"{HERE / 'tune_tasks.py'}:make_mlp")
    task.name = "blobs4-mlp-bn"
    task.model = lambda: nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.Linear(32, 4))
    return task


def _tune(url: str, task: str, execution: Execution, events: list[tuple[str, str]]) -> object:
    with Store.open(url) as store:
        return tune(
            task,
            store,
            steps=STEPS,
            trials=16,
            execution=execution,
            on_event=lambda stage, message: events.append((stage, message)),
        )


def test_grouped_full_trials_store_what_one_at_a_time_stores(tmp_path: Path, mlp_ref: str) -> None:
    alone, grouped = (f"sqlite:///{tmp_path / n}.db" for n in ("alone", "grouped"))
    events: list[tuple[str, str]] = []
    _tune(alone, mlp_ref, Execution("local"), [])
    result = _tune(grouped, mlp_ref, Execution("batched"), events)
    # one round of 16 points: one group on the one local worker
    assert ("execution", "trials on local, groups of 16") in events
    assert not [e for e in events if e[1].startswith("not in groups")]
    assert result.winner_spec  # type: ignore[attr-defined]
    # the same identities, statuses and accuracies (what steers the search); the floats of a
    # grouped trial differ from a lone one's in their last digits (bmm against mm: see
    # trial_testlib), a little more after a one-cycle peak near divergence
    got, expected = stored_trials(grouped, "blobs4-mlp"), stored_trials(alone, "blobs4-mlp")
    assert set(got) == set(expected)
    for key, row in expected.items():
        assert {f: got[key][f] for f in EXACT_FIELDS} == {f: row[f] for f in EXACT_FIELDS}, key


def test_a_model_that_cannot_be_batched_falls_back_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[tuple[str, str]] = []
    url = f"sqlite:///{tmp_path / 'bn.db'}"
    with caplog.at_level(logging.INFO, logger="lrscope.bench"):
        _tune(url, BN, Execution("local", batch_trials="auto"), events)
    (record,) = [r for r in caplog.records if "not in groups" in r.getMessage()]
    assert record.name == "lrscope.bench"
    assert "blobs4-mlp-bn" in record.getMessage()
    assert "buffers" in record.getMessage()
    assert ("execution", "trials on local, one trial at a time") in events
    (note,) = [m for stage, m in events if m.startswith("not in groups")]
    assert "blobs4-mlp-bn" in note
    full = [t for t in stored_trials(url, "blobs4-mlp-bn").values() if t["steps_done"] > 0]
    assert full
    assert {t["status"] for t in full} <= {"done", "diverged", "pruned"}


def test_an_unreachable_ray_address_fails_before_any_training(tmp_path: Path, mlp_ref: str) -> None:
    pytest.importorskip("ray", reason="the ray executor is the 'ray' extra")
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{held.getsockname()[1]}"
        execution = Execution("ray", ray_address=address, ray_timeout_s=1.0)
        url = f"sqlite:///{tmp_path / 'ray.db'}"
        with pytest.raises(PlanError, match=address):
            _tune(url, mlp_ref, execution, [])
    with Store.open(url) as store:
        assert store.trials() == []
        assert store.range_tests() == []


def test_tune_refuses_an_execution_that_is_not_one(tmp_path: Path, mlp_ref: str) -> None:
    with pytest.raises(ParameterError, match="'execution' parameter of tune"):
        _tune(f"sqlite:///{tmp_path / 'x.db'}", mlp_ref, "batched", [])  # type: ignore[arg-type]


def _cli_tune(tmp_path: Path, mlp_ref: str, *options: str, runs_on: str) -> None:
    """``lrscope tune`` with ``options`` completes, its trials stored, run as ``runs_on``."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["tune", "--task", mlp_ref, "--steps", str(STEPS), "--trials", "4", "--round-size", "4"]
    result = CliRunner().invoke(app, [*args, *options, "--db", db], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"execution: trials on {runs_on}" in result.stderr
    assert "winner " in result.stdout
    with Store.open(db) as store:
        confirmed = [t for t in store.trials() if t.steps == STEPS and t.eval_every != STEPS]
    assert len(confirmed) == (3 + 1) * 3  # 3 finalists (4 points, FIX left out) and FIX, 3 seeds
    assert {t.status for t in confirmed} <= {"done", "diverged"}


def test_cli_tune_with_the_batched_executor_completes(tmp_path: Path, mlp_ref: str) -> None:
    _cli_tune(tmp_path, mlp_ref, "--executor", "batched", runs_on="local, groups of 4")


def test_cli_tune_json_reports_the_winner(tmp_path: Path, mlp_ref: str) -> None:
    db = f"sqlite:///{tmp_path / 'json.db'}"
    args = ["tune", "--task", mlp_ref, "--steps", str(STEPS), "--trials", "4"]
    result = CliRunner().invoke(app, [*args, "--executor", "local", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout)["winner_spec"], str)


@pytest.mark.slow
def test_cli_tune_defaults_to_groups_on_worker_processes(tmp_path: Path, mlp_ref: str) -> None:
    workers = default_workers()
    groups = f"groups of {math.ceil(4 / workers)}" if workers < 4 else "one trial at a time"
    _cli_tune(tmp_path, mlp_ref, runs_on=f"process x{workers}, {groups}")
    assert DEFAULT_EXECUTION.resolve(trials=4) == (workers, math.ceil(4 / workers))
    # the default round of 16 points: one group per worker
    assert DEFAULT_EXECUTION.resolve(trials=16) == (workers, math.ceil(16 / workers))


@pytest.mark.slow
def test_cli_tune_with_process_workers_and_batch_trials_completes(
    tmp_path: Path, mlp_ref: str
) -> None:
    options = ("--executor", "process", "--workers", "2", "--batch-trials", "2")
    _cli_tune(tmp_path, mlp_ref, *options, runs_on="process x2, groups of 2")


@pytest.mark.ray
@pytest.mark.slow
def test_cli_tune_on_ray_with_groups_completes(tmp_path: Path, mlp_ref: str) -> None:
    import ray

    options = ("--executor", "ray", "--workers", "2", "--batch-trials", "2")
    _cli_tune(tmp_path, mlp_ref, *options, runs_on="ray x2, groups of 2")
    assert not ray.is_initialized(), "tune must shut down the Ray it started"
