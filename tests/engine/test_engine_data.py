"""Seeded, resumable batching: tensor fast path, DataLoader fallback, fixed subsample."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from lrscope.engine import BatchStream, as_tensors, batches, fixed_subset, iter_batches, set_seed


def _indexed(n: int) -> TensorDataset:
    """Inputs equal to their index, so a batch shows which samples it holds."""
    return TensorDataset(torch.arange(n).float().unsqueeze(1), torch.arange(n) % 3)


class _Listy(Dataset[tuple[torch.Tensor, int]]):
    """A map-style dataset that is not a TensorDataset (DataLoader path)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(i)]), i % 3


def _take(stream: BatchStream, k: int) -> list[list[int]]:
    return [stream.next()[0].squeeze(1).long().tolist() for _ in range(k)]


def test_epochs_are_permutations_with_a_short_last_batch() -> None:
    stream = BatchStream(_indexed(10), batch_size=4, seed=0)
    epoch1, epoch2 = _take(stream, 3), _take(stream, 3)
    assert [len(b) for b in epoch1] == [4, 4, 2]
    assert sorted(i for b in epoch1 for i in b) == list(range(10))
    assert sorted(i for b in epoch2 for i in b) == list(range(10))
    assert epoch1 != epoch2
    assert stream.epochs == 2


def test_same_seed_same_order_other_seed_other_order() -> None:
    a = _take(BatchStream(_indexed(50), 8, seed=7), 20)
    b = _take(BatchStream(_indexed(50), 8, seed=7), 20)
    c = _take(BatchStream(_indexed(50), 8, seed=8), 20)
    assert a == b
    assert a != c


def test_labels_follow_inputs() -> None:
    x, y = next(batches(_indexed(30), 30, seed=1))
    assert torch.equal(y, x.squeeze(1).long() % 3)


@pytest.mark.parametrize("cut", [1, 3, 5])
def test_state_dict_resumes_exactly(cut: int) -> None:
    full = _take(BatchStream(_indexed(10), 4, seed=3), 9)
    first = BatchStream(_indexed(10), 4, seed=3)
    _take(first, cut)
    state = first.state_dict()
    second = BatchStream(_indexed(10), 4, seed=999)
    second.load_state_dict(state)
    assert _take(second, 9 - cut) == full[cut:]


def test_dataloader_path_matches_tensor_path() -> None:
    fast = BatchStream(_indexed(23), 5, seed=4)
    slow = BatchStream(_Listy(23), 5, seed=4)
    for _ in range(12):
        (xf, yf), (xs, ys) = fast.next(), slow.next()
        assert torch.equal(xf, xs)
        assert torch.equal(yf, ys)


def test_dataloader_path_resumes_mid_epoch() -> None:
    full = _take(BatchStream(_Listy(11), 3, seed=5), 8)
    first = BatchStream(_Listy(11), 3, seed=5)
    _take(first, 2)
    second = BatchStream(_Listy(11), 3, seed=0)
    second.load_state_dict(first.state_dict())
    assert _take(second, 6) == full[2:]


def test_subset_of_tensor_dataset_uses_the_fast_path() -> None:
    subset = Subset(_indexed(10), [9, 2, 4])
    tensors = as_tensors(subset)
    assert tensors is not None
    assert tensors[0].squeeze(1).tolist() == [9.0, 2.0, 4.0]
    assert as_tensors(_Listy(3)) is None


def test_empty_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        BatchStream(_indexed(0), 4, seed=0)


def test_iter_batches_in_order() -> None:
    for data in (_indexed(7), _Listy(7)):
        seen: list[Any] = [x.squeeze(1).tolist() for x, _ in iter_batches(data, 3)]
        assert seen == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0]]


def test_fixed_subset() -> None:
    small = _indexed(20)
    assert fixed_subset(small, 20) is small
    sub = fixed_subset(_indexed(50), 10)
    again = fixed_subset(_indexed(50), 10)
    xs = sub.tensors[0].squeeze(1).tolist()  # type: ignore[attr-defined]
    assert len(xs) == 10
    assert xs == sorted(xs)
    assert xs == again.tensors[0].squeeze(1).tolist()  # type: ignore[attr-defined]
    listy = fixed_subset(_Listy(50), 10)
    assert [int(listy[i][0]) for i in range(10)] == [int(v) for v in xs]


def test_set_seed_seeds_all_three_generators() -> None:
    set_seed(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(11)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
