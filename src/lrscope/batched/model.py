"""Which models can be batched, and how a batched copy of one is built.

Supported (decided statically by :func:`batching_problem`, then confirmed on
the first batch by comparing the batched losses with the unbatched ones):

- layers with parameters: ``nn.Linear``; ``nn.Conv1d`` / ``Conv2d`` /
  ``Conv3d`` with ``groups=1`` and ``padding_mode="zeros"``; ``nn.LayerNorm``
  (those classes or subclasses that keep their ``forward``);
- anything without parameters or buffers: activations, pooling, ``Flatten``,
  ``Identity``, containers, and custom modules whose ``forward`` treats each
  sample on its own (any code that mixes samples of a batch is caught by the
  first-batch check);
- ``nn.Dropout`` and its variants only with ``p = 0``.

Not supported (the trials then run unbatched, with the reason logged): any
buffer (BatchNorm's running statistics, registered constants), BatchNorm and
InstanceNorm with running statistics, dropout with ``p > 0`` and ``RReLU``
(their random draws would differ from the unbatched run), any other layer
with parameters (embeddings, recurrent layers, attention, PReLU, transposed
or grouped convolutions), frozen parameters (``requires_grad=False``) and
lazy modules.
"""

from __future__ import annotations

import copy

from torch import nn

from lrscope.batched.conv import ConvGeometry
from lrscope.batched.layers import (
    StackedConv,
    StackedLayerNorm,
    StackedLinear,
    StackedParams,
)

__all__ = ["batching_problem", "stack_model"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_DROPOUTS = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


def _keeps_forward(module: nn.Module, base: type[nn.Module]) -> bool:
    return isinstance(module, base) and type(module).forward is base.forward


def _layer_problem(name: str, module: nn.Module) -> str | None:
    """Why a module with parameters of its own cannot be stacked, or None."""
    label = f"layer {name or '<root>'!r} ({type(module).__name__})"
    if _keeps_forward(module, nn.Linear) or _keeps_forward(module, nn.LayerNorm):
        return None
    for base in _CONVS:
        if _keeps_forward(module, base):
            assert isinstance(module, nn.modules.conv._ConvNd)
            if module.groups != 1:
                return f"{label} has groups={module.groups} (only 1 is supported)"
            if module.padding_mode != "zeros":
                return f"{label} has padding_mode={module.padding_mode!r} (only 'zeros')"
            return None
    return f"{label} has parameters and no batched implementation"


def batching_problem(model: nn.Module) -> str | None:
    """Why ``model`` cannot be trained batched (a sentence), or None when it can."""
    for name, buffer in model.named_buffers():
        shape = tuple(buffer.shape)
        return (
            f"the model has buffers (e.g. {name!r}, shape {shape}), which batching does not support"
        )
    for name, param in model.named_parameters():
        if isinstance(param, nn.parameter.UninitializedParameter):
            return f"parameter {name!r} is lazy (uninitialised)"
        if not param.requires_grad:
            return f"parameter {name!r} is frozen (requires_grad=False)"
    for name, module in model.named_modules():
        label = f"layer {name or '<root>'!r} ({type(module).__name__})"
        if isinstance(module, _DROPOUTS) and module.p > 0:
            return f"{label} draws random masks (p={module.p}), which batching would change"
        if isinstance(module, nn.RReLU):
            return f"{label} draws random slopes, which batching would change"
        if any(True for _ in module.parameters(recurse=False)):
            problem = _layer_problem(name, module)
            if problem is not None:
                return problem
    return None


def _stacked_layer(module: nn.Module, names: dict[int, str], params: StackedParams) -> nn.Module:
    def key(attr: str) -> str | None:
        value = getattr(module, attr, None)
        return None if value is None else names[id(value)]

    if isinstance(module, nn.Linear):
        weight = key("weight")
        assert weight is not None
        return StackedLinear(params, weight, key("bias"))
    if isinstance(module, nn.LayerNorm):
        shape = tuple(module.normalized_shape)
        return StackedLayerNorm(params, shape, module.eps, key("weight"), key("bias"))
    assert isinstance(module, nn.modules.conv._ConvNd)
    weight = key("weight")
    assert weight is not None
    return StackedConv(params, weight, key("bias"), ConvGeometry.of(module))


def stack_model(template: nn.Module, params: StackedParams) -> nn.Module:
    """A copy of ``template`` whose parametrised layers read their weights from ``params``.

    ``params`` maps each name of ``template.named_parameters()`` to a tensor
    of shape ``(K, *shape)``; the mapping is read at every forward pass, so
    replacing an entry (fewer members, new leaves) takes effect at once. The
    copy has no parameters of its own. ``template`` must pass
    :func:`batching_problem`; it is not modified.
    """
    model = copy.deepcopy(template)
    # A tensor shared by several layers has one name: the first one listed.
    names = {id(param): name for name, param in model.named_parameters()}
    replacements: dict[int, nn.Module] = {}
    for module in model.modules():
        if any(True for _ in module.parameters(recurse=False)):
            replacements[id(module)] = _stacked_layer(module, names, params)
    if id(model) in replacements:
        return replacements[id(model)]
    for module in model.modules():
        # _modules, not named_children(): a layer held under two names is replaced twice.
        for child_name, child in list(module._modules.items()):
            if child is not None and id(child) in replacements:
                module._modules[child_name] = replacements[id(child)]
    return model
