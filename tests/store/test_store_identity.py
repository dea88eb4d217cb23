"""Task identity: a name and a fingerprint; a clash is refused, never merged or overwritten."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.errors import StoreError
from lrscope.store import Store, task_fingerprint
from lrscope.store._identity import IDENTITY_FIELDS
from store_testlib import META, Key, claim, fill, result_dict

DIGITS_MLP = {
    "dataset": "digits", "model_family": "mlp", "input_shape": [1, 8, 8], "train_size": 1437,
    "num_classes": 10, "batch_size": 64, "extra": {"test_size": 360},
}  # fmt: skip


def test_the_fingerprint_is_a_stable_hash_of_the_identifying_fields() -> None:
    identity = {k: DIGITS_MLP[k] for k in IDENTITY_FIELDS if k in DIGITS_MLP}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert task_fingerprint(DIGITS_MLP) == expected
    # stored fingerprints outlive releases: this one is in every store of digits-mlp
    assert expected == "7522f69a52daa446f7f05bbfdd21345906eb9aea6661fe97a52725fe8d4b66cc"
    assert task_fingerprint(None) is None


_value = st.one_of(st.integers(-5, 5000), st.text(max_size=5), st.lists(st.integers(1, 9)))


@given(
    identity=st.dictionaries(st.sampled_from(IDENTITY_FIELDS), _value),
    extra=st.dictionaries(st.text(max_size=5), _value),
)
def test_order_extras_and_missing_fields_do_not_change_the_fingerprint(
    identity: dict[str, object], extra: dict[str, object]
) -> None:
    reordered = dict(reversed(list(identity.items())))
    with_nones = {**identity, **{k: None for k in IDENTITY_FIELDS if k not in identity}}
    base = task_fingerprint(identity)
    assert task_fingerprint(reordered) == base
    assert task_fingerprint({**identity, "extra": extra}) == base
    assert task_fingerprint(with_nones) == base


@pytest.mark.parametrize(
    ("field", "value"),
    [("dataset", "mnist"), ("model_family", "cnn"), ("input_shape", [64]),
     ("train_size", 1000), ("num_classes", 9), ("batch_size", 32),
     ("metrics", [{"name": "mae", "direction": "min"}]), ("primary_metric", "mae")],
)  # fmt: skip
def test_every_identifying_field_changes_the_fingerprint(field: str, value: object) -> None:
    assert task_fingerprint({**DIGITS_MLP, field: value}) != task_fingerprint(DIGITS_MLP)


def test_another_problem_under_a_stored_name_is_refused(store: Store) -> None:
    fill(store, task="digits-mlp")
    before = (store.tasks(), store.trials())
    with pytest.raises(StoreError) as caught:
        store.put_task("digits-mlp", {**META, "train_size": 1000, "num_classes": 3})
    assert str(caught.value) == (
        "task 'digits-mlp' is stored with other metadata (train_size stored 256, given 1000; "
        "num_classes stored 4, given 3): it is a different task of the same name, and lrscope "
        "neither merges nor overwrites it; rename the task or use another --db"
    )
    assert (store.tasks(), store.trials()) == before


def test_the_same_problem_updates_only_its_description(store: Store) -> None:
    store.put_task("t", META)
    store.put_task("t", {**META, "extra": {"note": "rerun"}})
    (task,) = store.tasks()
    assert task.metadata == {**META, "extra": {"note": "rerun"}}
    assert task.fingerprint == task_fingerprint(META)


def test_a_task_without_metadata_takes_the_first_given(store: Store) -> None:
    key = Key("legacy", "FIX(k0=0.1)", 0)
    store.finish_trial(claim(store, key), result_dict(key))  # a claim creates the task bare
    assert store.tasks()[0].fingerprint is None
    store.put_task("legacy", META)
    assert store.tasks()[0].fingerprint == task_fingerprint(META)
    with pytest.raises(StoreError, match="stored with other metadata"):
        store.put_task("legacy", {**META, "dataset": "other"})


def test_a_user_task_named_like_a_stored_one_is_refused_by_bench(tmp_path: Path) -> None:
    """Issue: a user task called digits-mlp got the built-in's stored results."""
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    with Store.open(url) as store:
        store.put_task("digits-mlp", DIGITS_MLP)
        key = Key("digits-mlp", "FIX(k0=0.1)", 0, steps=6, eval_every=3)
        store.finish_trial(claim(store, key), result_dict(key, 0.9))
    tiny = (Path(__file__).parents[1] / "bench" / "tiny_task.py").read_text()
    impostor = tmp_path / "impostor.py"
    impostor.write_text(tiny.replace('name="tiny-blobs"', 'name="digits-mlp"'))
    result = CliRunner().invoke(app, ["bench", "--task", f"{impostor}:make_task", "--policy",
                                      "FIX(k0=0.1)", "--steps", "6", "--eval-every", "3",
                                      "--db", url, "-q"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "task 'digits-mlp' is stored with other metadata (dataset stored" in result.stderr
    assert "rename the task or use another --db" in result.stderr
    with Store.open(url, readonly=True) as store:
        (task,) = store.tasks()
        (trial,) = store.trials()
    assert task.metadata == DIGITS_MLP
    assert trial.top1 == 0.9
