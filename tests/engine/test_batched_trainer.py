"""run_batched against run_trial: the same trials, member by member.

Tolerances. In float64 a batched member and the unbatched trial agree to
rounding (rtol 1e-9): this checks the algorithm (initial weights, data order,
lr and momentum per step, torch's SGD update order, divergence, evaluation).
In float32 the stacked convolutions sum their products in another order than
torch's convolution kernels, so the two trajectories start 1e-7 apart and drift;
with learning rates up to 0.1 they stay within 1e-4 relative over 200 steps on
the tiny CNN below (measured: about 1e-6), which is what the float32 test
asserts, with top-1 equal to within one test sample. Linear layers use the
same matrix kernels batched or not, so MLPs agree exactly.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from lrscope.batched import BatchingError, Member, run_batched, task_batching_problem, trainer
from lrscope.engine import TrialResult, run_trial
from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.tasks import Task


def waves(n: int, seed: int, dtype: torch.dtype = torch.float32) -> TensorDataset:
    """Noisy sines of 3 frequencies, 16 samples long, shape (n, 1, 16)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    t = torch.linspace(0, 1, 16)
    phase = torch.rand(n, 1, generator=g) * 6
    x = torch.sin(2 * math.pi * (y[:, None] + 1) * t + phase)
    x = x + 0.3 * torch.randn(n, 16, generator=g)
    return TensorDataset(x.unsqueeze(1).to(dtype), y)


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 6, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(6, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32, 3),
    )


def wave_task(dtype: torch.dtype = torch.float32, **overrides: object) -> Task:
    fields: dict[str, object] = {
        "name": "waves",
        "model": lambda: small_cnn().to(dtype),
        "train_data": waves(160, 0, dtype),
        "test_data": waves(64, 1, dtype),
        "num_classes": 3,
        "batch_size": 16,
    }
    fields.update(overrides)
    return Task(**fields)  # type: ignore[arg-type]


def unbatched(task: Task, members: Sequence[Member]) -> list[TrialResult]:
    return [
        run_trial(task, m.policy, steps=m.steps, seed=m.seed, eval_every=m.eval_every)
        for m in members
    ]


def assert_same(a: TrialResult, b: TrialResult, rtol: float, test_size: int) -> None:
    """Same trial: identity exact, accuracies within one sample, losses within rtol."""
    assert (a.spec, a.seed, a.steps, a.eval_every) == (b.spec, b.seed, b.steps, b.eval_every)
    assert (a.steps_done, a.diverged, a.diverged_at, a.n_params) == (
        b.steps_done,
        b.diverged,
        b.diverged_at,
        b.n_params,
    )
    assert [p.step for p in a.curve] == [p.step for p in b.curve]
    one = 1.0 / test_size + 1e-12
    assert abs(a.top1 - b.top1) <= one
    assert abs(a.best_top1 - b.best_top1) <= one
    for p, q in zip(a.curve, b.curve, strict=True):
        assert p.lr == q.lr
        assert abs(p.top1 - q.top1) <= one
        assert math.isclose(p.train_loss, q.train_loss, rel_tol=rtol)
        assert math.isclose(p.test_loss, q.test_loss, rel_tol=rtol)


MIXED = [
    Member("FIX(k0=0.05)", seed=0, steps=60, eval_every=20),
    Member("triangular(base_lr=0.01, max_lr=0.1, stepsize=10, cycle_momentum=true)", 1, 60, 20),
    Member("onecycle(max_lr=0.1, total_steps=60)", seed=2, steps=60, eval_every=15),
    Member("EXP(k0=0.1, gamma=0.98)", seed=0, steps=40, eval_every=20),
]


def test_float64_members_equal_their_unbatched_trials() -> None:
    """Momentum cycling and fixed momentum mixed, different budgets and eval intervals."""
    task = wave_task(torch.float64)
    results = run_batched(task, MIXED)
    for a, b in zip(results, unbatched(task, MIXED), strict=True):
        assert_same(a, b, rtol=1e-9, test_size=64)
        assert math.isclose(a.ac, b.ac, rel_tol=1e-9)
        assert a.best_iter == b.best_iter
    assert [r.steps_done for r in results] == [60, 60, 60, 40]


def test_float32_members_agree_over_200_steps() -> None:
    task = wave_task()
    members = [
        Member("FIX(k0=0.05)", seed=0, steps=200, eval_every=50),
        Member("TRI2(k0=0.01, k1=0.1, l=25)", seed=1, steps=200, eval_every=50),
        Member("triangular(base_lr=0.01, max_lr=0.1, stepsize=20, cycle_momentum=true)", 2, 200),
    ]
    results = run_batched(task, members)
    for a, b in zip(results, unbatched(task, members), strict=True):
        assert_same(a, b, rtol=1e-4, test_size=64)


def test_one_diverging_member_leaves_the_others_identical() -> None:
    task = wave_task(torch.float64)
    members = [
        Member("FIX(k0=0.05)", seed=3, steps=40, eval_every=10),
        Member("FIX(k0=1000)", seed=3, steps=40, eval_every=10),
        Member("onecycle(max_lr=0.1, total_steps=40)", seed=4, steps=40, eval_every=10),
    ]
    alone = run_batched(task, [members[0], members[2]])
    together = run_batched(task, members)
    reference = unbatched(task, members)
    assert together[1].diverged
    assert together[1].diverged_at == reference[1].diverged_at
    assert together[1].steps_done == together[1].diverged_at
    for a, b in zip(together, reference, strict=True):
        assert_same(a, b, rtol=1e-9, test_size=64)
    for a, b in zip([together[0], together[2]], alone, strict=True):
        assert a.curve == b.curve
        assert a.summary() | {"wall_s": 0} == b.summary() | {"wall_s": 0}


def test_a_single_member_and_a_mlp_agree_exactly_in_float32() -> None:
    mlp = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))  # noqa: E731
    task = wave_task(model=mlp)
    members = [Member("SIN(k0=0.01, k1=0.2, l=15)", seed=5, steps=50, eval_every=25)]
    (result,) = run_batched(task, members)
    (reference,) = unbatched(task, members)
    assert_same(result, reference, rtol=1e-6, test_size=64)
    assert result.wall_s > 0


def test_custom_loss_and_a_subset_dataset() -> None:
    """A loss other than the default, and training data that is not a plain TensorDataset."""

    def smoothed(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, target, label_smoothing=0.1)

    full = waves(200, 0, torch.float64)
    task = wave_task(torch.float64, loss=smoothed, train_data=Subset(full, list(range(30, 190))))
    members = [Member("FIX(k0=0.05)", 0, 30, 10), Member("COS(k0=0.01, k1=0.1, l=15)", 1, 30, 10)]
    for a, b in zip(run_batched(task, members), unbatched(task, members), strict=True):
        assert_same(a, b, rtol=1e-9, test_size=64)


class ListDataset(Dataset[tuple[torch.Tensor, int]]):
    """A map-style dataset without tensors: batches go through a DataLoader."""

    def __init__(self, data: TensorDataset) -> None:
        self.items = [(x, int(y)) for x, y in zip(*data.tensors, strict=True)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.items[i]


def test_a_dataset_without_tensors() -> None:
    task = wave_task(torch.float64, train_data=ListDataset(waves(96, 0, torch.float64)))
    members = [Member("FIX(k0=0.05)", 0, 20, 10), Member("FIX(k0=0.02)", 1, 20, 10)]
    for a, b in zip(run_batched(task, members), unbatched(task, members), strict=True):
        assert_same(a, b, rtol=1e-9, test_size=64)


class MixesSamples(nn.Module):
    """Subtracts the batch mean: the batched batch is K times larger, so results change."""

    def __init__(self) -> None:
        super().__init__()
        self.body = small_cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x - x.mean(0, keepdim=True))
        return out


def test_a_forward_that_mixes_samples_is_refused_on_the_first_batch() -> None:
    task = wave_task(model=MixesSamples)
    assert task_batching_problem(task) is None  # nothing visible statically
    with pytest.raises(BatchingError, match="mixes the samples"):
        run_batched(task, [Member("FIX(k0=0.05)", 0, 10), Member("FIX(k0=0.05)", 1, 10)])


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"model": lambda: nn.Sequential(nn.Flatten(), nn.BatchNorm1d(16))}, "buffers"),
        ({"optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}, "Adam"),
    ],
    ids=["batchnorm", "adam"],
)
def test_unsupported_tasks_raise_batching_error(overrides: dict[str, object], words: str) -> None:
    task = wave_task(torch.float32, **overrides)
    problem = task_batching_problem(task)
    assert problem is not None
    assert words in problem
    rng = torch.get_rng_state()
    with pytest.raises(BatchingError, match=words):
        run_batched(task, [Member("FIX(k0=0.05)", 0, 5)])
    assert torch.equal(rng, torch.get_rng_state())  # the check restores the RNGs


def test_bad_members_raise_parameter_error() -> None:
    task = wave_task()
    with pytest.raises(ParameterError):
        run_batched(task, [])
    with pytest.raises(ParameterError, match="steps"):
        run_batched(task, [Member("FIX(k0=0.05)", 0, 0)])
    with pytest.raises(ParameterError, match="eval_every"):
        run_batched(task, [Member("FIX(k0=0.05)", 0, 5, eval_every=0)])


def test_progress_is_reported_every_step() -> None:
    seen: list[tuple[int, int]] = []
    task = wave_task()
    members = [Member("FIX(k0=0.05)", 0, 4, 2), Member("FIX(k0=0.05)", 1, 6, 3)]
    results = run_batched(task, members, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(s, 6) for s in range(1, 7)]
    assert [[p.step for p in r.curve] for r in results] == [[2, 4], [3, 6]]


LANES = [
    Member("FIX(k0=0.05)", seed=0, steps=30, eval_every=10),
    Member("FIX(k0=1000)", seed=1, steps=30, eval_every=10),  # diverges
    Member("onecycle(max_lr=0.1, total_steps=30)", seed=2, steps=30, eval_every=15),
    Member("EXP(k0=0.1, gamma=0.98)", seed=3, steps=20, eval_every=10),
    Member("COS(k0=0.01, k1=0.1, l=15)", seed=4, steps=30, eval_every=10),
    Member("SIN(k0=0.01, k1=0.1, l=10)", seed=5, steps=25, eval_every=5),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_members_result_does_not_depend_on_its_stack(dtype: torch.dtype) -> None:
    """Each member alone (a stack of one) and in stacks of 2 and 6: bit-identical results.

    Members leave as their budgets end, so the stacks shrink to one member on
    the way; the loss's gradient must reach the layers in one layout whatever
    the stack's size (a stack of one once got a transposed one).
    """
    task = wave_task(dtype)
    alone = [run_batched(task, [member])[0] for member in LANES]
    pairs = [r for i in range(0, 6, 2) for r in run_batched(task, LANES[i : i + 2])]
    for stacked in (pairs, run_batched(task, LANES)):
        for a, b in zip(stacked, alone, strict=True):
            assert a.curve == b.curve
            assert a.summary() | {"wall_s": 0} == b.summary() | {"wall_s": 0}


@pytest.mark.parametrize("threads", [2, 3])
def test_lanes_side_by_side_give_the_one_thread_results(threads: int) -> None:
    """6 members in 2 or 3 lanes: each member's metrics and curve are exactly the one-lane ones."""
    task = wave_task()
    one_lane = run_batched(task, LANES)
    seen: list[tuple[int, int]] = []
    torch.set_num_threads(threads)  # the fixture restores one thread afterwards
    lanes = run_batched(task, LANES, on_progress=lambda d, t: seen.append((d, t)))
    assert torch.get_num_threads() == threads
    assert one_lane[1].diverged
    for a, b in zip(lanes, one_lane, strict=True):
        assert a.curve == b.curve
        assert a.summary() | {"wall_s": 0} == b.summary() | {"wall_s": 0}
    assert seen == [(s, 30) for s in range(1, 31)]


def test_a_failing_lane_stops_the_others_and_raises() -> None:
    task = wave_task()
    torch.set_num_threads(2)

    def stop(done: int, steps: int) -> None:
        if done == 3:
            raise KeyboardInterrupt  # what Ctrl-C in a progress bar looks like

    with pytest.raises(KeyboardInterrupt):
        run_batched(task, LANES, on_progress=stop)
    assert torch.get_num_threads() == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("lrscope-batched-lane")]


def test_a_lane_refused_on_its_first_batch_raises_batching_error() -> None:
    torch.set_num_threads(2)
    task = wave_task(model=MixesSamples)
    members = [Member("FIX(k0=0.05)", s, 10) for s in range(4)]
    with pytest.raises(BatchingError, match="mixes the samples"):
        run_batched(task, members)


@pytest.mark.parametrize(
    ("members", "threads", "sizes"),
    [(16, 2, [8, 8]), (5, 8, [3, 2]), (7, 3, [3, 2, 2]), (3, 2, [3]), (16, 1, [16])],
)
def test_lanes_hold_at_least_two_members(members: int, threads: int, sizes: list[int]) -> None:
    trials: list[Any] = list(range(members))  # ints stand in for trials: lanes only split them
    lanes = trainer._lanes(trials, threads)
    assert [len(lane) for lane in lanes] == sizes
    assert [t for lane in lanes for t in lane] == trials


# --- the engine's evaluation for every kind of task, and the fallbacks ------------------
def test_a_regression_group_scores_the_engines_metrics() -> None:
    from byo_tasks import regression

    task = regression()
    task.optimizer = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)
    members = [Member("FIX(k0=0.02)", seed=0, steps=24, eval_every=12),
               Member("TRI(k0=0.001, k1=0.05, l=6)", seed=1, steps=24, eval_every=12)]  # fmt: skip
    together = run_batched(task, members)
    for batched, member in zip(together, members, strict=True):
        alone = run_trial(task, member.policy, steps=24, seed=member.seed, eval_every=12)
        assert batched.primary_metric == alone.primary_metric == "mse"
        assert batched.metrics.keys() == alone.metrics.keys() == {
            "mse", "mae", "r2", "test_loss", "best_mse"
        }  # fmt: skip
        for name, value in alone.metrics.items():
            assert batched.metrics[name] == pytest.approx(value, rel=1e-5), name
        assert [p.primary for p in batched.curve] == pytest.approx(
            [p.primary for p in alone.curve], rel=1e-5
        )


def test_what_cannot_be_batched_says_why() -> None:
    from byo_tasks import dict_batches, step_only, three_tensors
    from lrscope.engine import Runtime

    assert (
        task_batching_problem(dict_batches()) == "its samples are dict, not (input, target) pairs"
    )
    assert task_batching_problem(three_tensors()) == "its TensorDataset holds 3 tensors"
    assert task_batching_problem(step_only()) == "the task has its own training_step function"
    task = wave_task()
    assert task_batching_problem(task) is None
    bf16 = Runtime(precision="bf16")
    assert task_batching_problem(task, bf16) == "precision bf16 (batched trials run in fp32)"
    assert task_batching_problem(task, Runtime(grad_accum_steps=2)) == (
        "gradient accumulation over 2 micro-batches"
    )
    assert task_batching_problem(task, Runtime(device="cuda")) == (
        "device 'cuda' (batched trials run on the CPU)"
    )


# lr 0.05 for six steps, then one far above float32's largest value
JUMP = "piecewise([FIX(k0=0.05), FIX(k0=1e39)], boundaries=[6])"
# grows by x38.9 per step: above float32's largest value from step 26 on
GROWING = "exp_ramp(start_lr=0.01, end_lr=1e60, steps=40)"


def _first_above_float32(spec: str, steps: int) -> int:
    policy = parse(spec)
    limit = float(torch.finfo(torch.float32).max)
    return next(t for t in range(steps) if policy(t) > limit)


def test_float64_parameters_take_an_lr_float32_cannot() -> None:
    """The ceiling follows the parameters' dtype: 1e39 is an update in float64.

    The trial still diverges, by the loss rule, after applying the first
    update, batched or not.
    """
    task = wave_task(torch.float64)
    members = [Member("FIX(k0=1e39)", seed=0, steps=10), Member("FIX(k0=0.05)", seed=0, steps=10)]
    results = run_batched(task, members)
    reference = unbatched(task, members)
    assert_same(results[1], reference[1], rtol=1e-9, test_size=64)
    # the weights the update of step 0 left hold NaNs: compare all but the losses
    assert [(r.steps_done, r.diverged_at, r.top1) for r in (results[0], reference[0])] == [
        (reference[0].steps_done, reference[0].diverged_at, reference[0].top1)
    ] * 2
    assert results[0].diverged_at is not None
    assert results[0].diverged_at >= 1
    assert not results[1].diverged


def test_lrs_above_float32_max_diverge_as_in_the_unbatched_trials() -> None:
    """A stacked update with such an lr would write infinities; the member diverges instead."""
    mlp = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))  # noqa: E731
    task = wave_task(model=mlp)
    members = [
        Member("FIX(k0=1e39)", seed=0, steps=30, eval_every=10),
        Member(JUMP, seed=1, steps=30, eval_every=3),
        Member(GROWING, seed=2, steps=40, eval_every=10),
        Member("FIX(k0=0.05)", seed=3, steps=30, eval_every=10),
    ]
    results = run_batched(task, members)
    for a, b in zip(results, unbatched(task, members), strict=True):
        assert_same(a, b, rtol=1e-6, test_size=64)
    assert [r.diverged_at for r in results[:2]] == [0, 6]
    growing = results[2].diverged_at
    assert growing is not None
    assert growing <= _first_above_float32(GROWING, 40)
    assert not results[3].diverged
    assert all(math.isfinite(p.test_loss) for r in results[:2] for p in r.curve)
