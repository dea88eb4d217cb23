"""Real range tests of the three classes of misread curves (and the one-cycle peak).

1. Early outliers, hard batches, label noise and warm-up transients must not
   move the suggestions: every hostile run stays within 2x of the clean one.
2. Curves that never fall (random labels; a start lr already too large; a
   model already trained) give "no usable range", with their numbers where
   the loss had not yet risen above its starting level.
3. The suggestions never contradict each other, on a BatchNorm CNN read after
   only 200 steps: ordered, the band on the fall and the floor, not where the
   raw loss has risen above its start.
4. The one-cycle peak on ``mnist1d-cnn`` lies above the CLR bound and the
   constant rate, where the loss still trains.
"""

from __future__ import annotations

import pytest
from torch import nn

from lrscope.rangetest import RangeTestResult, lr_range_test, range_test, read_curve
from lrscope.rangetest.reading import default_half_width
from lrscope.tasks import get_task

from .hostile import blobs_range_test, bn_digits_task, random_labels_task, trained_model
from .tiny import make_task

NAMES = ("suggested_lr", "min_lr", "max_lr", "onecycle_max_lr")


def _ratios(hostile: RangeTestResult, clean: RangeTestResult) -> dict[str, float]:
    assert hostile.suggestions is not None
    assert clean.suggestions is not None
    out = {}
    for name in NAMES:
        a, b = getattr(hostile.suggestions, name).lr, getattr(clean.suggestions, name).lr
        out[name] = max(a / b, b / a)
    return out


HOSTILE = {
    # the input: one batch with inputs x30 at step 1 (lr about 1e-5)
    "outlier at step 1": {"scaled": {1: 30.0}},
    # ... spread over steps 1-3, which also fooled steepest
    "outliers at steps 1-3": {"scaled": {1: 30.0, 2: 30.0, 3: 30.0}},
    # a warm-up transient: the first six batches far off the data
    "transient at steps 0-5": {"scaled": dict.fromkeys(range(6), 30.0)},
    # hard batches scattered over the plateau (lr 1e-5 to 1e-4)
    "hard batches on the plateau": {"scaled": dict.fromkeys(range(0, 50, 10), 30.0)},
    # label noise: batches whose labels are shuffled, all through the test
    "label noise": {"shuffled": tuple(range(5, 300, 25))},
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_batches_move_no_suggestion_by_2x(case: str, seed: int) -> None:
    clean = blobs_range_test(seed=seed)
    hostile = blobs_range_test(seed=seed, **HOSTILE[case])  # type: ignore[arg-type]
    assert clean.suggestions is not None
    assert hostile.suggestions is not None
    assert clean.suggestions.usable
    assert hostile.suggestions.usable
    ratios = _ratios(hostile, clean)
    assert max(ratios.values()) < 2.0, ratios
    # the early ones are read as if they were not there
    if case != "label noise":
        assert ratios["suggested_lr"] < 1.25, ratios
    # and the test ran on to its real divergence
    assert hostile.steps_done > 200


def test_random_labels_give_no_usable_range() -> None:
    for seed in (0, 1):
        result = range_test(random_labels_task(seed), seed=seed)
        assert result.suggestions is not None
        assert not result.suggestions.usable
        assert "never fell clearly" in (result.suggestions.reason or "")
        _assert_bounds_at_or_below_the_plateau(result)


def test_a_start_lr_above_the_useful_range_gives_no_usable_range() -> None:
    result = range_test(make_task(), start_lr=3.0, end_lr=1e4)
    assert result.suggestions is not None
    assert not result.suggestions.usable
    assert "rose from the first step" in (result.suggestions.reason or "")
    _assert_bounds_at_or_below_the_plateau(result)


def test_a_trained_model_gives_no_usable_range() -> None:
    for seed in (0, 1):
        model, optimizer, loader = trained_model(seed)
        result = lr_range_test(model, optimizer, nn.functional.cross_entropy, loader)
        assert result.suggestions is not None
        assert not result.suggestions.usable
        _assert_bounds_at_or_below_the_plateau(result)


def _assert_bounds_at_or_below_the_plateau(result: RangeTestResult) -> None:
    found = result.suggestions
    assert found is not None
    reading = read_curve(result.lr, result.loss, default_half_width(result.steps))
    start = float(reading.robust[0])
    for name in NAMES:
        s = getattr(found, name)
        assert s.fallback, name  # each says why
        if s.index is not None:
            assert reading.robust[list(reading.curve.index).index(s.index)] <= (
                start + reading.noise
            ), name
    assert found.min_lr.lr <= found.suggested_lr.lr <= found.max_lr.lr


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_batchnorm_cnn_read_after_200_steps_gets_a_consistent_band(seed: int) -> None:
    result = range_test(bn_digits_task(), seed=seed, steps=200, eval_every=10)
    found = result.suggestions
    assert found is not None
    assert found.usable
    assert found.min_lr.lr <= found.suggested_lr.lr <= found.max_lr.lr
    reading = read_curve(result.lr, result.loss, default_half_width(result.steps))
    steps = list(reading.curve.index)
    assert found.max_lr.index is not None
    top = steps.index(found.max_lr.index)
    assert top <= reading.floor_end  # not where the loss rises again
    if found.min_lr.index is not None:
        assert reading.robust[steps.index(found.min_lr.index)] > reading.robust[top]
    # no batch in the band has a loss above where the test started
    band = [
        loss
        for lr, loss in zip(result.lr, result.loss, strict=False)
        if found.min_lr.lr <= lr <= found.max_lr.lr
    ]
    assert max(band) < reading.plateau
    # the test accuracy at max_lr is still more than half its best
    best = max(p.top1 for p in result.evals)
    at_top = max((p for p in result.evals if p.lr <= found.max_lr.lr), key=lambda p: p.lr)
    assert at_top.top1 > 0.5 * best


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_the_mnist1d_cnn_one_cycle_peak_is_above_the_bounds_where_the_loss_still_trains(
    seed: int,
) -> None:
    result = range_test(get_task("mnist1d-cnn"), seed=seed)
    found = result.suggestions
    assert found is not None
    assert found.usable
    peak = found.onecycle_max_lr
    assert peak.lr >= 1.4 * found.max_lr.lr > found.suggested_lr.lr
    reading = read_curve(result.lr, result.loss, default_half_width(result.steps))
    at_peak = list(reading.curve.index).index(peak.index)
    assert reading.robust[at_peak] < reading.plateau  # the loss is still below its start
    assert peak.lr < reading.curve.lr[reading.back]  # and has not blown up
