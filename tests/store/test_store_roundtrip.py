"""What goes into the store comes back out: tasks, trials (NaN too), range tests."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import timezone

import pytest

from lrscope.errors import StoreError
from lrscope.store import Store, task_fingerprint
from store_testlib import Key, result_dict, subprocess_env


@dataclass(frozen=True)
class _Meta:
    """Stands in for TaskMetadata: anything with to_dict() is stored as its dict."""

    dataset: str

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "input_shape": (1, 40), "extra": {}}


def test_new_database_is_empty_and_reports_schema(store: Store) -> None:
    info = store.info()
    assert (info.schema_version, info.supported_schema_version) == (3, 3)
    assert info.dialect == store.dialect
    assert set(info.counts.values()) == {0}
    assert set(info.imported.values()) == {0}
    assert info.trials_by_status == {
        "running": 0,
        "done": 0,
        "diverged": 0,
        "pruned": 0,
        "failed": 0,
    }
    assert store.tasks() == []
    assert store.trials() == []


def test_put_task_stores_metadata_and_its_fingerprint(store: Store) -> None:
    store.put_task("mnist1d-cnn", _Meta("mnist1d"))
    store.put_task("digits-mlp")
    (first, second) = store.tasks()
    assert first.name == "digits-mlp"
    assert (first.metadata, first.fingerprint) == (None, None)
    assert second.metadata == {"dataset": "mnist1d", "input_shape": [1, 40], "extra": {}}
    assert second.fingerprint == task_fingerprint(second.metadata)
    store.put_task("mnist1d-cnn")  # no metadata: the stored one stays
    store.put_task("digits-mlp", {"dataset": "digits"})  # a task without metadata takes it
    assert [t.metadata for t in store.tasks()] == [
        {"dataset": "digits"},
        {"dataset": "mnist1d", "input_shape": [1, 40], "extra": {}},
    ]
    assert store.info().counts["tasks"] == 2


def test_trial_result_round_trip_keeps_nan_and_curve(store: Store) -> None:
    from lrscope.engine.result import EvalPoint, TrialKey, TrialResult

    nan = float("nan")
    result = TrialResult(
        task="mnist1d-cnn", spec="TRI2(k0=0.001, k1=0.006, l=20)", seed=3, steps=40,
        eval_every=20, top1=0.625, top5=0.9375, best_top1=0.65625, best_iter=20, ac=nan,
        cd=nan, cdac=0.1, ld=-0.25, n_params=3, wall_s=1.5, steps_done=40, diverged=False,
        curve=(
            EvalPoint(0, 0.001, 2.3, 2.31, 0.1, 0.5),
            EvalPoint(20, 0.006, nan, 1.2, 0.65625, 0.9),
            EvalPoint(40, 0.001, 0.9, nan, 0.625, 0.9375),
        ),
    )  # fmt: skip
    trial_id = store.start_trial(result.key)
    assert isinstance(trial_id, int)
    assert store.finish_trial(trial_id, result) is True

    (record,) = store.trials()
    assert record.id == trial_id
    assert record.status == "done"
    assert record.error is None
    assert record.key == result.key
    assert isinstance(record.key, TrialKey)
    assert math.isnan(record.ac)
    assert math.isnan(record.cd)
    assert record.cdac == 0.1
    assert record.library_version == "0.1.0"
    assert record.attempts == 1
    assert record.finished_at is not None
    assert record.finished_at.tzinfo == timezone.utc
    back = record.to_result()
    assert back.summary().keys() == result.summary().keys()
    for name, value in result.summary().items():
        stored = back.summary()[name]
        assert stored == value or (math.isnan(stored) and math.isnan(value)), name
    assert len(back.curve) == 3
    assert math.isnan(back.curve[1].train_loss)
    assert math.isnan(back.curve[2].test_loss)
    assert back.curve[0] == result.curve[0]
    assert store.done_keys() == {result.key}


def test_trial_stopped_early_is_pruned_finished_and_never_rerun(store: Store) -> None:
    key = Key("t", "FIX(k0=0.1)", seed=0)
    trial_id = store.start_trial(key)
    assert trial_id is not None
    data = result_dict(key)
    data["steps_done"] = key.steps // 2
    assert store.finish_trial(trial_id, data) is True
    (record,) = store.trials()
    assert record.status == "pruned"
    assert record.finished
    assert record.to_result().steps_done == key.steps // 2
    assert store.start_trial(key) is None
    assert store.info().trials_by_status["pruned"] == 1


def test_diverged_trial_is_finished_with_its_step(store: Store) -> None:
    key = Key("t", "EXP(k0=1.0, gamma=1.1)", seed=0)
    trial_id = store.start_trial(key)
    assert trial_id is not None
    data = result_dict(key, top1=float("nan"), diverged=True)
    data["curve"][1]["train_loss"] = float("inf")
    assert store.finish_trial(trial_id, data)
    (record,) = store.trials(status="diverged")
    assert record.diverged
    assert record.diverged_at == 50
    assert math.isnan(record.top1)
    assert math.isnan(record.curve[1]["train_loss"])  # JSON has no inf: it reads back as NaN
    assert {(k.task, k.seed) for k in store.done_keys("t")} == {("t", 0)}


def test_trials_filter_by_task_status_and_spec(store: Store) -> None:
    keys = [Key("a", "FIX(k0=0.1)", 0), Key("a", "FIX(k0=0.2)", 0), Key("b", "FIX(k0=0.1)", 0)]
    ids = [store.start_trial(k) for k in keys]
    assert None not in ids
    store.finish_trial(ids[0], result_dict(keys[0]))  # type: ignore[arg-type]
    store.fail_trial(ids[1], RuntimeError("out of memory"))  # type: ignore[arg-type]
    assert [r.spec for r in store.trials(task="a")] == ["FIX(k0=0.1)", "FIX(k0=0.2)"]
    assert [r.task for r in store.trials(spec="FIX(k0=0.1)")] == ["a", "b"]
    (failed,) = store.trials(status="failed")
    assert failed.error == "RuntimeError: out of memory"
    assert [r.task for r in store.trials(status="running")] == ["b"]
    assert store.done_keys("b") == set()
    with pytest.raises(StoreError, match="unknown trial status 'finished'; allowed: running"):
        store.trials(status="finished")
    policies = {p.spec: p for p in store.policies()}
    assert set(policies) == {"FIX(k0=0.1)", "FIX(k0=0.2)"}
    assert policies["FIX(k0=0.1)"].name == "FIX"


def test_finish_trial_refuses_another_key_and_unknown_ids(store: Store) -> None:
    key = Key("t", "FIX(k0=0.1)", seed=0)
    trial_id = store.start_trial(key)
    assert trial_id is not None
    with pytest.raises(StoreError, match="a trial stores only its own result"):
        store.finish_trial(trial_id, result_dict(Key("t", "FIX(k0=0.1)", seed=1)))
    with pytest.raises(StoreError, match="no trial with id 999"):
        store.finish_trial(999, result_dict(key))
    with pytest.raises(StoreError, match="lacks the fields"):
        store.finish_trial(trial_id, {"task": "t"})
    (record,) = store.trials()
    assert record.status == "running"  # nothing was changed by the bad calls
    with pytest.raises(StoreError, match="only done or diverged trials have a result"):
        record.to_result()


def test_range_tests_and_interpolations_round_trip(store: Store) -> None:
    result = {
        "mode": "exp",
        "lr": [1e-5, 1e-3, 0.1, 10.0],
        "loss": [2.3, 1.1, float("nan"), float("inf")],
        "suggestions": {"steepest": {"lr": 1e-3, "method": "steepest"}},
        "diverged_at": 3,
    }
    first = store.put_range_test("mnist1d-cnn", result, params={"start_lr": 1e-5})
    second = store.put_range_test("digits-mlp", {"lr": []})
    assert second > first
    (record,) = store.range_tests("mnist1d-cnn")
    assert record.id == first
    assert record.params == {"start_lr": 1e-5}
    assert record.result["loss"] == [2.3, 1.1, None, None]  # non-finite -> null in JSON
    assert record.result["suggestions"] == result["suggestions"]
    assert [r.task for r in store.range_tests()] == ["mnist1d-cnn", "digits-mlp"]

    data = {"alphas": [0.0, 0.5, 1.0], "points": [{"alpha": 0.5, "train_loss": float("nan")}]}
    interp_id = store.put_interpolation("mnist1d-cnn", data)
    (interp,) = store.interpolations("mnist1d-cnn")
    assert interp.id == interp_id
    assert interp.data == {
        "alphas": [0.0, 0.5, 1.0],
        "points": [{"alpha": 0.5, "train_loss": None}],
    }
    assert store.interpolations("digits-mlp") == []
    assert store.info().counts == {
        "tasks": 2, "policies": 0, "trials": 0, "range_tests": 2, "interpolations": 1,
        "sources": 0,
    }  # fmt: skip


def test_unstorable_values_raise_and_store_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match=r"range test result\['fn'\] of type function"):
        store.put_range_test("t", {"fn": lambda x: x})
    with pytest.raises(StoreError, match="non-empty string"):
        store.put_task("")
    with pytest.raises(StoreError, match="seed must be an int >= 0"):
        store.start_trial(Key("t", "FIX(k0=0.1)", seed=-1))
    with pytest.raises(StoreError, match="TrialKey"):
        store.start_trial(("t", "FIX(k0=0.1)", 0, 10, 5))  # type: ignore[arg-type]
    assert store.range_tests() == []
    assert store.trials() == []


def test_store_module_does_not_import_torch(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from lrscope.store import Store\n"
        f"s = Store.open('sqlite:///{tmp_path}/x.db')\n"
        "s.put_task('t', {'dataset': 'd'}); s.trials(); s.range_tests(); s.info(); s.close()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
