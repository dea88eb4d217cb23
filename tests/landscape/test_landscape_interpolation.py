"""interpolate(): exact ends against the engine, BatchNorm options, errors, results, snapshots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from byo_tasks import regression, regression_by_mae
from lrscope.engine import evaluate, fixed_subset, iter_batches, run_trial
from lrscope.engine.trial import TRAIN_EVAL_SAMPLES
from lrscope.errors import ParameterError
from lrscope.landscape import (
    InterpolationPoint,
    InterpolationResult,
    InterpolationSettings,
    LandscapeError,
    WeightsError,
    alpha_grid,
    interpolate,
    recompute_batchnorm,
)
from lrscope.tasks import Task, get_task

WIDE_TASK_REF = f"{Path(__file__).with_name('landscape_task.py')}:make_wide_task"
ALPHAS = (-0.2, 0.0, 0.3, 0.5, 1.0, 1.2)


def _engine_metrics(task: Task, state: dict[str, torch.Tensor]) -> tuple[float, ...]:
    """The saved network's metrics, computed the engine's way (no landscape code)."""
    model = task.model()
    model.load_state_dict(state)
    test = evaluate(model, task.test_data, task)
    train = evaluate(model, fixed_subset(task.train_data, TRAIN_EVAL_SAMPLES), task)
    return (train.loss, train.top1, test.loss, test.top1, test.top5)


def _metrics(point: InterpolationPoint) -> tuple[float, ...]:
    return (point.train_loss, point.train_top1, point.test_loss, point.top1, point.top5)


@pytest.fixture(scope="module")
def cycle_2_3(tiny_task: Task, tri_snapshots: Path) -> InterpolationResult:
    return interpolate(
        tiny_task,
        tri_snapshots / "step_000012.pt",
        tri_snapshots / "step_000024.pt",
        ALPHAS,
        label="TRI cycles 1-2",
    )


# --- snapshots written by the engine (issue item 1) ----------------------------


def test_engine_writes_a_snapshot_at_every_cycle_end(tri_snapshots: Path) -> None:
    names = sorted(p.name for p in tri_snapshots.glob("step_*.pt"))
    assert names == ["step_000012.pt", "step_000024.pt", "step_000036.pt"]
    last = torch.load(tri_snapshots / "step_000036.pt", weights_only=True)
    final = torch.load(tri_snapshots / "final.pt", weights_only=True)
    assert set(last) == set(final)
    assert all(torch.equal(last[k], final[k]) for k in final)
    first = torch.load(tri_snapshots / "step_000012.pt", weights_only=True)
    assert not torch.equal(first["fc1.weight"], last["fc1.weight"])


# --- exact ends ----------------------------------------------------------------


def test_ends_equal_the_saved_networks_exactly(
    tiny_task: Task, tri_snapshots: Path, cycle_2_3: InterpolationResult
) -> None:
    saved_a = torch.load(tri_snapshots / "step_000012.pt", weights_only=True)
    saved_b = torch.load(tri_snapshots / "step_000024.pt", weights_only=True)
    at = {p.alpha: p for p in cycle_2_3.points}
    assert _metrics(at[0.0]) == _engine_metrics(tiny_task, saved_a)
    assert _metrics(at[1.0]) == _engine_metrics(tiny_task, saved_b)
    assert at[0.0] == cycle_2_3.end_a
    assert at[1.0] == cycle_2_3.end_b
    assert cycle_2_3.alphas == ALPHAS


def test_ends_are_exact_on_a_computed_grid(tiny_task: Task, tri_snapshots: Path) -> None:
    grid = alpha_grid(15, -0.4, 1.0)  # step 0.1: 0.0 is reached by arithmetic
    result = interpolate(
        tiny_task, tri_snapshots / "step_000024.pt", tri_snapshots / "step_000036.pt", grid
    )
    saved_a = torch.load(tri_snapshots / "step_000024.pt", weights_only=True)
    at = {p.alpha: p for p in result.points}
    assert _metrics(at[0.0]) == _engine_metrics(tiny_task, saved_a)


def test_inner_points_are_the_mixed_networks(
    tiny_task: Task, tri_snapshots: Path, cycle_2_3: InterpolationResult
) -> None:
    a = torch.load(tri_snapshots / "step_000012.pt", weights_only=True)
    b = torch.load(tri_snapshots / "step_000024.pt", weights_only=True)
    mid = {k: (0.7 * a[k] + 0.3 * b[k]) if v.is_floating_point() else a[k] for k, v in a.items()}
    expected = _engine_metrics(tiny_task, mid)
    got = _metrics(next(p for p in cycle_2_3.points if p.alpha == 0.3))
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert got != _metrics(cycle_2_3.end_a)


def test_checkpoint_and_snapshot_of_the_same_step_give_a_flat_line(
    tiny_task: Task, tri_snapshots: Path
) -> None:
    result = interpolate(
        tiny_task, tri_snapshots / "trial.ckpt", tri_snapshots / "step_000024.pt", [0.0, 0.5, 1.0]
    )
    values = {_metrics(p) for p in result.points}
    assert len(values) == 1


# --- BatchNorm -----------------------------------------------------------------


def test_recompute_bn_re_estimates_every_point(tiny_task: Task, tri_snapshots: Path) -> None:
    path_a, path_b = tri_snapshots / "step_000012.pt", tri_snapshots / "step_000024.pt"
    plain = interpolate(tiny_task, path_a, path_b, [0.0, 0.5])
    fresh = interpolate(tiny_task, path_a, path_b, [0.0, 0.5], recompute_bn=True)
    assert fresh.recompute_bn
    # the ends reported for the saved networks keep their own statistics
    assert fresh.end_a == plain.end_a
    assert fresh.end_b == plain.end_b
    # alpha = 0 with re-estimated statistics, computed by hand
    model = tiny_task.model()
    model.load_state_dict(torch.load(path_a, weights_only=True))
    subset = fixed_subset(tiny_task.train_data, TRAIN_EVAL_SAMPLES)
    recompute_batchnorm(model, [x for x, _ in iter_batches(subset, tiny_task.batch_size)])
    test = evaluate(model, tiny_task.test_data, tiny_task)
    assert fresh.points[0].test_loss == pytest.approx(test.loss, rel=1e-6)
    assert fresh.points[0].test_loss != plain.points[0].test_loss
    assert fresh.points[1].test_loss != plain.points[1].test_loss


def test_train_samples_sets_the_subsample(tiny_task: Task, tri_snapshots: Path) -> None:
    path = tri_snapshots / "step_000036.pt"
    result = interpolate(tiny_task, path, path, [0.0], train_samples=50)
    assert result.train_samples == 50
    model = tiny_task.model()
    model.load_state_dict(torch.load(path, weights_only=True))
    train = evaluate(model, fixed_subset(tiny_task.train_data, 50), tiny_task)
    assert result.points[0].train_loss == train.loss


# --- errors --------------------------------------------------------------------


def test_weights_of_another_architecture(tiny_task: Task, tri_snapshots: Path) -> None:
    wide = get_task(WIDE_TASK_REF).model().state_dict()
    with pytest.raises(WeightsError, match=r"'fc1.weight'.*\(16, 8\).*\(24, 8\)"):
        interpolate(tiny_task, tri_snapshots / "step_000012.pt", wide, [0.5])


def test_weights_that_do_not_fit_the_task(tri_snapshots: Path) -> None:
    with pytest.raises(WeightsError, match=r"'fc1.weight'.*task 'tiny-bn-wide'"):
        interpolate(
            get_task(WIDE_TASK_REF),
            tri_snapshots / "step_000012.pt",
            tri_snapshots / "step_000024.pt",
            [0.5],
        )


@pytest.mark.parametrize(
    ("alphas", "train_samples", "owner", "name"),
    [
        ([], 10, "interpolate", "alphas"),
        ([0.1, math.nan], 10, "interpolate", "alphas"),
        ([0.5], 0, "the interpolation", "train_samples"),
    ],
)
def test_bad_arguments(
    tiny_task: Task,
    tri_snapshots: Path,
    alphas: list[float],
    train_samples: int,
    owner: str,
    name: str,
) -> None:
    path = tri_snapshots / "step_000012.pt"
    with pytest.raises(ParameterError, match=f"The '{name}' parameter of {owner} must be "):
        interpolate(tiny_task, path, path, alphas, train_samples=train_samples)


def test_settings_and_options_give_the_same_networks(tiny_task: Task, tri_snapshots: Path) -> None:
    a, b = tri_snapshots / "step_000012.pt", tri_snapshots / "step_000024.pt"
    settings = InterpolationSettings(points=3, alpha_min=0.0, alpha_max=1.0, train_samples=8)
    by_settings = interpolate(tiny_task, a, b, settings=settings)
    by_options = interpolate(
        tiny_task, a, b, points=3, alpha_min=0.0, alpha_max=1.0, train_samples=8
    )
    assert by_settings == by_options
    assert by_settings.alphas == (0.0, 0.5, 1.0)
    with pytest.raises(ParameterError, match="'bogus' parameter of the interpolation"):
        interpolate(tiny_task, a, b, bogus=1)


# --- alpha grid ----------------------------------------------------------------


def test_alpha_grid_values() -> None:
    grid = alpha_grid(29)
    assert len(grid) == 29
    assert grid[0] == -0.2
    assert grid[-1] == 1.2
    assert 0.0 in grid
    assert 1.0 in grid
    assert grid[5] == 0.05
    assert alpha_grid(4, -0.5, 1.5) == (-0.5, 0.0, 0.166666666667, 0.833333333333, 1.0, 1.5)
    assert alpha_grid(2, 0.0, 1.0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("points", "start", "stop", "name"),
    [(1, 0, 1, "points"), (5, 1, 0, "alpha_max"), (5, 0, math.inf, "alpha_max")],
)
def test_alpha_grid_errors(points: int, start: float, stop: float, name: str) -> None:
    with pytest.raises(ParameterError, match=f"The '{name}' parameter of the interpolation"):
        alpha_grid(points, start, stop)


# --- the result ----------------------------------------------------------------


def test_result_round_trips_through_json(cycle_2_3: InterpolationResult) -> None:
    data = json.loads(json.dumps(cycle_2_3.to_dict()))
    assert InterpolationResult.from_dict(data) == cycle_2_3
    assert data["label"] == "TRI cycles 1-2"
    assert data["source_a"].endswith("step_000012.pt")


def _point(alpha: float, loss: float) -> InterpolationPoint:
    return InterpolationPoint(alpha, loss, 0.5, loss + 0.1, 0.5, 0.9)


def test_barrier_and_argmin_golden_values() -> None:
    losses = {-0.5: 3.0, 0.0: 1.0, 0.25: 2.5, 0.5: 2.0, 1.0: 0.5, 1.5: 0.1}
    points = tuple(_point(a, v) for a, v in losses.items())
    result = InterpolationResult(
        "t", "a.pt", "b.pt", points, points[1], points[4], recompute_bn=False, train_samples=10
    )
    # chord at 0.25: 0.75 * 1.0 + 0.25 * 0.5 = 0.875; bump 2.5 - 0.875 = 1.625 (largest)
    assert result.barrier("train_loss") == pytest.approx(1.625)
    assert result.argmin("train_loss").alpha == 1.5
    with pytest.raises(ParameterError, match=r"'metric' parameter of InterpolationResult\.barrier"):
        result.barrier("accuracy")
    with pytest.raises(LandscapeError, match="no point has a finite"):
        InterpolationResult(
            "t", "a", "b", (_point(0.5, math.nan),), points[1], points[4], False, 10
        ).argmin("train_loss")


def test_from_dict_reads_null_as_nan() -> None:
    data: dict[str, float | None] = {**_point(0.0, 1.0).to_dict()}
    data["test_loss"] = None
    assert math.isnan(InterpolationPoint.from_dict(data).test_loss)


# --- the task's primary metric ---------------------------------------------------


def _regression_pair(task: Task, tmp_path: Path) -> tuple[Path, Path]:
    ends = []
    for lr in (0.01, 0.03):
        path = tmp_path / f"lr{lr}.pt"
        run_trial(task, f"FIX(k0={lr})", steps=12, seed=0, eval_every=12, save_weights=path)
        ends.append(path)
    return ends[0], ends[1]


def test_a_regression_line_carries_its_mse_and_no_top1(tmp_path: Path) -> None:
    task = regression()
    result = interpolate(task, *_regression_pair(task, tmp_path), [0.0, 0.5, 1.0])
    assert result.primary_metric == "mse"
    for point in (result.end_a, result.end_b, *result.points):
        assert math.isnan(point.top1)
        assert math.isnan(point.train_top1)
        # trained on MSE and scored by it: the primary metric is the loss
        assert point.primary == pytest.approx(point.test_loss, rel=1e-5)
        assert point.train_primary == pytest.approx(point.train_loss, rel=1e-5)
    assert not result.shows_primary  # the columns would repeat the losses
    text = json.dumps(result.to_dict())  # NaN != NaN: compare the documents
    back = InterpolationResult.from_dict(json.loads(text))
    assert json.dumps(back.to_dict()) == text
    assert back.primary_metric == "mse"


def test_a_regression_scored_by_mae_shows_it(tmp_path: Path) -> None:
    task = regression_by_mae()
    result = interpolate(task, *_regression_pair(task, tmp_path), [0.0, 0.5, 1.0])
    assert result.primary_metric == "mae"
    assert result.shows_primary
    model = task.model()
    model.load_state_dict(torch.load(tmp_path / "lr0.03.pt", weights_only=True))
    expected = evaluate(model, task.test_data, task.scorer).value("mae")
    assert result.end_b.primary == pytest.approx(expected)
    assert result.primary_of(result.end_b) == (result.end_b.train_primary, result.end_b.primary)


def test_classification_reads_its_top1_as_before(cycle_2_3: InterpolationResult) -> None:
    assert cycle_2_3.primary_metric == "top1"
    assert cycle_2_3.shows_primary
    for point in cycle_2_3.points:
        assert (point.train_primary, point.primary) == (point.train_top1, point.top1)
        assert cycle_2_3.primary_of(point) == (point.train_top1, point.top1)


def test_results_stored_before_points_named_their_metric_read_top1() -> None:
    old = _point(0.5, 1.0).to_dict()
    del old["primary"], old["train_primary"]
    point = InterpolationPoint.from_dict(old)
    assert (point.train_primary, point.primary) == (0.5, 0.5)
    document = InterpolationResult(
        "t", "a", "b", (point,), point, point, recompute_bn=False, train_samples=10
    ).to_dict()
    del document["primary_metric"]
    assert InterpolationResult.from_dict(document).primary_metric == "top1"
