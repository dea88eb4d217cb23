"""Run one trial and measure it: :func:`run_trial`, :func:`evaluate`, batching, results.

>>> from lrscope.engine import run_trial
>>> from lrscope.tasks import get_task
>>> result = run_trial(get_task("mnist1d-cnn"), "FIX(k0=0.1)", steps=400, seed=0)
>>> result.metrics["top1"]  # doctest: +SKIP

The result types (:mod:`lrscope.engine.result`) are torch-free, so the store
and the CLI can handle results without importing torch; everything else here
is resolved lazily on first access (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrscope._lazy import lazy_exports
from lrscope.engine.result import EvalPoint, TrialKey, TrialResult
from lrscope.engine.runtime import Runtime

_LAZY: dict[str, str] = {
    "Compute": "lrscope.engine.device",
    "DeviceError": "lrscope.engine.device",
    "resolve": "lrscope.engine.device",
    "CheckpointError": "lrscope.engine.checkpoint",
    "load_checkpoint": "lrscope.engine.checkpoint",
    "save_atomic": "lrscope.engine.checkpoint",
    "BatchStream": "lrscope.engine.data",
    "as_tensors": "lrscope.engine.data",
    "batches": "lrscope.engine.data",
    "fixed_subset": "lrscope.engine.data",
    "iter_batches": "lrscope.engine.data",
    "set_seed": "lrscope.engine.data",
    "Evaluation": "lrscope.engine.evaluation",
    "evaluate": "lrscope.engine.evaluation",
    "evaluation_from_logits": "lrscope.engine.evaluation",
    "evaluation_from_outputs": "lrscope.engine.evaluation",
    "predict": "lrscope.engine.evaluation",
    "run_trial": "lrscope.engine.trial",
}

__all__ = [
    "BatchStream",
    "CheckpointError",
    "Compute",
    "DeviceError",
    "EvalPoint",
    "Evaluation",
    "Runtime",
    "TrialKey",
    "TrialResult",
    "as_tensors",
    "batches",
    "evaluate",
    "evaluation_from_logits",
    "evaluation_from_outputs",
    "fixed_subset",
    "iter_batches",
    "load_checkpoint",
    "predict",
    "resolve",
    "run_trial",
    "save_atomic",
    "set_seed",
]

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.checkpoint import CheckpointError, load_checkpoint, save_atomic
    from lrscope.engine.data import (
        BatchStream,
        as_tensors,
        batches,
        fixed_subset,
        iter_batches,
        set_seed,
    )
    from lrscope.engine.device import Compute, DeviceError, resolve
    from lrscope.engine.evaluation import (
        Evaluation,
        evaluate,
        evaluation_from_logits,
        evaluation_from_outputs,
        predict,
    )
    from lrscope.engine.trial import run_trial


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
