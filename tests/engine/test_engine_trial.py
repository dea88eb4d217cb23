"""run_trial: determinism, resumption, divergence, schedules, snapshots, policy driving."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from lrscope.engine import CheckpointError, TrialResult, load_checkpoint, run_trial
from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.tasks import Task

MakeTask = Callable[..., Task]


def _same_except_wall(a: TrialResult, b: TrialResult) -> None:
    da, db = a.to_dict(), b.to_dict()
    da.pop("wall_s")
    db.pop("wall_s")
    assert da == db


def test_same_seed_same_result_bit_for_bit(make_task: MakeTask) -> None:
    a = run_trial(make_task(), "TRI2(k0=0.01, k1=0.1, l=20)", steps=60, seed=1, eval_every=10)
    b = run_trial(make_task(), "TRI2(k0=0.01, k1=0.1, l=20)", steps=60, seed=1, eval_every=10)
    _same_except_wall(a, b)
    c = run_trial(make_task(), "TRI2(k0=0.01, k1=0.1, l=20)", steps=60, seed=2, eval_every=10)
    assert a.curve != c.curve


def test_result_fields(make_task: MakeTask) -> None:
    result = run_trial(
        make_task(), "STEP(k0=0.1, gamma=0.5, l=20)", steps=50, seed=0, eval_every=20
    )
    assert [p.step for p in result.curve] == [20, 40, 50]
    assert [p.lr for p in result.curve] == [0.1, 0.05, 0.025]  # lr of steps 19, 39, 49
    assert result.key.spec == "STEP(k0=0.1, gamma=0.5, l=20)"
    assert result.n_params == 3
    assert result.steps_done == 50
    assert not result.diverged
    assert result.diverged_at is None
    assert result.wall_s > 0
    best = max(result.curve, key=lambda p: p.top1)
    assert result.best_top1 == best.top1
    assert result.best_iter == min(p.step for p in result.curve if p.top1 == best.top1)
    assert result.top1 == result.curve[-1].top1
    assert result.top1 > 0.7  # well-separated blobs
    assert TrialResult.from_dict(result.to_dict()) == result


def test_default_eval_every_is_one_epoch(make_task: MakeTask) -> None:
    result = run_trial(make_task(), "FIX(k0=0.05)", steps=30, seed=0)
    assert result.eval_every == 13  # ceil(200 / 16)
    assert [p.step for p in result.curve] == [13, 26, 30]


def test_resume_gives_the_uninterrupted_result(make_task: MakeTask, tmp_path: Path) -> None:
    spec = "onecycle(max_lr=0.1, total_steps=70)"  # cycles momentum too
    reference = run_trial(make_task(), spec, steps=70, seed=5, eval_every=10)
    path = tmp_path / "trial.ckpt"

    def stop_after_33(done: int, total: int) -> None:
        if done == 33:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trial(
            make_task(),
            spec,
            steps=70,
            seed=5,
            eval_every=10,
            checkpoint=path,
            checkpoint_every=15,
            on_progress=stop_after_33,
        )
    saved = load_checkpoint(path)  # weights_only load
    assert saved["step"] == 30
    assert [p["step"] for p in saved["curve"]] == [10, 20, 30]
    resumed_steps: list[int] = []
    resumed = run_trial(
        make_task(),
        spec,
        steps=70,
        seed=5,
        eval_every=10,
        checkpoint=path,
        checkpoint_every=15,
        on_progress=lambda done, total: resumed_steps.append(done),
    )
    assert resumed_steps[0] == 31
    _same_except_wall(resumed, reference)


def test_checkpoint_of_another_trial_is_refused(make_task: MakeTask, tmp_path: Path) -> None:
    path = tmp_path / "trial.ckpt"
    run_trial(make_task(), "FIX(k0=0.05)", steps=20, seed=0, eval_every=10, checkpoint=path)
    with pytest.raises(CheckpointError, match="belongs to trial"):
        run_trial(make_task(), "FIX(k0=0.05)", steps=20, seed=1, eval_every=10, checkpoint=path)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot be read"):
        run_trial(make_task(), "FIX(k0=0.05)", steps=20, seed=0, eval_every=10, checkpoint=path)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: d.pop("optimizer"), "lacks optimizer: it is damaged"),
        (lambda d: d.update(model={"w": torch.zeros(3)}), "its model weights cannot be restored"),
        (lambda d: d.update(optimizer={"state": {}}), "its optimizer state cannot be restored"),
        (lambda d: d.update(step=99), "step 99 is outside 0 .. 20"),
        (lambda d: d.update(curve=[{"q": 1}]), "cannot be restored"),
    ],
    ids=["missing key", "other weights", "mangled optimizer", "step out of range", "bad curve"],
)
def test_a_damaged_checkpoint_is_a_checkpoint_error(
    make_task: MakeTask, tmp_path: Path, damage: Any, match: str
) -> None:
    """The right format marker is not enough: what is missing or does not fit is named."""
    path = tmp_path / "trial.ckpt"
    run_trial(make_task(), "FIX(k0=0.05)", steps=20, seed=0, eval_every=10, checkpoint=path)
    data = torch.load(path, weights_only=True)
    damage(data)
    torch.save(data, path)
    with pytest.raises(CheckpointError, match=match):
        run_trial(make_task(), "FIX(k0=0.05)", steps=20, seed=0, eval_every=10, checkpoint=path)


def test_divergence_ends_the_trial_without_raising(make_task: MakeTask) -> None:
    result = run_trial(make_task(), "FIX(k0=1000)", steps=200, seed=0, eval_every=10)
    assert result.diverged
    assert result.diverged_at is not None
    assert result.steps_done == result.diverged_at < 200
    assert result.curve[-1].step == result.steps_done
    assert TrialResult.from_dict(result.to_dict()).diverged


class _NaNNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(6, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w * float("nan")


def test_non_finite_first_loss_diverges_at_step_zero(make_task: MakeTask) -> None:
    result = run_trial(make_task(model=_NaNNet), "FIX(k0=0.1)", steps=10, seed=0)
    assert result.diverged
    assert result.diverged_at == 0
    assert result.steps_done == 0
    assert [p.step for p in result.curve] == [0]
    assert result.top1 == 0.0  # NaN logits count as wrong


def test_policy_drives_lr_and_momentum_of_sgd_and_adam(make_task: MakeTask) -> None:
    built: list[torch.optim.Optimizer] = []

    def adam(params: Any) -> torch.optim.Optimizer:
        built.append(torch.optim.Adam(params, lr=1.0, betas=(0.5, 0.99)))
        return built[-1]

    def sgd(params: Any) -> torch.optim.Optimizer:
        built.append(torch.optim.SGD(params, lr=1.0, momentum=0.5))
        return built[-1]

    spec = "onecycle(max_lr=0.01, total_steps=40)"
    policy = parse(spec)
    for factory in (adam, sgd):
        run_trial(make_task(optimizer=factory), spec, steps=25, seed=0)
        group = built[-1].param_groups[0]
        assert group["lr"] == policy(24)
        momentum = group["betas"][0] if "betas" in group else group["momentum"]
        assert momentum == policy.momentum(24)
    assert built[-1].param_groups[0]["momentum"] != 0.5


def test_snapshots_by_step_and_by_cycle(make_task: MakeTask, tmp_path: Path) -> None:
    by_step, by_cycle = tmp_path / "steps", tmp_path / "cycles"
    run_trial(
        make_task(), "FIX(k0=0.05)", steps=25, seed=0, snapshot_dir=by_step, snapshot_every=10
    )
    assert sorted(p.name for p in by_step.iterdir()) == ["step_000010.pt", "step_000020.pt"]
    run_trial(
        make_task(),
        "TRI(k0=0.01, k1=0.05, l=4)",
        steps=20,
        seed=0,
        snapshot_dir=by_cycle,
        snapshot_every_cycle=True,
    )
    assert sorted(p.name for p in by_cycle.iterdir()) == [
        "step_000008.pt",
        "step_000016.pt",
    ]
    model = make_task().model()
    model.load_state_dict(torch.load(by_cycle / "step_000016.pt", weights_only=True))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": 5, "eval_every": 0}, "eval_every"),
        ({"steps": 5, "checkpoint_every": -1}, "checkpoint_every"),
        ({"steps": 5, "snapshot_every": 2}, "snapshot_dir"),
        ({"steps": 5, "snapshot_every_cycle": True}, "snapshot_dir"),
    ],
)
def test_bad_arguments(make_task: MakeTask, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter of run_trial"):
        run_trial(make_task(), "FIX(k0=0.1)", **kwargs)


def test_non_tensor_dataset_gives_the_same_trial(make_task: MakeTask) -> None:
    task = make_task()

    class Rows(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
        def __init__(self, base: torch.utils.data.TensorDataset) -> None:
            self.base = base

        def __len__(self) -> int:
            return len(self.base)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            x, y = self.base[i]
            return x, y

    slow = dataclasses.replace(
        task,
        train_data=Rows(task.train_data),  # type: ignore[arg-type]
        test_data=Rows(task.test_data),  # type: ignore[arg-type]
    )
    a = run_trial(task, "FIX(k0=0.05)", steps=20, seed=0, eval_every=10)
    b = run_trial(slow, "FIX(k0=0.05)", steps=20, seed=0, eval_every=10)
    _same_except_wall(a, b)


def test_mnist1d_cnn_learns(tmp_path: Path) -> None:
    from lrscope.tasks import get_task

    result = run_trial(get_task("mnist1d-cnn"), "FIX(k0=0.1)", steps=160, seed=0, eval_every=80)
    assert result.top1 > 0.3  # 10 classes: well above chance after 5 epochs
    assert result.n_params == 1


def test_on_eval_sees_every_point_and_can_stop_the_trial(make_task: MakeTask) -> None:
    seen: list[int] = []

    def prune_at_20(point: Any) -> bool:
        seen.append(point.step)
        return bool(point.step >= 20)

    full = run_trial(make_task(), "FIX(k0=0.05)", steps=50, seed=0, eval_every=10)
    cut = run_trial(
        make_task(), "FIX(k0=0.05)", steps=50, seed=0, eval_every=10, on_eval=prune_at_20
    )
    assert seen == [10, 20]
    assert cut.steps_done == 20
    assert not cut.diverged
    assert cut.curve == full.curve[:2]
    assert cut.top1 == full.curve[1].top1
    listed: list[int] = []
    run_trial(make_task(), "FIX(k0=0.05)", steps=25, seed=0, eval_every=10,
              on_eval=lambda p: listed.append(p.step))  # fmt: skip
    assert listed == [10, 20, 25]
