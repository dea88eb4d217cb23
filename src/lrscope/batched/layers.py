r"""Stacked layers: one module that computes K copies of a layer, each with its own weights.

A batched model sees the K members' mini-batches concatenated along the batch
dimension, member-major: an input of shape ``(K * B, ...)`` whose rows
``k * B .. (k + 1) * B - 1`` belong to member ``k``. Every layer without
parameters (activations, pooling, ``flatten``, reshapes, custom ``forward``
code) then works unchanged, because it treats each sample on its own. The
layers with parameters are replaced by the classes here, which read member
``k``'s weights from a stacked tensor of shape ``(K, *weight.shape)``:

- :class:`StackedLinear` (``nn.Linear``): :math:`y_k = x_k W_k^T + b_k` as one
  ``baddbmm`` over the K members (transposed for narrow outputs).
- :class:`StackedConv` (``nn.Conv1d``, ``nn.Conv2d``, ``nn.Conv3d``; groups 1,
  zero padding, any stride, padding, dilation): im2col and one ``bmm`` with
  the members' ``(O, k_1 \cdots k_n C)`` weight matrices, with a hand-written
  backward (:mod:`lrscope.batched.conv`). The output ``(K B, O, *out)`` is
  channels-last, or standard where its gradient comes back that way.
- :class:`StackedLayerNorm` (``nn.LayerNorm``): the normalisation of each
  sample, then member ``k``'s elementwise affine.

The sum of the K members' mean losses has, with respect to member ``k``'s
weights, exactly member ``k``'s own gradient (no other term depends on them),
so one backward pass trains all members. Results equal those of the unbatched
layers up to floating-point summation order (about 1e-6 relative per layer).
"""

from __future__ import annotations

from collections.abc import MutableMapping

import torch
from torch import nn
from torch.nn import functional as fn

from lrscope.batched.conv import ConvGeometry, OutputLayout, conv, member_count

__all__ = ["StackedConv", "StackedLayerNorm", "StackedLinear", "StackedParams"]

StackedParams = MutableMapping[str, torch.Tensor]
"""Parameter name (as in ``model.named_parameters()``) -> stacked tensor ``(K, *shape)``."""


class StackedLinear(nn.Module):
    """K ``nn.Linear`` layers: input ``(K B, *, in)`` -> ``(K B, *, out)``.

    When ``out`` is smaller than a member's rows (a classifier head), the
    product is formed transposed, ``W_k x_k^T``, and copied back: the BLAS
    kernels are several times faster with the long side contiguous.
    """

    def __init__(self, params: StackedParams, weight: str, bias: str | None) -> None:
        super().__init__()
        self.params, self.weight_name, self.bias_name = params, weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.params[self.weight_name]
        count = member_count(weight, x.shape[0])
        x3 = x.reshape(count, -1, x.shape[-1])
        bias = None if self.bias_name is None else self.params[self.bias_name]
        shape = (*x.shape[:-1], weight.shape[1])
        if weight.shape[1] < x3.shape[1]:
            if bias is None:
                out_t = torch.bmm(weight, x3.transpose(1, 2))
            else:
                out_t = torch.baddbmm(bias.unsqueeze(2), weight, x3.transpose(1, 2))
            return out_t.transpose(1, 2).reshape(shape)
        if bias is None:
            out = torch.bmm(x3, weight.transpose(1, 2))
        else:
            out = torch.baddbmm(bias.unsqueeze(1), x3, weight.transpose(1, 2))
        return out.view(shape)


class StackedLayerNorm(nn.Module):
    """K ``nn.LayerNorm`` layers (each member's own elementwise affine)."""

    def __init__(
        self,
        params: StackedParams,
        shape: tuple[int, ...],
        eps: float,
        weight: str | None,
        bias: str | None,
    ) -> None:
        super().__init__()
        self.params, self.shape, self.eps = params, shape, eps
        self.weight_name, self.bias_name = weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = fn.layer_norm(x, self.shape, None, None, self.eps)
        if self.weight_name is None and self.bias_name is None:
            return y
        name = self.weight_name or self.bias_name
        assert name is not None  # for mypy: one of the two is set
        count = member_count(self.params[name], x.shape[0])
        y3 = y.reshape(count, -1, *self.shape)
        if self.weight_name is not None:
            y3 = y3 * self.params[self.weight_name].unsqueeze(1)
        if self.bias_name is not None:
            y3 = y3 + self.params[self.bias_name].unsqueeze(1)
        return y3.reshape(y.shape)


class StackedConv(nn.Module):
    """K ``nn.ConvNd`` layers (groups 1, zero padding): ``(K B, C, *S)`` -> ``(K B, O, *S')``."""

    def __init__(
        self, params: StackedParams, weight: str, bias: str | None, geometry: ConvGeometry
    ) -> None:
        super().__init__()
        self.params, self.weight_name, self.bias_name = params, weight, bias
        self.geometry = geometry
        self.layout = OutputLayout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias_name is None else self.params[self.bias_name]
        return conv(x, self.params[self.weight_name], bias, self.geometry, self.layout)
