"""Deterministic, resumable mini-batches without per-sample Python work.

For a :class:`~torch.utils.data.TensorDataset` (of any number of tensors:
``(inputs, labels)``, ``(x1, x2, y)``, ...) and a
:class:`~torch.utils.data.Subset` of one, a batch is one ``index_select`` per
tensor: each epoch draws ``torch.randperm(N)`` from a :class:`torch.Generator`
seeded by the trial seed and walks it in slices of ``batch_size`` (the last
batch of an epoch may be smaller). Any other map-style dataset goes through a
:class:`~torch.utils.data.DataLoader` fed with the same index batches and
torch's ``default_collate`` (samples that are dicts, tuples, lists or
namedtuples of tensors and numbers collate into one batch of the same
structure), so the sample order is the same function of the seed either way.
A batch is handed on as it comes; :mod:`lrscope.tasks.batches` reads it.

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

from lrscope.errors import DataError

__all__ = [
    "BatchStream",
    "as_tensors",
    "batches",
    "fixed_subset",
    "iter_batches",
    "set_seed",
    "tensor_columns",
]

Batch = Any
"""A collated batch: a tuple of tensors for a TensorDataset, else what ``default_collate`` gives."""


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch's CPU generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def tensor_columns(dataset: Dataset[Any]) -> tuple[torch.Tensor, ...] | None:
    """The tensors of ``dataset`` when it is (a Subset of) a TensorDataset, else None."""
    if isinstance(dataset, TensorDataset):
        return tuple(dataset.tensors)
    if isinstance(dataset, Subset):
        inner = tensor_columns(dataset.dataset)
        if inner is not None:
            index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
            return tuple(t.index_select(0, index) for t in inner)
    return None


def as_tensors(dataset: Dataset[Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(inputs, labels)`` when ``dataset`` is (a Subset of) a 2-tensor TensorDataset."""
    columns = tensor_columns(dataset)
    if columns is None or len(columns) != 2:
        return None
    return columns[0], columns[1]


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

    Raises:
        DataError: an empty dataset.
    """

    def __init__(self, dataset: Dataset[Any], batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.size = len(dataset)  # type: ignore[arg-type]
        if self.size == 0:
            raise DataError("cannot draw training batches from an empty dataset")
        self.generator = torch.Generator().manual_seed(seed)
        self._tensors = tensor_columns(dataset)
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
        """The next batch; starts a new epoch when one runs out."""
        perm = self._perm
        if perm is None or self._position >= self.size:
            perm = self._new_epoch()
        start = self._position
        stop = min(start + self.batch_size, self.size)
        self._position = stop
        if self._tensors is not None:
            index = perm[start:stop]
            return tuple(t.index_select(0, index) for t in self._tensors)
        if self._loader is None:
            rest = perm[start:].tolist()
            chunks = [rest[i : i + self.batch_size] for i in range(0, len(rest), self.batch_size)]
            self._loader = iter(_collate_loader(self.dataset, chunks))
        return next(self._loader)

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
    tensors = tensor_columns(dataset)
    if tensors is not None:
        for start in range(0, tensors[0].shape[0], batch_size):
            yield tuple(t[start : start + batch_size] for t in tensors)
        return
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=0, generator=torch.Generator()
    )
    yield from loader


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
    tensors = tensor_columns(dataset)
    if tensors is not None:
        return TensorDataset(*(t.index_select(0, index) for t in tensors))
    return Subset(dataset, index.tolist())
