"""Runtime: device resolution, bf16 / fp16 autocast, gradient accumulation, checkpoints.

Everything runs on the CPU: bf16 and fp16 autocast run there, and the
CUDA-only functions are exercised by standing in for torch.cuda.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.engine import CheckpointError, DeviceError, Runtime, TrialResult, resolve, run_trial
from lrscope.engine import checkpoint as ckpt
from lrscope.engine.device import cuda_available, device_of
from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.tasks import Task


# --- the value ---------------------------------------------------------------
def test_identity_holds_what_changes_results_and_round_trips() -> None:
    assert Runtime().identity == ""
    assert Runtime(device="cpu").identity == ""  # the device is not part of it
    assert Runtime(precision="bf16").identity == "bf16"
    assert Runtime(grad_accum_steps=4).identity == "accum=4"
    assert Runtime(precision="fp16", grad_accum_steps=2).identity == "fp16,accum=2"
    for runtime in (Runtime(), Runtime(precision="bf16", grad_accum_steps=3)):
        assert Runtime.from_identity(runtime.identity) == runtime
        assert Runtime.from_dict(runtime.to_dict()) == runtime
    for bad in ("fp64", "accum=1", "accum=x", "bf16,accum=1", "fp32"):
        with pytest.raises(ParameterError, match="'identity' parameter of the runtime"):
            Runtime.from_identity(bad)


def test_device_names_are_checked_before_any_torch_work() -> None:
    assert Runtime(device=" CUDA:1 ").device == "cuda:1"
    with pytest.raises(ParameterError, match=r"'device' parameter of the runtime must be a device"):
        Runtime(device="gpu")
    with pytest.raises(ParameterError, match="'grad_accum_steps' parameter of the runtime"):
        Runtime(grad_accum_steps=0)


# --- devices -------------------------------------------------------------------
@pytest.mark.skipif(cuda_available(), reason="checks the machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_one_clear_error(name: str) -> None:
    with pytest.raises(DeviceError) as info:
        resolve(Runtime(device=name))
    message = str(info.value)
    assert message.startswith(f"device '{name}' was asked for, but torch ")
    assert "sees no CUDA device on this machine; use --device cpu (or auto)" in message
    assert "\n" not in message


def test_auto_picks_cuda_else_mps_else_the_cpu() -> None:
    expected = (
        "cuda" if cuda_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert device_of("auto").type == expected
    assert resolve().device.type == expected


def test_a_cuda_index_beyond_the_devices_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_of("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match=r"'cuda:2' was asked for, but this machine has 2 CUDA"):
        device_of("cuda:2")


# --- the data and models of the equivalence tests -------------------------------------
def _task(batch_size: int, dtype: torch.dtype = torch.float64, **extra: Any) -> Task:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(192, 6, generator=generator, dtype=dtype)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 0.5).long()
    test = TensorDataset(x[:64] + 0.1, y[:64])

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3)).to(dtype)

    return Task("accum", model, TensorDataset(x, y), test, 3, batch_size=batch_size, **extra)


def _same(a: TrialResult, b: TrialResult, rtol: float) -> None:
    assert [p.step for p in a.curve] == [p.step for p in b.curve]
    for pa, pb in zip(a.curve, b.curve, strict=True):
        assert pa.train_loss == pytest.approx(pb.train_loss, rel=rtol)
        assert pa.test_loss == pytest.approx(pb.test_loss, rel=rtol)
        assert pa.top1 == pb.top1
    assert a.metrics.keys() == b.metrics.keys()


# --- gradient accumulation ---------------------------------------------------------
def test_accumulating_4_batches_of_8_equals_batches_of_32() -> None:
    """N micro-batches of B, mean gradient, equal one batch of N*B (float64, same order)."""
    big = run_trial(_task(32), "TRI(k0=0.01, k1=0.3, l=9)", steps=18, seed=1)
    small = run_trial(
        _task(8), "TRI(k0=0.01, k1=0.3, l=9)", steps=18, seed=1, runtime=Runtime(grad_accum_steps=4)
    )
    assert small.eval_every == big.eval_every == 6  # one epoch: 24 micro-batches, 6 steps
    assert small.runtime == "accum=4"
    _same(small, big, rtol=1e-10)
    unaccumulated = run_trial(_task(8), "TRI(k0=0.01, k1=0.3, l=9)", steps=18, seed=1)
    assert unaccumulated.curve[-1].train_loss != pytest.approx(big.curve[-1].train_loss, rel=1e-6)


def test_the_policy_advances_once_per_optimizer_step() -> None:
    lrs: list[float] = []
    micro: list[int] = []

    def optimizer(params: Any) -> torch.optim.Optimizer:
        opt = torch.optim.SGD(params, lr=1.0)
        opt.register_step_pre_hook(lambda o, *_: lrs.append(o.param_groups[0]["lr"]))
        return opt

    class Counting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(6, 3).double()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training:
                micro.append(x.shape[0])
            out: torch.Tensor = self.body(x)
            return out

    task = _task(8, optimizer=optimizer)
    task = Task(task.name, Counting, task.train_data, task.test_data, 3, 8, optimizer)
    spec = "TRI(k0=0.01, k1=0.3, l=4)"
    run_trial(task, spec, steps=7, eval_every=7, runtime=Runtime(grad_accum_steps=3))
    assert lrs == parse(spec).values(7)
    assert micro == [8] * 21


def test_divergence_reads_the_mean_loss_of_the_step() -> None:
    result = run_trial(_task(8), "FIX(k0=1e6)", steps=20, runtime=Runtime(grad_accum_steps=2))
    assert result.diverged
    assert result.steps_done == result.diverged_at


# --- precision -----------------------------------------------------------------
def _dtypes(task: Task, runtime: Runtime) -> tuple[list[torch.dtype], TrialResult]:
    seen: list[torch.dtype] = []
    factory = task.model

    def model() -> nn.Module:
        net = factory()
        assert isinstance(net, nn.Sequential)
        net[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))
        return net

    task = Task(task.name, model, task.train_data, task.test_data, 3, task.batch_size)
    return seen, run_trial(task, "FIX(k0=0.1)", steps=12, eval_every=6, runtime=runtime)


@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_half_precisions_autocast_on_the_cpu(precision: str, dtype: torch.dtype) -> None:
    task = _task(16, torch.float32)
    seen, result = _dtypes(task, Runtime(device="cpu", precision=precision))
    assert set(seen) == {dtype}  # training and evaluation ran under autocast
    assert result.runtime == precision
    assert not result.diverged
    _, again = _dtypes(task, Runtime(device="cpu", precision=precision))
    assert again.to_dict() | {"wall_s": 0} == result.to_dict() | {"wall_s": 0}
    _, full = _dtypes(task, Runtime(device="cpu"))
    assert full.curve[-1].train_loss != result.curve[-1].train_loss


def test_the_scaler_skips_an_overflowing_update_and_lowers_its_scale() -> None:
    compute = resolve(Runtime(device="cpu", precision="fp16"))
    assert compute.scaler is not None
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    scale = compute.scaler.get_scale()
    with compute.autocast():
        loss = model(torch.ones(4, 3)).sum()
    compute.backward(loss)
    model.weight.grad[0, 0] = float("inf")  # type: ignore[index]
    assert compute.step(optimizer) is False
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert compute.scaler.get_scale() == scale / 2
    optimizer.zero_grad()
    compute.backward(model(torch.ones(4, 3)).sum())
    assert compute.step(optimizer) is True


# --- checkpoints ----------------------------------------------------------------
def _interrupted(task: Task, path: Path, runtime: Runtime, at: int) -> TrialResult:
    def stop(done: int, total: int) -> None:
        if done == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trial(task, "FIX(k0=0.1)", steps=24, seed=2, eval_every=6, checkpoint=path,
                  checkpoint_every=4, on_progress=stop, runtime=runtime)  # fmt: skip
    return run_trial(task, "FIX(k0=0.1)", steps=24, seed=2, eval_every=6, checkpoint=path,
                     checkpoint_every=4, runtime=runtime)  # fmt: skip


def test_fp16_accumulated_trial_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    runtime = Runtime(device="cpu", precision="fp16", grad_accum_steps=2)
    task = _task(8, torch.float32)
    whole = run_trial(task, "FIX(k0=0.1)", steps=24, seed=2, eval_every=6, runtime=runtime)
    resumed = _interrupted(task, tmp_path / "t.pt", runtime, at=10)
    assert resumed.to_dict() | {"wall_s": 0} == whole.to_dict() | {"wall_s": 0}
    saved = ckpt.load_checkpoint(tmp_path / "t.pt")
    assert saved["key"]["runtime"] == "fp16,accum=2"
    assert saved["scaler"]["scale"] > 0  # the scaler's state travels with the checkpoint


def test_a_checkpoint_of_another_runtime_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.pt"
    run_trial(_task(8), "FIX(k0=0.1)", steps=6, eval_every=3, checkpoint=path)
    with pytest.raises(CheckpointError, match="belongs to trial"):
        run_trial(
            _task(8), "FIX(k0=0.1)", steps=6, eval_every=3, checkpoint=path,
            runtime=Runtime(grad_accum_steps=2),
        )  # fmt: skip


class _FakeCuda:
    """Stands in for torch.cuda on a CPU machine: two devices with a state each."""

    def __init__(self) -> None:
        self.states = [
            torch.tensor([1, 2], dtype=torch.uint8),
            torch.tensor([3], dtype=torch.uint8),
        ]
        self.restored: list[list[torch.Tensor]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
        monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: list(self.states))
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", self.restored.append)


def test_rng_capture_keeps_every_cuda_generator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = _FakeCuda()
    fake.install(monkeypatch)
    state = ckpt.capture_rng()
    assert state["cuda"] == fake.states
    ckpt.save_atomic({"rng": state}, tmp_path / "c.pt")
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)  # tensors and plain data only
    ckpt.restore_rng(loaded["rng"])
    assert [t.tolist() for t in fake.restored[0]] == [[1, 2], [3]]


def test_cuda_states_cannot_be_restored_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeCuda()
    fake.install(monkeypatch)
    state = ckpt.capture_rng()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CheckpointError, match="random states of 2 CUDA device"):
        ckpt.restore_rng(state)


def test_without_cuda_in_use_no_cuda_state_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert ckpt.capture_rng()["cuda"] is None
    ckpt.restore_rng(ckpt.capture_rng())  # and nothing to put back
