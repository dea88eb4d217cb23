"""Weight sets: loading (weights_only), compatibility errors, mixing, BatchNorm re-estimation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from lrscope.engine import iter_batches
from lrscope.errors import LRScopeError
from lrscope.landscape import (
    WeightsError,
    check_compatible,
    load_weights,
    mix_weights,
    recompute_batchnorm,
)
from lrscope.tasks import Task


def _states(task: Task) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    a = task.model().state_dict()
    torch.manual_seed(2)
    b = task.model().state_dict()
    a["bn.running_mean"].normal_()
    b["bn.running_mean"].normal_()
    a["bn.running_var"].uniform_(0.5, 2.0)
    b["bn.running_var"].uniform_(0.5, 2.0)
    a["bn.num_batches_tracked"].fill_(7)
    b["bn.num_batches_tracked"].fill_(40)
    return a, b


# --- loading -------------------------------------------------------------------


def test_load_raw_state_dict_file_and_mapping_agree(tiny_task: Task, tmp_path: Path) -> None:
    state = tiny_task.model().state_dict()
    torch.save(state, tmp_path / "w.pt")
    from_file = load_weights(tmp_path / "w.pt")
    from_str = load_weights(str(tmp_path / "w.pt"))
    in_memory = load_weights(state)
    assert list(from_file) == list(state)
    for key, value in state.items():
        assert torch.equal(from_file[key], value)
        assert torch.equal(from_str[key], value)
        assert torch.equal(in_memory[key], value)
        assert in_memory[key].data_ptr() != value.data_ptr()  # a copy, never an alias


def test_load_unwraps_a_checkpoint(tri_snapshots: Path) -> None:
    """The engine's trial checkpoint wraps the state under "model" (written at step 24)."""
    wrapped = load_weights(tri_snapshots / "trial.ckpt")
    raw = load_weights(tri_snapshots / "step_000024.pt")
    assert list(wrapped) == list(raw)
    assert all(torch.equal(wrapped[k], raw[k]) for k in raw)


def test_load_refuses_pickled_objects(tmp_path: Path) -> None:
    """A whole pickled module is not loadable with weights_only=True: a clear error."""
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), tmp_path / "module.pt")
    with pytest.raises(WeightsError, match=r"weights_only=True"):
        load_weights(tmp_path / "module.pt")


def test_load_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(tmp_path / "nope.pt")
    torch.save({"step": 3, "notes": "no tensors"}, tmp_path / "meta.pt")
    with pytest.raises(WeightsError, match=r"holds no model weights.*\['notes', 'step'\]"):
        load_weights(tmp_path / "meta.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    with pytest.raises(LRScopeError, match="cannot load"):
        load_weights(tmp_path / "garbage.pt")


# --- compatibility -------------------------------------------------------------


def test_mismatched_shapes_name_the_first_key_and_both_shapes(tiny_task: Task) -> None:
    narrow = tiny_task.model().state_dict()
    wide = type(tiny_task.model())(hidden=24).state_dict()
    with pytest.raises(WeightsError) as info:
        check_compatible(narrow, wide)
    message = str(info.value)
    assert "'fc1.weight'" in message
    assert "(16, 8)" in message
    assert "(24, 8)" in message


def test_mismatched_keys_name_the_missing_key(tiny_task: Task) -> None:
    a = tiny_task.model().state_dict()
    b = dict(a)
    del b["bn.running_var"]
    with pytest.raises(WeightsError, match=r"'bn.running_var' is in A but not in B"):
        check_compatible(a, b)
    with pytest.raises(WeightsError, match=r"'bn.running_var' is in second but not in first"):
        check_compatible(b, a, name_a="first", name_b="second")


def test_mismatched_dtype(tiny_task: Task) -> None:
    a = tiny_task.model().state_dict()
    b = {k: v.double() if k == "fc2.bias" else v for k, v in a.items()}
    with pytest.raises(WeightsError, match=r"'fc2.bias'.*torch.float64"):
        check_compatible(a, b)
    check_compatible(a, b, check_dtype=False)


# --- mixing --------------------------------------------------------------------


def test_ends_are_copied_bit_for_bit(tiny_task: Task) -> None:
    a, b = _states(tiny_task)
    b["fc2.bias"][0] = float("inf")  # 0 * inf would be nan
    at_a, at_b = mix_weights(a, b, 0.0), mix_weights(a, b, 1.0)
    for key in a:
        assert torch.equal(at_a[key], a[key])
        assert torch.equal(at_b[key], b[key])


@pytest.mark.parametrize("alpha", [-0.2, 0.25, 0.5, 0.9, 1.3])
def test_float_buffers_and_parameters_are_mixed_linearly(tiny_task: Task, alpha: float) -> None:
    a, b = _states(tiny_task)
    mixed = mix_weights(a, b, alpha)
    for key in ("fc1.weight", "bn.weight", "bn.running_mean", "bn.running_var"):
        expected = a[key].double() + alpha * (b[key].double() - a[key].double())
        assert torch.allclose(mixed[key].double(), expected, atol=1e-6)
        assert mixed[key].dtype == a[key].dtype


@pytest.mark.parametrize(
    ("alpha", "tracked"), [(-0.2, 7), (0.3, 7), (0.49, 7), (0.5, 40), (0.8, 40), (1.2, 40)]
)
def test_integer_buffers_come_from_the_nearer_end(
    tiny_task: Task, alpha: float, tracked: int
) -> None:
    a, b = _states(tiny_task)
    mixed = mix_weights(a, b, alpha)
    assert mixed["bn.num_batches_tracked"].dtype == torch.long
    assert int(mixed["bn.num_batches_tracked"]) == tracked


# --- BatchNorm re-estimation ---------------------------------------------------


def test_recompute_batchnorm_is_the_average_over_batches(tiny_task: Task) -> None:
    model = tiny_task.model()
    bn, fc1 = model.bn, model.fc1  # TinyBNNet's layers
    assert isinstance(bn, nn.BatchNorm1d)
    assert isinstance(fc1, nn.Linear)
    a, _ = _states(tiny_task)
    model.load_state_dict(a)
    bn.momentum = 0.1
    weights_before = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k}
    inputs = [x for x, _ in iter_batches(tiny_task.train_data, 32)]  # 192 samples: 6 batches
    model.eval()

    assert recompute_batchnorm(model, inputs) == 1

    with torch.no_grad():
        hidden = [fc1(x) for x in inputs]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    mean, var, tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
    assert mean is not None
    assert var is not None
    assert tracked is not None
    assert torch.allclose(mean, expected_mean, atol=1e-5)
    assert torch.allclose(var, expected_var, atol=1e-5)
    assert int(tracked) == len(inputs)
    assert bn.momentum == 0.1  # restored
    assert not model.training  # restored
    for key, value in weights_before.items():
        if key != "bn.num_batches_tracked":
            assert torch.equal(model.state_dict()[key], value)


def test_recompute_without_batchnorm_changes_nothing() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert recompute_batchnorm(model, [torch.randn(4, 3)]) == 0
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
