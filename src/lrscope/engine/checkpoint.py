"""Checkpoints and weight snapshots: tensors and plain data only, written atomically.

A checkpoint holds everything a trial needs to continue bit for bit: model and
optimizer state, the fp16 gradient scaler's state, the torch (CPU, and every
CUDA device's when CUDA is in use) / numpy / Python RNG states, the
data-order position, the steps done, the first training loss (the divergence
reference) and the evaluation curve so far. It is written to a temporary file in the same
directory and moved into place with :func:`os.replace`, so a crash never
leaves a half-written file; it is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrscope.errors import LRScopeError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_KEYS",
    "CheckpointError",
    "capture_rng",
    "cuda_rng_states",
    "load_checkpoint",
    "restore_cuda_rng_states",
    "restore_rng",
    "restoring",
    "save_atomic",
    "save_snapshot",
    "snapshot_path",
]

CHECKPOINT_FORMAT = 1


class CheckpointError(LRScopeError, ValueError):
    """A checkpoint file is unreadable or belongs to a different trial."""


def save_atomic(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj)`` to ``path`` through a temporary file and :func:`os.replace`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


CHECKPOINT_KEYS = (
    "format",
    "key",
    "step",
    "first_loss",
    "elapsed_s",
    "model",
    "optimizer",
    "rng",
    "data",
    "curve",
)
"""What every checkpoint holds (:func:`load_checkpoint` refuses one that lacks any)."""


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`lrscope.engine.run_trial` (``weights_only``).

    Raises:
        CheckpointError: the file cannot be read, is not an lrscope trial
            checkpoint, or lacks some of :data:`CHECKPOINT_KEYS` (named).
    """
    try:
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not an lrscope trial checkpoint "
            f"(format {CHECKPOINT_FORMAT})"
        )
    missing = [key for key in CHECKPOINT_KEYS if key not in data]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(path)!r} lacks {', '.join(missing)}: it is damaged or was "
            "not written by lrscope; delete it or pass another path"
        )
    return data


def cuda_rng_states() -> list[torch.Tensor] | None:
    """Every CUDA device's generator state, when CUDA is in use in this process; else None.

    Only an initialised CUDA context has states worth keeping (asking for
    them would otherwise initialise CUDA for nothing).
    """
    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):  # type: ignore[no-untyped-call]
        return None
    return list(torch.cuda.get_rng_state_all())


def restore_cuda_rng_states(states: list[torch.Tensor] | None) -> None:
    """Put back what :func:`cuda_rng_states` captured (nothing for None).

    Raises:
        CheckpointError: the states are of CUDA devices this process cannot see.
    """
    if states is None:
        return
    if not torch.cuda.is_available() or torch.cuda.device_count() < len(states):
        raise CheckpointError(
            f"the checkpoint holds the random states of {len(states)} CUDA device(s), "
            "which this machine does not have; resume it where it was written"
        )
    torch.cuda.set_rng_state_all(states)


@contextmanager
def restoring(path: str | os.PathLike[str], part: str) -> Iterator[None]:
    """A checkpoint ``part`` that does not fit (wrong weights, a mangled state) is a
    :class:`CheckpointError` naming the file, the part and what torch said."""
    try:
        yield
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        text = " ".join(str(exc).split())
        text = text if len(text) <= 240 else text[:237] + "..."
        said = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {str(path)!r}: its {part} cannot be restored ({said}); "
            "delete it or pass another path"
        ) from exc


def capture_rng() -> dict[str, Any]:
    """The torch CPU (and CUDA), numpy and Python RNG states as tensors and plain data."""
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": cuda_rng_states(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
        "python_version": int(version),
        "python_internal": [int(v) for v in internal],
        "python_gauss": gauss_next,
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng`: put the generators back where they were."""
    torch.set_rng_state(state["torch"])
    restore_cuda_rng_states(state.get("cuda"))
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(
        ("MT19937", keys, state["numpy_pos"], state["numpy_has_gauss"], state["numpy_cached"])
    )
    random.setstate(
        (state["python_version"], tuple(state["python_internal"]), state["python_gauss"])
    )


def snapshot_path(directory: str | os.PathLike[str], step: int) -> Path:
    """``directory/step_000600.pt`` for ``step = 600``."""
    return Path(directory) / f"step_{step:06d}.pt"


def save_snapshot(model: nn.Module, directory: str | os.PathLike[str], step: int) -> Path:
    """Save ``model.state_dict()`` as ``step_NNNNNN.pt`` (loadable with ``weights_only``)."""
    path = snapshot_path(directory, step)
    save_atomic(model.state_dict(), path)
    return path
