"""Recommendations from stored history (lrscope.recommend)."""

from __future__ import annotations

import pytest

from lrscope.bench import Execution
from lrscope.policies import parse
from lrscope.policies.rescale import rescale
from lrscope.recommend import MIN_SIMILARITY, recommend, similarity
from lrscope.store import Store
from lrscope.tune import tune

LOCAL = Execution("local")  # full trials one at a time, in this process

MLP = {"dataset": "blobs4", "model_family": "mlp", "input_shape": [10], "train_size": 256,
       "num_classes": 4}  # fmt: skip


def test_similarity_weighs_dataset_model_classes_shape_and_size() -> None:
    assert similarity(MLP, MLP) == (1.0, ["dataset", "model_family", "num_classes", "input_shape"])
    other_model = {**MLP, "model_family": "cnn"}
    assert similarity(MLP, other_model)[0] == pytest.approx(0.75)
    half_size = {**MLP, "train_size": 128}
    assert similarity(MLP, half_size)[0] == pytest.approx(0.95)
    unrelated = {"dataset": "cifar10", "model_family": "resnet", "input_shape": [3, 32, 32],
                 "train_size": 50000, "num_classes": 10}  # fmt: skip
    score, matched = similarity(MLP, unrelated)
    assert matched == []
    assert score < MIN_SIMILARITY


def test_empty_store_says_nothing_is_stored(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        result = recommend(store, mlp_ref, run_range_test=False)
    assert result.recommendations == ()
    assert result.message is not None
    assert "lrscope tune" in result.message


def test_policies_carry_over_to_a_similar_task_with_evidence(
    db_url: str, mlp_ref: str, linear_ref: str
) -> None:
    with Store.open(db_url) as store:
        tuned = tune(mlp_ref, store, steps=96, seeds=2, survivors=2, execution=LOCAL)
        result = recommend(store, linear_ref, top=2)
        source_trials = {t.id: t for t in store.trials("blobs4-mlp")}
        target_tests = store.range_tests("blobs4-linear")
        source_tests = store.range_tests("blobs4-mlp")
    assert result.message is None
    assert len(target_tests) == 1  # the target's range test was run and stored
    (first, second) = result.recommendations
    assert first.source_task == "blobs4-mlp"
    assert first.source_spec == tuned.ranking[0].spec
    assert second.source_spec == tuned.ranking[1].spec
    assert first.similarity == pytest.approx(0.75)
    assert first.step_factor == pytest.approx(4 / 8)  # epochs of 4 and 8 steps
    target_lr = target_tests[0].result["suggestions"]["suggested_lr"]["lr"]
    source_lr = source_tests[0].result["suggestions"]["suggested_lr"]["lr"]
    assert first.lr_factor == pytest.approx(target_lr / source_lr)
    expected = rescale(
        parse(first.source_spec),
        lr_factor=first.lr_factor,
        step_factor=first.step_factor,
        significant=3,
    )
    assert first.spec == expected.spec
    assert first.steps == 48
    assert len(first.trial_ids) == 2
    for trial_id in first.trial_ids:
        assert source_trials[trial_id].spec == first.source_spec
    assert first.metrics["n"] == 2
    assert "best_top1_mean" in first.metrics


def test_exact_match_recommends_the_task_own_winners_unscaled(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        tuned = tune(mlp_ref, store, steps=96, seeds=1, survivors=1, execution=LOCAL)
        result = recommend(store, mlp_ref, top=1)
    (rec,) = result.recommendations
    assert rec.source_task == "blobs4-mlp"
    assert rec.similarity == 1.0
    assert (rec.lr_factor, rec.step_factor) == (1.0, 1.0)
    assert rec.spec == tuned.ranking[0].spec
