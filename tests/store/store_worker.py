"""A store client in its own OS process, driven by the store tests.

``python store_worker.py bench URL WORKER_ID N_SHARED N_OWN BARRIER``: opens
the store, touches ``ready-WORKER_ID`` next to BARRIER, waits for the file
BARRIER, then claims and finishes the shared keys 0..N_SHARED-1
(racing the other workers for each), N_OWN keys of its own, and one range
test per own key; prints ``{"claimed": [...], "start": t0, "end": t1}``.

``python store_worker.py hold URL SPEC``: claims one key, prints its trial id
and sleeps until killed (the kill -9 tests).

Started with ``store_testlib.subprocess_env()``: lrscope and tests/ on the path.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lrscope.store import Store
from store_testlib import Key, result_dict


def bench(url: str, worker: str, n_shared: int, n_own: int, barrier: Path) -> None:
    with Store.open(url) as store:
        barrier.with_name(f"ready-{worker}").touch()
        while not barrier.exists():
            time.sleep(0.005)
        start = time.time()
        claimed = []
        for i in range(n_shared):
            key = Key("shared", "FIX(k0=0.1)", seed=i)
            trial_id = store.start_trial(key)
            if trial_id is not None:
                claimed.append(i)
                assert store.finish_trial(trial_id, result_dict(key, top1=i / n_shared))
        for i in range(n_own):
            key = Key(f"own-{worker}", "FIX(k0=0.1)", seed=i)
            trial_id = store.start_trial(key)
            assert trial_id is not None
            assert store.finish_trial(trial_id, result_dict(key))
            store.put_range_test(f"own-{worker}", {"lr": [0.1 * i], "worker": worker})
        end = time.time()
    print(json.dumps({"claimed": claimed, "start": start, "end": end}), flush=True)


def hold(url: str, spec: str) -> None:
    store = Store.open(url)
    trial_id = store.start_trial(Key("held", spec, seed=0))
    print(trial_id, flush=True)
    time.sleep(600)


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "bench":
        bench(url, rest[0], int(rest[1]), int(rest[2]), Path(rest[3]))
    elif mode == "hold":
        hold(url, rest[0])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
