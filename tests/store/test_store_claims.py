"""The claim protocol: one row per key, skips, re-claims after failure, death or lease."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from lrscope.store import Store
from store_testlib import Key, result_dict, subprocess_env, worker_command

KEY = Key("mnist1d-cnn", "FIX(k0=0.1)", seed=0)


def test_a_finished_key_is_never_claimed_again(store: Store) -> None:
    trial_id = store.start_trial(KEY)
    assert trial_id is not None
    assert store.start_trial(KEY) is None  # running, owned by this very store
    assert store.finish_trial(trial_id, result_dict(KEY, top1=0.5))
    assert store.start_trial(KEY) is None
    with Store.open(store_url(store)) as other:
        assert other.start_trial(KEY) is None
    assert store.finish_trial(trial_id, result_dict(KEY, top1=0.9)) is False
    assert store.fail_trial(trial_id, "late failure") is False
    (record,) = store.trials()
    assert (record.status, record.top1, record.attempts) == ("done", 0.5, 1)


def test_a_live_claim_of_another_store_is_skipped(db_url: str) -> None:
    with Store.open(db_url) as first, Store.open(db_url) as second:
        assert first.start_trial(KEY) is not None
        assert second.start_trial(KEY) is None  # same host, live pid, fresh heartbeat
        assert second.info().stale_running == 0


def test_a_failed_trial_is_claimed_again_in_the_same_row(store: Store) -> None:
    trial_id = store.start_trial(KEY)
    assert trial_id is not None
    assert store.fail_trial(trial_id, "CUDA error") is True
    (failed,) = store.trials()
    assert (failed.status, failed.error) == ("failed", "CUDA error")
    assert store.done_keys() == set()
    assert store.start_trial(KEY) == trial_id
    (again,) = store.trials()
    assert (again.status, again.error, again.attempts) == ("running", None, 2)
    assert store.finish_trial(trial_id, result_dict(KEY))
    assert store.info().counts["trials"] == 1


def test_an_expired_lease_is_taken_over_and_the_first_result_wins(db_url: str) -> None:
    with Store.open(db_url) as slow, Store.open(db_url, lease_s=1.0) as fast:
        trial_id = slow.start_trial(KEY)
        assert trial_id is not None
        assert fast.start_trial(KEY) is None
        time.sleep(1.2)  # no heartbeat for longer than fast's lease
        assert fast.info().stale_running == 1
        assert fast.start_trial(KEY) == trial_id
        assert fast.finish_trial(trial_id, result_dict(KEY, top1=0.75)) is True
        assert slow.finish_trial(trial_id, result_dict(KEY, top1=0.25)) is False
        (record,) = fast.trials()
        assert (record.status, record.top1, record.attempts) == ("done", 0.75, 2)


def test_heartbeats_keep_a_claim_alive(db_url: str) -> None:
    # generous margins: a loaded CI machine may stall a few hundred ms
    with Store.open(db_url, lease_s=1.2) as owner, Store.open(db_url, lease_s=1.2) as other:
        trial_id = owner.start_trial(KEY)
        assert trial_id is not None
        for _ in range(4):  # 1.4 s in all, longer than the lease
            time.sleep(0.35)
            assert owner.heartbeat(trial_id) is True  # interval: lease / 4 = 0.3 s
            assert other.start_trial(KEY) is None
        assert owner.heartbeat(trial_id) is False  # throttled: just wrote
        time.sleep(1.5)
        assert other.start_trial(KEY) == trial_id


def test_without_lease_only_dead_owners_are_taken_over(db_url: str) -> None:
    with Store.open(db_url) as owner, Store.open(db_url, lease_s=None) as other:
        assert owner.start_trial(KEY) is not None
        time.sleep(0.05)
        assert other.start_trial(KEY) is None


def test_closing_a_store_releases_its_running_claims(db_url: str) -> None:
    owner = Store.open(db_url)
    kept = Key("mnist1d-cnn", "FIX(k0=0.1)", seed=1)
    trial_id = owner.start_trial(KEY)
    done_id = owner.start_trial(kept)
    assert trial_id is not None
    assert done_id is not None
    owner.finish_trial(done_id, result_dict(kept))
    owner.close()
    owner.close()  # idempotent
    with Store.open(db_url) as other:
        (released,) = other.trials(status="failed")
        assert released.id == trial_id
        assert "released" in (released.error or "")
        assert other.start_trial(KEY) == trial_id
        assert other.start_trial(kept) is None


def test_a_killed_owner_is_taken_over_at_once(db_url: str) -> None:
    held = Key("held", "FIX(k0=0.1)", seed=0)
    holder = subprocess.Popen(
        worker_command("hold", db_url, held.spec),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.strip().isdigit(), holder.stderr.read() if holder.stderr else line
        trial_id = int(line)
        with Store.open(db_url) as store:
            assert store.start_trial(held) is None  # its owner is alive
            (running,) = store.trials(status="running")
            assert running.pid == holder.pid
            assert running.host is not None
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
            assert store.info().stale_running == 1
            assert store.start_trial(held) == trial_id  # dead pid on this host: re-claimed
            (claimed,) = store.trials()
            assert (claimed.status, claimed.pid, claimed.attempts) == ("running", os.getpid(), 2)
            assert store.finish_trial(trial_id, result_dict(held))
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)


def test_a_zombie_owner_counts_as_dead(db_url: str) -> None:
    held = Key("held", "FIX(k0=0.1)", seed=0)
    holder = subprocess.Popen(
        worker_command("hold", db_url, held.spec),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        trial_id = int(holder.stdout.readline())
        os.kill(holder.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _state(holder.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)  # killed but not reaped yet: a zombie keeps its pid
        assert _state(holder.pid) == "Z"
        with Store.open(db_url) as store:
            assert store.start_trial(held) == trial_id
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def store_url(store: Store) -> str:
    """The full URL of ``store`` (its public ``url`` hides the password)."""
    return store._db.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_lease_must_be_positive(bad: float) -> None:
    from lrscope.errors import StoreError

    with pytest.raises(StoreError, match="lease_s must be a positive number"):
        Store.open("sqlite://", lease_s=bad)
