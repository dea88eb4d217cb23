"""A trial's runtime is part of its key: fp32 and bf16 runs of one trial are two trials."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lrscope.errors import StoreError
from lrscope.store import Store
from lrscope.store.exchange import export_store, import_file
from store_testlib import result_dict, store_v1_copy


@dataclass(frozen=True)
class RuntimeKey:
    """A trial key with a runtime (TrialKey's fields, read by name)."""

    task: str
    spec: str
    seed: int
    steps: int = 100
    eval_every: int = 50
    runtime: str = ""


FP32 = RuntimeKey("t", "FIX(k0=0.1)", 0)
BF16 = RuntimeKey("t", "FIX(k0=0.1)", 0, runtime="bf16")
ACCUMULATED = RuntimeKey("t", "FIX(k0=0.1)", 0, runtime="bf16,accum=4")


def _finish(store: Store, key: RuntimeKey, top1: float) -> None:
    trial_id = store.start_trial(key)
    assert trial_id is not None
    assert store.finish_trial(trial_id, {**result_dict(key, top1), "runtime": key.runtime})  # type: ignore[arg-type]


def test_the_runtimes_of_one_trial_are_stored_side_by_side(store: Store) -> None:
    for key, top1 in ((FP32, 0.5), (BF16, 0.6), (ACCUMULATED, 0.7)):
        _finish(store, key, top1)
    assert store.start_trial(BF16) is None  # finished: never run twice
    records = {r.runtime: r for r in store.trials("t")}
    assert {k: r.top1 for k, r in records.items()} == {"": 0.5, "bf16": 0.6, "bf16,accum=4": 0.7}
    assert {k.runtime for k in store.done_keys("t")} == {"", "bf16", "bf16,accum=4"}
    assert records["bf16"].to_result().runtime == "bf16"
    assert records["bf16"].key.runtime == "bf16"


def test_a_result_must_be_the_claimed_runtimes(store: Store) -> None:
    trial_id = store.start_trial(BF16)
    assert trial_id is not None
    with pytest.raises(StoreError, match="runtime"):
        store.finish_trial(trial_id, {**result_dict(BF16), "runtime": ""})  # type: ignore[arg-type]


def test_a_key_with_a_runtime_that_is_no_runtime_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match=r"a runtime's identity .* got 'fp64'"):
        store.start_trial(RuntimeKey("t", "FIX(k0=0.1)", 0, runtime="fp64"))


def test_runtimes_survive_an_export_and_an_import(store: Store, tmp_path: Path) -> None:
    _finish(store, FP32, 0.5)
    _finish(store, BF16, 0.6)
    path = tmp_path / "runs.jsonl"
    export_store(store, path)
    lines = [json.loads(line) for line in path.read_text().split("\n") if line]
    assert lines[0]["format_version"] == 2
    assert sorted(line["runtime"] for line in lines if line["type"] == "trial") == ["", "bf16"]
    with Store.open(f"sqlite:///{tmp_path / 'other.db'}") as other:
        summary = import_file(other, path)
        assert summary.added["trial"] == 2
        assert {r.runtime: r.top1 for r in other.trials("t")} == {"": 0.5, "bf16": 0.6}


def test_a_version_1_export_reads_as_fp32_trials(store: Store, tmp_path: Path) -> None:
    _finish(store, FP32, 0.5)
    path = tmp_path / "v1.jsonl"
    export_store(store, path)
    old = []
    for line in path.read_text().split("\n"):
        if not line:
            continue
        record = json.loads(line)
        if record["type"] == "header":
            record["format_version"] = 1
        record.pop("runtime", None)
        old.append(json.dumps(record))
    path.write_text("\n".join(old) + "\n")
    with Store.open(f"sqlite:///{tmp_path / 'other.db'}") as other:
        import_file(other, path)
        (record,) = other.trials("t")
        assert record.runtime == ""


def test_the_store_of_lrscope_0_1_takes_runtimes_after_its_upgrade(tmp_path: Path) -> None:
    url = store_v1_copy(tmp_path)
    with Store.open(url) as store:
        old = [r for r in store.trials("digits-mlp") if r.finished]
        assert {r.runtime for r in old} == {""}
        first = old[0]
        twin = RuntimeKey(first.task, first.spec, first.seed, first.steps, first.eval_every, "bf16")
        _finish(store, twin, 0.25)
        where = (first.seed, first.steps, first.eval_every)
        same = store.trials("digits-mlp", spec=first.spec)
        both = [r for r in same if (r.seed, r.steps, r.eval_every) == where]
        assert sorted(r.runtime for r in both) == ["", "bf16"]
