r"""Stacked layers: one module that computes K copies of a layer, each with its own weights.

A batched model sees the K members' mini-batches concatenated along the batch
dimension, member-major: an input of shape ``(K * B, ...)`` whose rows
``k * B .. (k + 1) * B - 1`` belong to member ``k``. Every layer without
parameters (activations, pooling, ``flatten``, reshapes, custom ``forward``
code) then works unchanged, because it treats each sample on its own. The
layers with parameters are replaced by the classes here, which read member
``k``'s weights from a stacked tensor of shape ``(K, *weight.shape)``:

- :class:`StackedLinear` (``nn.Linear``): :math:`y_k = x_k W_k^T + b_k` as one
  ``baddbmm`` over the K members.
- :class:`StackedConv` (``nn.Conv1d``, ``nn.Conv2d``, ``nn.Conv3d``; groups 1,
  zero padding, any stride, padding, dilation): im2col in channels-last
  layout, one ``bmm`` with the members' ``(O, k_1 \cdots k_n C)`` weight
  matrices, and a hand-written backward (col2im as :math:`\prod k_i` strided
  additions). The output is a channels-last view of shape ``(K B, O, *out)``.
- :class:`StackedLayerNorm` (``nn.LayerNorm``): the normalisation of each
  sample, then member ``k``'s elementwise affine.

The sum of the K members' mean losses has, with respect to member ``k``'s
weights, exactly member ``k``'s own gradient (no other term depends on them),
so one backward pass trains all members. Results equal those of the unbatched
layers up to floating-point summation order (about 1e-6 relative per layer).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import MutableMapping
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import torch
from torch import nn
from torch.nn import functional as fn

__all__ = ["StackedConv", "StackedLayerNorm", "StackedLinear", "StackedParams"]

StackedParams = MutableMapping[str, torch.Tensor]
"""Parameter name (as in ``model.named_parameters()``) -> stacked tensor ``(K, *shape)``."""


def _members(weight: torch.Tensor, rows: int) -> int:
    """K, checking that ``rows`` (the merged batch dimension) is a multiple of it."""
    count = weight.shape[0]
    if rows % count:
        raise ValueError(f"a batch of {rows} rows does not split into {count} members")
    return count


class StackedLinear(nn.Module):
    """K ``nn.Linear`` layers: input ``(K B, *, in)`` -> ``(K B, *, out)``."""

    def __init__(self, params: StackedParams, weight: str, bias: str | None) -> None:
        super().__init__()
        self.params, self.weight_name, self.bias_name = params, weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.params[self.weight_name]
        count = _members(weight, x.shape[0])
        x3 = x.reshape(count, -1, x.shape[-1])
        if self.bias_name is None:
            out = torch.bmm(x3, weight.transpose(1, 2))
        else:
            bias = self.params[self.bias_name]
            out = torch.baddbmm(bias.unsqueeze(1), x3, weight.transpose(1, 2))
        return out.view(*x.shape[:-1], weight.shape[1])


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
        count = _members(self.params[name], x.shape[0])
        y3 = y.reshape(count, -1, *self.shape)
        if self.weight_name is not None:
            y3 = y3 * self.params[self.weight_name].unsqueeze(1)
        if self.bias_name is not None:
            y3 = y3 + self.params[self.bias_name].unsqueeze(1)
        return y3.reshape(y.shape)


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, dilation and zero padding (before, after) per spatial dimension."""

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]

    @classmethod
    def of(cls, conv: nn.modules.conv._ConvNd) -> ConvGeometry:
        """The geometry of ``conv`` (``padding="same"`` puts the odd extra row after)."""
        dims = len(conv.kernel_size)
        dilation = tuple(conv.dilation)
        if isinstance(conv.padding, str):
            if conv.padding == "valid":
                before = after = (0,) * dims
            else:  # "same": total d (k - 1), as torch pads it
                total = [d * (k - 1) for d, k in zip(dilation, conv.kernel_size, strict=True)]
                before = tuple(t // 2 for t in total)
                after = tuple(t - t // 2 for t in total)
        else:
            before = after = tuple(conv.padding)
        return cls(tuple(conv.stride), dilation, before, after)


Index = tuple[slice | EllipsisType | int, ...]


def _inner(before: tuple[int, ...], sizes: tuple[int, ...]) -> Index:
    """Index of the unpadded part of a padded ``(KB, *S, C)`` tensor."""
    return (slice(None), *(slice(b, b + s) for b, s in zip(before, sizes, strict=True)))


def _borders(
    shape: tuple[int, ...], before: tuple[int, ...], after: tuple[int, ...]
) -> list[Index]:
    """Indices of the padding slabs of a ``(KB, *S_padded, C)`` tensor."""
    slabs: list[Index] = []
    for i, (size, b, a) in enumerate(zip(shape[1:-1], before, after, strict=True)):
        lead = (slice(None),) * (1 + i)
        if b:
            slabs.append((*lead, slice(0, b)))
        if a:
            slabs.append((*lead, slice(size - a, size)))
    return slabs


def _im2col(x: torch.Tensor, kernel: tuple[int, ...], geometry: ConvGeometry) -> torch.Tensor:
    """The windows of ``x`` ``(KB, C, *S)``: a view ``(KB, *out, C, *kernel)``, zero-padded."""
    rows, in_ch, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
    xl = x.movedim(1, -1)  # (KB, *S, C), a view
    if any(geometry.pad_before) or any(geometry.pad_after):
        sizes = zip(spatial, geometry.pad_before, geometry.pad_after, strict=True)
        xp = x.new_empty(rows, *(s + b + a for s, b, a in sizes), in_ch)
        for slab in _borders(tuple(xp.shape), geometry.pad_before, geometry.pad_after):
            xp[slab] = 0
        xp[_inner(geometry.pad_before, spatial)] = xl
    else:
        xp = xl
    windows = xp
    for i, (k, d, s) in enumerate(zip(kernel, geometry.dilation, geometry.stride, strict=True)):
        windows = windows.unfold(1 + i, d * (k - 1) + 1, s)  # appends the window dim
    if any(d > 1 for d in geometry.dilation):
        steps: Index = (..., *(slice(None, None, d) for d in geometry.dilation))
        windows = windows[steps]
    return windows


def _tap_range(offset: int, size: int, out: int, stride: int, dilation: int, before: int) -> slice:
    """The outputs ``l`` whose kernel tap ``offset`` reads a real (not padding) input.

    Output ``l`` reads input ``l * stride + offset * dilation - before``; the
    result is the slice of ``range(out)`` where that lies in ``[0, size)``.
    """
    shift = offset * dilation - before
    lo = 0 if shift >= 0 else (stride - 1 - shift) // stride
    last = size - 1 - shift
    hi = min(out, last // stride + 1) if last >= 0 else 0
    return slice(lo, max(lo, hi))


def _col2im(
    gcols: torch.Tensor, spatial: tuple[int, ...], in_ch: int, geometry: ConvGeometry
) -> torch.Tensor:
    """Sum window gradients ``(KB, *out, *kernel, C)`` back onto the input ``(KB, C, *S)``.

    Each kernel offset adds its slice to the input positions it read (padding
    taps are dropped), into a zeroed channels-last buffer of the input's size.
    """
    dims = len(spatial)
    rows, out_sizes = gcols.shape[0], tuple(gcols.shape[1 : 1 + dims])
    kernel = tuple(gcols.shape[1 + dims : -1])
    gx = gcols.new_zeros(rows, *spatial, in_ch)
    params = zip(
        spatial, out_sizes, geometry.stride, geometry.dilation, geometry.pad_before, strict=True
    )
    per_dim = [
        [_tap_range(o, size, out, s, d, b) for o in range(k)]
        for (size, out, s, d, b), k in zip(params, kernel, strict=True)
    ]
    for offsets in itertools.product(*(range(k) for k in kernel)):
        taps = [per_dim[i][o] for i, o in enumerate(offsets)]
        if any(t.start >= t.stop for t in taps):
            continue
        target: Index = (
            slice(None),
            *(
                slice(t.start * s + o * d - b, (t.stop - 1) * s + o * d - b + 1, s)
                for t, o, s, d, b in zip(
                    taps,
                    offsets,
                    geometry.stride,
                    geometry.dilation,
                    geometry.pad_before,
                    strict=True,
                )
            ),
        )
        source: Index = (slice(None), *taps, *offsets)
        gx[target] += gcols[source]
    return gx.movedim(-1, 1)


class _ConvFunction(torch.autograd.Function):
    """Stacked convolution by im2col + ``bmm`` (forward) and col2im (backward)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        geometry: ConvGeometry,
    ) -> torch.Tensor:
        count, out_ch, in_ch, *kernel = weight.shape
        dims, rows = len(kernel), x.shape[0]
        _members(weight, rows)
        windows = _im2col(x, tuple(kernel), geometry)
        out_sizes = tuple(windows.shape[1 : 1 + dims])
        # (KB, *out, C, *k) -> (K, B * prod(out), prod(k) * C): kernel offsets outer, C inner.
        # With a bias, a column of ones is appended and the bias joins the weights,
        # so the product adds it (and the backward product sums its gradient).
        order = (0, *range(1, 1 + dims), *range(2 + dims, 2 + 2 * dims), 1 + dims)
        taps = math.prod(kernel) * in_ch
        width = taps + (bias is not None)
        cols = x.new_empty(count, rows // count * math.prod(out_sizes), width)
        cols[..., :taps].view(rows, *out_sizes, *kernel, in_ch).copy_(windows.permute(order))
        w_mat = weight.permute(0, 1, *range(3, 3 + dims), 2).reshape(count, out_ch, taps)
        if bias is None:
            out = torch.bmm(cols, w_mat.transpose(1, 2))
        else:
            cols[..., taps] = 1
            out = torch.bmm(cols, torch.cat([w_mat, bias.unsqueeze(2)], 2).transpose(1, 2))
        ctx.save_for_backward(cols, w_mat)
        ctx.layout = (rows, tuple(x.shape[2:]), out_sizes, tuple(kernel), geometry)
        return out.view(rows, *out_sizes, out_ch).movedim(-1, 1)

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        cols, w_mat = ctx.saved_tensors
        rows, spatial, out_sizes, kernel, geometry = ctx.layout
        count, out_ch, taps = w_mat.shape
        in_ch, dims = taps // math.prod(kernel), len(kernel)
        g3 = grad.movedim(1, -1).reshape(count, -1, out_ch)  # (K, B * prod(out), O)
        grad_w = grad_b = grad_x = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            gw = torch.bmm(g3.transpose(1, 2), cols)  # (K, O, taps [+ 1 for the bias])
            if ctx.needs_input_grad[1]:
                shaped = gw[..., :taps].reshape(count, out_ch, *kernel, in_ch)
                grad_w = shaped.permute(0, 1, 2 + dims, *range(2, 2 + dims)).contiguous()
            if ctx.needs_input_grad[2]:
                grad_b = gw[..., taps].contiguous()
        if ctx.needs_input_grad[0]:
            gcols = torch.bmm(g3, w_mat).view(rows, *out_sizes, *kernel, in_ch)
            grad_x = _col2im(gcols, spatial, in_ch, geometry)
        return grad_x, grad_w, grad_b, None


class StackedConv(nn.Module):
    """K ``nn.ConvNd`` layers (groups 1, zero padding): ``(K B, C, *S)`` -> ``(K B, O, *S')``."""

    def __init__(
        self, params: StackedParams, weight: str, bias: str | None, geometry: ConvGeometry
    ) -> None:
        super().__init__()
        self.params, self.weight_name, self.bias_name = params, weight, bias
        self.geometry = geometry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias_name is None else self.params[self.bias_name]
        out: torch.Tensor = _ConvFunction.apply(  # type: ignore[no-untyped-call]
            x, self.params[self.weight_name], bias, self.geometry
        )
        return out
