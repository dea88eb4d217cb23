r"""The stacked convolution: K members' ``nn.ConvNd`` computed as im2col and one batched GEMM.

Input ``x`` of shape ``(K B, C, *S)`` (member-major rows), weights ``(K, O, C, *k)``,
optional bias ``(K, O)``; groups 1, zero padding, any stride, padding and
dilation. Member ``k``'s output is

.. math::

    y_k = \mathrm{cols}(x_k) \, [W_k \mid b_k]^T, \qquad
    \mathrm{cols}(x_k) \in \mathbb{R}^{B \prod S' \times (\prod k_i C + 1)}

where the rows of :math:`\mathrm{cols}` are the zero-padded windows of
:math:`x_k` (channels-last, kernel offsets outer, channels inner) with a
column of ones for the bias. The backward pass forms
:math:`\partial L / \partial [W_k \mid b_k]` by one more batched GEMM and
:math:`\partial L / \partial x` by a third one followed by col2im: the window
gradients are summed back onto the input positions they read, either added
offset by offset onto a zeroed tensor or, where it takes fewer operations
(strided convolutions), written block by block, each block of positions once
(see :class:`_Plan`).

Layouts. The GEMM writes the output channels-last (a ``(K B, O, *S')`` view
whose channel dimension has stride 1); elementwise layers after it keep that
layout and the next convolution reads it without a copy. When the gradient
of an elementwise consumer comes back in the standard contiguous layout
instead (a ``flatten`` or ``reshape`` further on copies the activations), that
consumer's backward mixes two layouts (measured on ``mnist1d-cnn``'s last
ReLU: 40 times slower than with one). :func:`follow_gradient_layouts`, called
on the first step, watches for this, and from then on such a convolution
returns its output in the standard layout (one copy forward, one backward).
Layouts never change values.

GEMM orientation. For the weight gradient the product is formed so that its
longer side is the contiguous one (``O`` or ``prod(k) C + 1``): the BLAS
kernels run several times faster on a long contiguous dimension when the other
one is as short as a convolution's channel count.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import torch
from torch import nn
from torch.nn import functional as fn

__all__ = [
    "ConvGeometry",
    "OutputLayout",
    "conv",
    "follow_gradient_layouts",
    "member_count",
]

Index = tuple[slice | EllipsisType | int, ...]


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, dilation and zero padding (before, after) per spatial dimension."""

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]

    @classmethod
    def of(cls, module: nn.modules.conv._ConvNd) -> ConvGeometry:
        """The geometry of ``module`` (``padding="same"`` puts the odd extra row after)."""
        dims = len(module.kernel_size)
        dilation = tuple(module.dilation)
        if isinstance(module.padding, str):
            if module.padding == "valid":
                before = after = (0,) * dims
            else:  # "same": total d (k - 1), as torch pads it
                total = [d * (k - 1) for d, k in zip(dilation, module.kernel_size, strict=True)]
                before = tuple(t // 2 for t in total)
                after = tuple(t - t // 2 for t in total)
        else:
            before = after = tuple(module.padding)
        return cls(tuple(module.stride), dilation, before, after)

    @property
    def padded(self) -> bool:
        return any(self.pad_before) or any(self.pad_after)


@dataclass
class OutputLayout:
    """The layout a stacked convolution returns: channels-last, or standard when ``standard``."""

    standard: bool = False


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


Segment = tuple[slice, list[tuple[int, slice]]]


def _segments(
    size: int, out: int, stride: int, dilation: int, before: int, kernel: int
) -> list[Segment]:
    """One dimension's input positions as strided runs, each with the taps that write all of it.

    Input ``p = l * stride + o * dilation - before`` receives output ``l``'s
    tap ``o``. The positions of one residue ``r = p mod stride`` are written by
    the taps with ``o * dilation - before = r (mod stride)``, each over a run of
    consecutive positions; the runs' ends cut the residue into segments with a
    fixed set of taps. Returns ``(positions, [(tap, outputs), ...])`` pairs
    (taps in increasing order; no taps: nothing reads those positions).
    """
    segments: list[Segment] = []
    for r in range(min(stride, size)):
        count = (size - r + stride - 1) // stride  # positions r, r + stride, ... < size
        covers = []
        for o in range(kernel):
            shift = o * dilation - before
            if (r - shift) % stride == 0:
                c = (r - shift) // stride  # position index m reads output m + c
                lo, hi = max(0, -c), min(count, out - c)
                if lo < hi:
                    covers.append((o, c, lo, hi))
        cuts = sorted({0, count, *(m for _, _, lo, hi in covers for m in (lo, hi))})
        for m0, m1 in itertools.pairwise(cuts):
            taps = [(o, slice(m0 + c, m1 + c)) for o, c, lo, hi in covers if lo <= m0 and m1 <= hi]
            segments.append((slice(r + m0 * stride, r + (m1 - 1) * stride + 1, stride), taps))
    return segments


@dataclass(frozen=True)
class _Plan:
    """Index work of one geometry, kernel and input size, computed once.

    ``pad``: the zero padding of a channels-last input ``(R, *S, C)`` in
    :func:`torch.nn.functional.pad`'s order. ``col2im``: pairs
    (input index into ``(R, *S, C)``, window-gradient indices into
    ``(R, *S', *k, C)``). With ``accumulate`` there is one pair per kernel
    offset, each added onto a zeroed input gradient; otherwise the input
    positions are split into disjoint blocks, each written once with the sum
    of the window gradients that land on it (zero if none), in offset order
    either way. The second is chosen when it takes no more tensor operations:
    it reads and writes the input gradient once instead of once per offset
    (strided 1-D convolutions: 2-3 operations instead of 4, at half the memory
    traffic).
    """

    out_sizes: tuple[int, ...]
    pad: tuple[int, ...]
    col2im: tuple[tuple[Index, tuple[Index, ...]], ...]
    accumulate: bool


def _col2im_blocks(
    g: ConvGeometry, kernel: tuple[int, ...], spatial: tuple[int, ...], out: tuple[int, ...]
) -> list[tuple[Index, tuple[Index, ...]]]:
    per_dim = [
        _segments(size, n, st, d, b, k)
        for size, n, st, d, b, k in zip(
            spatial, out, g.stride, g.dilation, g.pad_before, kernel, strict=True
        )
    ]
    blocks: list[tuple[Index, tuple[Index, ...]]] = []
    for combo in itertools.product(*per_dim):
        target: Index = (slice(None), *(positions for positions, _ in combo))
        sources: list[Index] = []
        for taps in itertools.product(*(taps for _, taps in combo)):
            sources.append((slice(None), *(outputs for _, outputs in taps), *(o for o, _ in taps)))
        blocks.append((target, tuple(sources)))
    return blocks


@functools.lru_cache(maxsize=512)
def _plan(geometry: ConvGeometry, kernel: tuple[int, ...], spatial: tuple[int, ...]) -> _Plan:
    g = geometry
    out_sizes = tuple(
        (s + b + a - d * (k - 1) - 1) // st + 1
        for s, b, a, d, k, st in zip(
            spatial, g.pad_before, g.pad_after, g.dilation, kernel, g.stride, strict=True
        )
    )
    pad = [0, 0]  # channels (last) are not padded; then the spatial dims, last one first
    for b, a in zip(reversed(g.pad_before), reversed(g.pad_after), strict=True):
        pad += [b, a]
    per_dim = [
        [_tap_range(o, size, out, st, d, b) for o in range(k)]
        for size, out, st, d, b, k in zip(
            spatial, out_sizes, g.stride, g.dilation, g.pad_before, kernel, strict=True
        )
    ]
    scatter: list[tuple[Index, tuple[Index, ...]]] = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        taps = [per_dim[i][o] for i, o in enumerate(offsets)]
        if any(t.start >= t.stop for t in taps):
            continue
        target: Index = (
            slice(None),
            *(
                slice(t.start * st + o * d - b, (t.stop - 1) * st + o * d - b + 1, st)
                for t, o, st, d, b in zip(
                    taps, offsets, g.stride, g.dilation, g.pad_before, strict=True
                )
            ),
        )
        scatter.append((target, ((slice(None), *taps, *offsets),)))
    blocks = _col2im_blocks(g, kernel, spatial, out_sizes)
    block_ops = sum(max(1, len(sources) - 1) for _, sources in blocks)
    if block_ops <= 1 + len(scatter):
        return _Plan(out_sizes, tuple(pad), tuple(blocks), accumulate=False)
    return _Plan(out_sizes, tuple(pad), tuple(scatter), accumulate=True)


def _windows(
    x: torch.Tensor, kernel: tuple[int, ...], g: ConvGeometry, plan: _Plan
) -> torch.Tensor:
    """The windows of ``x`` ``(R, C, *S)``: a view ``(R, *S', C, *k)`` of a zero-padded copy."""
    xl = x.movedim(1, -1)  # (R, *S, C), a view
    xp = fn.pad(xl, plan.pad) if g.padded else xl
    windows = xp
    for i, (k, d, s) in enumerate(zip(kernel, g.dilation, g.stride, strict=True)):
        windows = windows.unfold(1 + i, d * (k - 1) + 1, s)  # appends the window dim
    if any(d > 1 for d in g.dilation):
        steps: Index = (..., *(slice(None, None, d) for d in g.dilation))
        windows = windows[steps]
    return windows


def _col2im(gcols: torch.Tensor, spatial: tuple[int, ...], plan: _Plan) -> torch.Tensor:
    """Sum window gradients ``(R, *S', *k, C)`` onto the input ``(R, C, *S)`` (channels-last)."""
    rows, channels = gcols.shape[0], gcols.shape[-1]
    if plan.accumulate:
        gx = gcols.new_zeros(rows, *spatial, channels)
        for target, (source,) in plan.col2im:
            gx[target].add_(gcols[source])
        return gx.movedim(-1, 1)
    gx = gcols.new_empty(rows, *spatial, channels)
    for target, sources in plan.col2im:
        block = gx[target]
        if not sources:
            block.zero_()
        elif len(sources) == 1:
            block.copy_(gcols[sources[0]])
        else:
            torch.add(gcols[sources[0]], gcols[sources[1]], out=block)
            for source in sources[2:]:
                block.add_(gcols[source])
    return gx.movedim(-1, 1)


def member_count(weight: torch.Tensor, rows: int) -> int:
    """K, checking that ``rows`` (the merged batch dimension) is a multiple of it."""
    count = weight.shape[0]
    if rows % count:
        raise ValueError(f"a batch of {rows} rows does not split into {count} members")
    return count


class _ConvFunction(torch.autograd.Function):
    """Stacked convolution by im2col + ``bmm`` (forward) and two ``bmm`` + col2im (backward)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        geometry: ConvGeometry,
        layout: OutputLayout,
    ) -> torch.Tensor:
        count, out_ch, in_ch, *rest = weight.shape
        kernel, rows = tuple(rest), x.shape[0]
        dims = len(kernel)
        member_count(weight, rows)
        plan = _plan(geometry, kernel, tuple(x.shape[2:]))
        windows = _windows(x, kernel, geometry, plan)
        # (R, *out, C, *k) -> (K, B * prod(out), prod(k) * C): kernel offsets outer, C inner.
        # With a bias, a column of ones is appended and the bias joins the weights,
        # so the product adds it (and the backward product sums its gradient).
        order = (0, *range(1, 1 + dims), *range(2 + dims, 2 + 2 * dims), 1 + dims)
        taps = math.prod(kernel) * in_ch
        width = taps + (bias is not None)
        cols = x.new_empty(count, rows // count * math.prod(plan.out_sizes), width)
        cols[..., :taps].view(rows, *plan.out_sizes, *kernel, in_ch).copy_(windows.permute(order))
        w_mat = weight.permute(0, 1, *range(3, 3 + dims), 2).reshape(count, out_ch, taps)
        if bias is None:
            out = torch.bmm(cols, w_mat.transpose(1, 2))
        else:
            cols[..., taps] = 1
            out = torch.bmm(cols, torch.cat([w_mat, bias.unsqueeze(2)], 2).transpose(1, 2))
        ctx.save_for_backward(cols, w_mat)
        ctx.layout = (rows, tuple(x.shape[2:]), kernel, plan)
        ctx.output_layout = layout  # read by follow_gradient_layouts
        result = out.view(rows, *plan.out_sizes, out_ch).movedim(-1, 1)
        ctx.output_shape = result.shape
        return result.contiguous() if layout.standard else result

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None, None]:
        cols, w_mat = ctx.saved_tensors
        rows, spatial, kernel, plan = ctx.layout
        count, out_ch, taps = w_mat.shape
        in_ch, dims = taps // math.prod(kernel), len(kernel)
        g3 = grad.movedim(1, -1).reshape(count, -1, out_ch)  # (K, B * prod(out), O)
        grad_w = grad_b = grad_x = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            if cols.shape[2] >= out_ch:
                gw = torch.bmm(g3.transpose(1, 2), cols)  # (K, O, taps [+ 1 for the bias])
            else:
                gw = torch.bmm(cols.transpose(1, 2), g3).transpose(1, 2)
            if ctx.needs_input_grad[1]:
                shaped = gw[..., :taps].reshape(count, out_ch, *kernel, in_ch)
                grad_w = shaped.permute(0, 1, 2 + dims, *range(2, 2 + dims)).contiguous()
            if ctx.needs_input_grad[2]:
                grad_b = gw[..., taps].contiguous()
        if ctx.needs_input_grad[0]:
            gcols = torch.bmm(g3, w_mat).view(rows, *plan.out_sizes, *kernel, in_ch)
            grad_x = _col2im(gcols, spatial, plan)
        return grad_x, grad_w, grad_b, None, None


def conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    geometry: ConvGeometry,
    layout: OutputLayout,
) -> torch.Tensor:
    """K members' convolutions: ``(K B, C, *S)`` -> ``(K B, O, *S')`` (layout: see module doc)."""
    out: torch.Tensor = _ConvFunction.apply(x, weight, bias, geometry, layout)  # type: ignore[no-untyped-call]
    return out


def _channels_outside(grad: torch.Tensor) -> bool:
    """True when ``grad`` ``(R, C, *S)`` steps over channels more slowly than over any position.

    That is the order of the standard layout (also of its slices); a
    channels-last tensor steps over channels fastest.
    """
    if grad.dim() < 3 or grad.shape[1] == 1:
        return False
    strides = grad.stride()
    return all(strides[1] > strides[i] for i in range(2, grad.dim()) if grad.shape[i] > 1)


def follow_gradient_layouts(loss: torch.Tensor) -> Callable[[], None]:
    """Watch the next backward pass of ``loss``; switch convolutions whose consumers mix layouts.

    For every stacked convolution in ``loss``'s graph, the backward nodes that
    consume its output get a one-shot hook: when the gradient reaching such a
    consumer has the shape of the convolution's output (an elementwise layer)
    and the standard layout's order (channels outside positions; a slice of a
    flattened gradient counts), not channels-last, that convolution's
    :class:`OutputLayout` becomes ``standard`` for later forward passes.
    Consumers that change the shape (pooling) are left alone: their backward
    kernels handle two layouts at full speed (measured on ``digits-lenet``,
    where switching made a step 7 % slower). Call it after the forward
    pass and before ``backward``; the returned function removes the hooks
    (call it after the backward pass).
    """
    handles: list[Any] = []
    seen: set[int] = set()
    stack = [loss.grad_fn] if loss.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        convs = [nxt for nxt, _ in node.next_functions if hasattr(nxt, "output_layout")]
        if convs:
            handles.append(node.register_prehook(_layout_hook(convs)))
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)

    def remove() -> None:
        for handle in handles:
            handle.remove()

    return remove


def _layout_hook(convs: list[Any]) -> Callable[[tuple[torch.Tensor | None, ...]], None]:
    def hook(grads: tuple[torch.Tensor | None, ...]) -> None:
        for conv_node in convs:
            for grad in grads:
                if (
                    grad is not None
                    and grad.shape == conv_node.output_shape
                    and _channels_outside(grad)
                ):
                    conv_node.output_layout.standard = True

    return hook
