"""Weight sets: loading, compatibility checks, linear mixing, BatchNorm re-estimation.

A *weight set* is a model ``state_dict``: an ordered mapping from names to
tensors, holding the parameters and the buffers (BatchNorm running statistics,
``num_batches_tracked``). Files are read with ``torch.load(path,
weights_only=True)``, so no pickled code ever runs.

The linear mix follows ``torch.lerp``'s convention:

.. math::

    \\theta(\\alpha) = (1 - \\alpha)\\,\\theta_A + \\alpha\\,\\theta_B

so :math:`\\alpha = 0` is weight set A and :math:`\\alpha = 1` is weight set B,
bit for bit (both ends are copied, not computed). Smith and Topin (2017,
section 3) write :math:`\\alpha\\,net_1 + (1 - \\alpha)\\,net_2`: the same line
with :math:`net_1 = B`, :math:`net_2 = A`, and the same :math:`\\alpha`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrscope.landscape.result import LandscapeError

__all__ = [
    "WEIGHT_KEYS",
    "StateDict",
    "WeightsError",
    "check_compatible",
    "load_weights",
    "mix_weights",
    "recompute_batchnorm",
]

StateDict = dict[str, torch.Tensor]

#: Keys under which a checkpoint file may wrap the model's state_dict, tried
#: in this order (the engine's checkpoints use ``"model"``).
WEIGHT_KEYS: tuple[str, ...] = ("model", "model_state", "model_state_dict", "state_dict")


class WeightsError(LandscapeError):
    """A weight file cannot be read, or two weight sets do not fit together."""


def _describe(source: object) -> str:
    return str(source) if isinstance(source, (str, Path)) else "the given state_dict"


def _as_state_dict(obj: object, source: object) -> StateDict:
    """``obj`` itself when it maps names to tensors, else the state it wraps."""
    if isinstance(obj, Mapping):
        if obj and all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
            return {str(k): v for k, v in obj.items()}
        for key in WEIGHT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return _as_state_dict(inner, source)
    kind = type(obj).__name__
    keys = sorted(str(k) for k in obj) if isinstance(obj, Mapping) else []
    raise WeightsError(
        f"{_describe(source)} holds no model weights: expected a state_dict (names -> "
        f"tensors) or a checkpoint wrapping one under {list(WEIGHT_KEYS)}; "
        f"got a {kind}" + (f" with keys {keys[:8]}" if keys else "")
    )


def load_weights(source: str | Path | Mapping[str, Any]) -> StateDict:
    """The weight set in ``source``: a file path or an in-memory mapping.

    Files are loaded on the CPU with ``weights_only=True``. Both a raw
    ``state_dict`` and a checkpoint that wraps it (under one of
    :data:`WEIGHT_KEYS`, as the engine's resumable checkpoints do) are
    accepted. The returned tensors are detached copies: mixing never aliases
    the caller's model.

    Raises:
        WeightsError: missing or unreadable file, or no weights inside.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise WeightsError(f"weight file {str(path)!r} does not exist or is not a file")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises pickle, zip and runtime errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WeightsError(
                f"cannot load {str(path)!r} with torch.load(weights_only=True): {first}"
            ) from exc
    else:
        obj = source
    state = _as_state_dict(obj, source)
    return {k: v.detach().to("cpu").clone() for k, v in state.items()}


def check_compatible(
    a: Mapping[str, torch.Tensor],
    b: Mapping[str, torch.Tensor],
    *,
    name_a: str = "A",
    name_b: str = "B",
    check_dtype: bool = True,
    hint: str = "interpolation needs two weight sets of the same architecture",
) -> None:
    """Raise unless ``a`` and ``b`` have the same keys, shapes and (optionally) dtypes.

    The message names the first key (in ``a``'s order) that differs, with
    both shapes, so a different architecture is recognisable at a glance.

    Raises:
        WeightsError: the weight sets belong to different architectures.
    """
    only_a = [k for k in a if k not in b]
    only_b = [k for k in b if k not in a]
    if only_a or only_b:
        key, side, other = (only_a[0], name_a, name_b) if only_a else (only_b[0], name_b, name_a)
        raise WeightsError(
            f"weight sets do not match: key {key!r} is in {side} but not in {other} "
            f"({len(only_a)} key(s) only in {name_a}, {len(only_b)} only in {name_b}); {hint}"
        )
    for key, ta in a.items():
        tb = b[key]
        if ta.shape != tb.shape or (check_dtype and ta.dtype != tb.dtype):
            raise WeightsError(
                f"weight sets do not match at key {key!r}: {name_a} has shape "
                f"{tuple(ta.shape)} ({ta.dtype}), {name_b} has shape {tuple(tb.shape)} "
                f"({tb.dtype}); {hint}"
            )


def _is_continuous(t: torch.Tensor) -> bool:
    return torch.is_floating_point(t) or torch.is_complex(t)


def mix_weights(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], alpha: float
) -> StateDict:
    """The weight set :math:`(1 - \\alpha)\\,A + \\alpha\\,B`, key by key.

    - Floating tensors (parameters, BatchNorm ``running_mean`` and
      ``running_var``) are mixed linearly; any real ``alpha`` is allowed, so
      values outside [0, 1] extrapolate along the line.
    - Integer and boolean tensors (``num_batches_tracked``) cannot be mixed:
      they are taken from the nearer end, A for ``alpha < 0.5``, B otherwise.
    - ``alpha == 0`` returns a copy of A and ``alpha == 1`` a copy of B, bit
      for bit (``0 * x`` is not ``0`` when ``x`` is infinite).

    The caller checks compatibility first (:func:`check_compatible`).
    """
    if alpha == 0.0:
        return {k: v.clone() for k, v in a.items()}
    if alpha == 1.0:
        return {k: b[k].clone() for k in a}
    mixed: StateDict = {}
    for key, ta in a.items():
        tb = b[key]
        if _is_continuous(ta):
            mixed[key] = (1.0 - alpha) * ta + alpha * tb
        else:
            mixed[key] = (ta if alpha < 0.5 else tb).clone()
    return mixed


def _batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


def recompute_batchnorm(
    model: nn.Module,
    inputs: Iterable[Any],
    forward: Callable[[nn.Module, Any], object] | None = None,
) -> int:
    """Re-estimate every BatchNorm layer's running statistics on ``inputs``.

    The running statistics are reset, each layer's ``momentum`` is set to
    ``None`` (so PyTorch keeps the cumulative average over batches:
    :math:`\\hat\\mu = \\frac{1}{n}\\sum_i \\mu_i` over the ``n`` batches, same for
    the unbiased variance), and the model does forward passes in train mode
    under ``torch.no_grad()``: ``model(x)`` for each of ``inputs``, or
    ``forward(model, batch)`` for each batch when given (a task's
    :meth:`~lrscope.tasks.batches.BatchSteps.forward`). Momenta and the
    train/eval mode are restored afterwards; the weights are untouched.

    Returns:
        The number of BatchNorm layers updated (0 leaves the model as it was).
    """
    layers = _batchnorm_layers(model)
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    was_training = model.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    model.train()
    try:
        with torch.no_grad():
            for x in inputs:
                if forward is None:
                    model(x)
                else:
                    forward(model, x)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        model.train(was_training)
    return len(layers)
