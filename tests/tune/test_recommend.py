"""Recommendations from stored history (lrscope.recommend)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from lrscope.bench import Execution
from lrscope.policies import parse
from lrscope.policies.rescale import rescale
from lrscope.recommend import MIN_SIMILARITY, recommend, similarity
from lrscope.store import Store
from lrscope.tune import tune

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))  # store_testlib: the v1 fixture
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
        tuned = tune(mlp_ref, store, steps=96, trials=16, execution=LOCAL)
        result = recommend(store, linear_ref, top=2)
        source_trials = {t.id: t for t in store.trials("blobs4-mlp")}
        target_tests = store.range_tests("blobs4-linear")
        source_tests = store.range_tests("blobs4-mlp")
    assert result.message is None
    assert len(target_tests) == 1  # the target's range test was run and stored
    (first, second) = result.recommendations
    assert first.source_task == "blobs4-mlp"
    assert first.source_spec == tuned.ranking.rows[0].spec  # the ranking of tune's own
    assert second.source_spec == tuned.ranking.rows[1].spec
    assert first.similarity == pytest.approx(0.75)
    assert first.step_factor == pytest.approx(4 / 8)  # epochs of 4 and 8 steps
    target_lr = _suggested(target_tests[0].result)
    source_lr = _suggested(source_tests[0].result)
    assert first.lr_factor == pytest.approx(target_lr / source_lr)
    expected = rescale(
        parse(first.source_spec),
        lr_factor=first.lr_factor,
        step_factor=first.step_factor,
        significant=3,
    )
    assert first.spec == expected.spec
    assert first.steps == 48
    assert len(first.trial_ids) == 3  # the confirmation seeds, not the one-seed search trial
    for trial_id in first.trial_ids:
        assert source_trials[trial_id].spec == first.source_spec
        assert source_trials[trial_id].seed in (1, 2, 3)
    assert first.metrics["n"] == 3
    assert "best_top1_mean" in first.metrics


def _suggested(result: Mapping[str, object]) -> float:
    from lrscope.rangetest.result import RangeTestResult

    suggestions = RangeTestResult.from_dict(result).suggestions
    assert suggestions is not None
    return suggestions.suggested_lr.lr


def test_exact_match_recommends_the_task_own_winners_unscaled(db_url: str, mlp_ref: str) -> None:
    with Store.open(db_url) as store:
        tuned = tune(mlp_ref, store, steps=96, trials=8, execution=LOCAL)
        result = recommend(store, mlp_ref, top=1)
    (rec,) = result.recommendations
    assert rec.source_task == "blobs4-mlp"
    assert rec.similarity == 1.0
    assert (rec.lr_factor, rec.step_factor) == (1.0, 1.0)
    assert rec.spec == tuned.winner_spec


def _imported_digits_mlp(tmp_path: Path) -> str:
    """An empty store into which the digits-mlp results of lrscope 0.1.0 are imported."""
    from lrscope.store.exchange import export_store, import_file
    from store_testlib import store_v1_copy  # type: ignore[import-not-found,unused-ignore]

    lab = store_v1_copy(tmp_path)
    with Store.open(lab) as store:  # upgraded to this schema, then exported
        export_store(store, tmp_path / "digits-mlp.jsonl.gz", tasks=["digits-mlp"])
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    with Store.open(url) as store:
        summary = import_file(store, tmp_path / "digits-mlp.jsonl.gz")
    assert summary.added["trial"] == 10
    return url


def _check_imported_advice(advice: dict[str, object], tmp_path: Path) -> dict[str, object]:
    assert advice["task"] == "digits-lenet"
    recs = advice["recommendations"]
    assert isinstance(recs, list)
    assert recs
    first = recs[0]
    assert isinstance(first, dict)
    assert first["source_task"] == "digits-mlp"
    assert first["imported"] is True
    evidence = first["evidence"]
    assert evidence["imported"] is True
    assert evidence["n_imported"] == evidence["n_seeds"] == 2
    assert evidence["origins"] == [f"sqlite:///{tmp_path / 'store_v1.db'} on {_host()}"]
    assert first["similarity"] == pytest.approx(0.75)  # dataset, classes, shape, train size
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    return first


def _host() -> str:
    import socket

    return socket.gethostname()


def test_recommend_marks_evidence_imported_from_another_store(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from lrscope.cli.app import app

    url = _imported_digits_mlp(tmp_path)
    result = CliRunner().invoke(
        app, ["recommend", "--task", "digits-lenet", "--no-range-test", "--db", url, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    first = _check_imported_advice(json.loads(result.stdout), tmp_path)
    assert first["source_spec"] == "TRI2(k0=0.01, k1=0.3, l=40)"  # the best top-1 of the two
    assert first["lr_basis"] == "no range test stored for this task: learning rates kept"
    human = CliRunner().invoke(app, ["recommend", "--task", "digits-lenet", "--no-range-test",
                                     "--db", url])  # fmt: skip
    assert "(imported)" in human.stdout  # the "from task" column (wrapped at 80 columns)


@pytest.mark.slow
def test_recommend_with_a_range_test_on_imported_history(tmp_path: Path) -> None:
    """The acceptance case: `lrscope recommend --task digits-lenet` after an import."""
    import json

    from typer.testing import CliRunner

    from lrscope.cli.app import app

    url = _imported_digits_mlp(tmp_path)
    result = CliRunner().invoke(app, ["recommend", "--task", "digits-lenet", "--db", url, "--json"])
    assert result.exit_code == 0, result.stderr
    first = _check_imported_advice(json.loads(result.stdout), tmp_path)
    assert str(first["lr_basis"]).startswith("range-test suggestions ")
    with Store.open(url, readonly=True) as store:
        assert len(store.range_tests("digits-lenet")) == 1  # run and stored (locally)
        assert store.range_tests("digits-lenet")[0].source_id is None


def test_evidence_is_weighed_by_seeds_and_similarity(db_url: str, linear_ref: str) -> None:
    from lrscope.recommend import SEED_PRIOR
    from store_testlib import Key, claim, result_dict  # type: ignore[import-not-found,unused-ignore]

    near = {"dataset": "blobs4", "model_family": "mlp", "input_shape": [10], "train_size": 256,
            "num_classes": 4, "batch_size": 64}  # fmt: skip
    far = {**near, "model_family": "cnn", "dataset": "other"}
    with Store.open(db_url) as store:
        for task, meta, seeds, top1 in (("near", near, 1, 0.9), ("far", far, 3, 0.9)):
            store.put_task(task, meta)
            for seed in range(seeds):
                key = Key(task, "FIX(k0=0.1)", seed)
                store.finish_trial(claim(store, key), result_dict(key, top1))
        result = recommend(store, linear_ref, top=1, run_range_test=False)
    by_task = {r.source_task: r for r in result.recommendations}
    for rec in by_task.values():
        n = rec.evidence.n_seeds
        assert rec.seed_weight == pytest.approx(n / (n + SEED_PRIOR))
        assert rec.score == pytest.approx(rec.similarity * rec.seed_weight, abs=1e-6)
        assert rec.imported is False
        assert rec.evidence.origins == ("this store",)
    assert by_task["near"].evidence.n_seeds == 1
    assert by_task["far"].evidence.n_seeds == 3
    assert by_task["near"].similarity > by_task["far"].similarity
    order = [r.source_task for r in result.recommendations]
    expected = sorted(by_task, key=lambda t: -by_task[t].score)
    assert order == expected


def test_recommendations_are_frozen_typed_values(db_url: str, mlp_ref: str) -> None:
    import dataclasses
    import json

    with Store.open(db_url) as store:
        tune(mlp_ref, store, steps=96, trials=8, execution=LOCAL)
        (rec,) = recommend(store, mlp_ref, top=1).recommendations
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.spec = "FIX(k0=1.0)"  # type: ignore[misc]
    assert json.loads(json.dumps(rec.to_dict()))["evidence"]["n_seeds"] == 3  # confirmation


def test_a_regression_learns_from_regressions_by_their_primary_metric(tmp_path: Path) -> None:
    """MSE is lower-is-better: the policy of the lowest MSE comes first; top-1 is no evidence."""
    import dataclasses

    from byo_tasks import regression
    from lrscope.bench import Plan, run_plan

    source = regression()
    target = dataclasses.replace(source, name="byo-regression-2")
    plan = Plan("byo", ["FIX(k0=0.0003)", "FIX(k0=0.01)", "FIX(k0=0.003)"], seeds=2, steps=24)
    with Store.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        run_plan(plan, store, LOCAL, task=source)
        result = recommend(store, target, top=3, run_range_test=False)
        mse: dict[str, list[float]] = {}
        for trial in store.trials(source.name):
            mse.setdefault(trial.spec, []).append(trial.to_result().metrics["mse"])
    specs = [r.source_spec for r in result.recommendations]
    assert len(specs) == 3
    assert specs == sorted(mse, key=lambda s: sum(mse[s]) / len(mse[s]))  # lowest MSE first
    assert result.recommendations[0].score > result.recommendations[-1].score
    assert all(r.source_task == source.name for r in result.recommendations)


def test_a_classification_is_no_evidence_for_a_regression(
    db_url: str, mlp_ref: str, tmp_path: Path
) -> None:
    import dataclasses

    from byo_tasks import regression

    with Store.open(db_url) as store:
        tune(mlp_ref, store, steps=64, trials=8, execution=LOCAL)
        similar = dataclasses.replace(regression(), name="blobs4-regression")
        assert similar.metadata is not None
        meta = dataclasses.replace(similar.metadata, dataset="blobs4", model_family="mlp")
        similar = dataclasses.replace(similar, metadata=meta)
        result = recommend(store, similar, run_range_test=False)
    assert result.recommendations == ()


def test_rescaling_skips_stored_range_tests_without_a_usable_range(tmp_path: Path) -> None:
    """The newest range test that found a range gives the rate; a failed one is passed over."""
    import numpy as np

    from lrscope.rangetest import suggest
    from lrscope.recommend import _suggested_lr
    from rangetest.curves import LR, result_of, sigmoid_curve

    good = result_of(LR, sigmoid_curve())
    flat = result_of(LR, np.full(LR.size, 2.3))  # never falls: no usable range
    assert suggest(good).usable
    assert not suggest(flat).usable
    with Store.open(f"sqlite:///{tmp_path / 'rt.db'}") as store:
        assert _suggested_lr(store, "t") is None
        store.put_range_test("t", good.to_dict())
        store.put_range_test("t", flat.to_dict())  # newer, but unusable
        assert _suggested_lr(store, "t") == pytest.approx(suggest(good).suggested_lr.lr)
