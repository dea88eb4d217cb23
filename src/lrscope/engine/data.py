"""Deterministic, resumable mini-batches without per-sample Python work.

For a :class:`~torch.utils.data.TensorDataset` of ``(inputs, labels)`` (and a
:class:`~torch.utils.data.Subset` of one) a batch is one ``index_select`` per
tensor: each epoch draws ``torch.randperm(N)`` from a :class:`torch.Generator`
seeded by the trial seed and walks it in slices of ``batch_size`` (the last
batch of an epoch may be smaller). Any other map-style dataset goes through a
:class:`~torch.utils.data.DataLoader` fed with the same index batches, so the
sample order is the same function of the seed either way.

The position in the data (generator state, current permutation, offset) is
part of :meth:`BatchStream.state_dict`, which lets a checkpointed trial resume
on exactly the batch it would have drawn next.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

__all__ = ["BatchStream", "as_tensors", "batches", "fixed_subset", "iter_batches", "set_seed"]

Batch = tuple[torch.Tensor, torch.Tensor]


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch's CPU generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def as_tensors(dataset: Dataset[Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(inputs, labels)`` when ``dataset`` is (a Subset of) a 2-tensor TensorDataset."""
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        x, y = dataset.tensors
        return x, y
    if isinstance(dataset, Subset):
        inner = as_tensors(dataset.dataset)
        if inner is not None:
            index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
            return inner[0].index_select(0, index), inner[1].index_select(0, index)
    return None


def _collate_loader(dataset: Dataset[Any], index_batches: Sequence[list[int]]) -> DataLoader[Any]:
    # A private generator: a DataLoader iterator draws a base seed from its
    # generator, which would otherwise advance torch's global RNG (dropout).
    return DataLoader(
        dataset, batch_sampler=index_batches, num_workers=0, generator=torch.Generator()
    )


class BatchStream:
    """An endless, seeded, resumable sequence of training batches.

    >>> stream = BatchStream(TensorDataset(x, y), batch_size=100, seed=0)
    >>> inputs, labels = stream.next()
    """

    def __init__(self, dataset: Dataset[Any], batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.size = len(dataset)  # type: ignore[arg-type]
        if self.size == 0:
            raise ValueError("cannot draw batches from an empty dataset")
        self.generator = torch.Generator().manual_seed(seed)
        self._tensors = as_tensors(dataset)
        self._perm: torch.Tensor | None = None
        self._position = 0
        self.epochs = 0  # permutations drawn so far
        self._loader: Iterator[Any] | None = None

    def _new_epoch(self) -> torch.Tensor:
        perm = self._perm = torch.randperm(self.size, generator=self.generator)
        self._position = 0
        self.epochs += 1
        self._loader = None
        return perm

    def next(self) -> Batch:
        """The next batch ``(inputs, labels)``; starts a new epoch when one runs out."""
        perm = self._perm
        if perm is None or self._position >= self.size:
            perm = self._new_epoch()
        start = self._position
        stop = min(start + self.batch_size, self.size)
        self._position = stop
        if self._tensors is not None:
            index = perm[start:stop]
            return self._tensors[0].index_select(0, index), self._tensors[1].index_select(0, index)
        if self._loader is None:
            rest = perm[start:].tolist()
            chunks = [rest[i : i + self.batch_size] for i in range(0, len(rest), self.batch_size)]
            self._loader = iter(_collate_loader(self.dataset, chunks))
        x, y = next(self._loader)
        return x, torch.as_tensor(y)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next()

    def state_dict(self) -> dict[str, Any]:
        """Generator state, current permutation and offset: tensors and ints only."""
        return {
            "generator": self.generator.get_state(),
            "perm": self._perm,
            "position": self._position,
            "epochs": self.epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._perm = state["perm"]
        self._position = int(state["position"])
        self.epochs = int(state["epochs"])
        self._loader = None


def batches(dataset: Dataset[Any], batch_size: int, *, seed: int = 0) -> Iterator[Batch]:
    """Endless shuffled training batches of ``dataset``, a function of ``seed`` only."""
    return iter(BatchStream(dataset, batch_size, seed))


def iter_batches(dataset: Dataset[Any], batch_size: int = 1000) -> Iterator[Batch]:
    """One pass over ``dataset`` in order, in batches of at most ``batch_size``."""
    tensors = as_tensors(dataset)
    if tensors is not None:
        x, y = tensors
        for start in range(0, x.shape[0], batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=0, generator=torch.Generator()
    )
    for x, y in loader:
        yield x, torch.as_tensor(y)


def fixed_subset(dataset: Dataset[Any], max_size: int = 10_000) -> Dataset[Any]:
    """At most ``max_size`` samples of ``dataset``, the same ones for every seed.

    The whole dataset when it is small enough; else the first ``max_size``
    entries of a permutation drawn with generator seed 0, in ascending order.
    """
    size = len(dataset)  # type: ignore[arg-type]
    if size <= max_size:
        return dataset
    index = torch.randperm(size, generator=torch.Generator().manual_seed(0))[:max_size]
    index = index.sort().values
    tensors = as_tensors(dataset)
    if tensors is not None:
        return TensorDataset(tensors[0].index_select(0, index), tensors[1].index_select(0, index))
    return Subset(dataset, index.tolist())
