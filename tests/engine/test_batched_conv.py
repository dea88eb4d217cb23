"""The stacked convolution (lrscope.batched.conv) against torch's, member by member, in float64.

Property tests draw 1-D and 2-D geometries (kernel, stride, dilation, zero
padding, sizes, with and without bias), so both col2im plans (accumulating
per offset, or writing disjoint blocks once) are exercised; every output and
gradient must equal torch's to rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as fn

from lrscope.batched import stack_model
from lrscope.batched.conv import ConvGeometry, OutputLayout, _plan, conv, follow_gradient_layouts
from lrscope.batched.layers import StackedConv

K = 2
B = 3


Geometry = tuple[tuple[int, ...], dict[str, tuple[int, ...]], tuple[int, ...]]


@st.composite
def geometries(draw: st.DrawFn) -> Geometry:
    """(kernel, conv keyword arguments, input size) with at least one output position."""
    dims = draw(st.integers(1, 2))
    kernel, stride, dilation, padding, size = [], [], [], [], []
    for _ in range(dims):
        k, d, p = draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(0, 2))
        span = d * (k - 1) + 1
        kernel.append(k)
        dilation.append(d)
        padding.append(p)
        stride.append(draw(st.integers(1, 3)))
        size.append(draw(st.integers(max(1, span - 2 * p), span + 6)))
    options = {"stride": tuple(stride), "dilation": tuple(dilation), "padding": tuple(padding)}
    return tuple(kernel), options, tuple(size)


def _bias(layer: nn.Conv1d | nn.Conv2d) -> torch.Tensor:
    assert layer.bias is not None
    return layer.bias.detach()


@settings(max_examples=60, deadline=None)
@given(
    geometry=geometries(),
    in_ch=st.integers(1, 3),
    out_ch=st.integers(1, 3),
    bias=st.booleans(),
    standard=st.booleans(),
)
def test_stacked_conv_equals_torch_for_any_geometry(
    geometry: Geometry,
    in_ch: int,
    out_ch: int,
    bias: bool,
    standard: bool,
) -> None:
    kernel, options, size = geometry
    layer: Callable[..., nn.Conv1d | nn.Conv2d] = nn.Conv1d if len(kernel) == 1 else nn.Conv2d
    g = torch.Generator().manual_seed(0)
    convs = [layer(in_ch, out_ch, kernel, bias=bias, **options).double() for _ in range(K)]
    weight = torch.stack([c.weight.detach() for c in convs]).requires_grad_()
    stacked_bias = torch.stack([_bias(c) for c in convs]).requires_grad_() if bias else None
    x = torch.randn(K * B, in_ch, *size, dtype=torch.float64, generator=g, requires_grad=True)
    out = conv(x, weight, stacked_bias, ConvGeometry.of(convs[0]), OutputLayout(standard))
    assert out.is_contiguous() if standard else out.movedim(1, -1).is_contiguous()
    upstream = torch.randn(out.shape, dtype=torch.float64, generator=g)
    (out * upstream).sum().backward()
    parts = zip(convs, x.detach().chunk(K), upstream.chunk(K), strict=True)
    for k, (c, xk, uk) in enumerate(parts):
        xk.requires_grad_()
        alone = c(xk)
        torch.testing.assert_close(out.chunk(K)[k], alone, rtol=1e-10, atol=1e-12)
        (alone * uk).sum().backward()
        assert x.grad is not None
        assert weight.grad is not None
        torch.testing.assert_close(x.grad.chunk(K)[k], xk.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(weight.grad[k], c.weight.grad, rtol=1e-10, atol=1e-12)
        if stacked_bias is not None:
            assert stacked_bias.grad is not None
            assert c.bias is not None
            torch.testing.assert_close(stacked_bias.grad[k], c.bias.grad, rtol=1e-10, atol=1e-12)


def test_both_col2im_plans_are_used() -> None:
    """Strided 1-D convolutions write disjoint blocks; stride-1 2-D ones accumulate."""
    strided = _plan(ConvGeometry((2,), (1,), (1,), (1,)), (3,), (19,))
    assert not strided.accumulate
    assert [len(sources) for _, sources in strided.col2im] == [1, 2]  # even, odd positions
    dense = _plan(ConvGeometry((1, 1), (1, 1), (1, 1), (1, 1)), (3, 3), (8, 8))
    assert dense.accumulate
    assert len(dense.col2im) == 9


class ConvHead(nn.Module):
    """conv -> ReLU -> conv -> ReLU -> flatten: the last ReLU sees a flattened gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv1d(2, 4, 3, stride=2, padding=1)
        self.second = nn.Conv1d(4, 3, 3, padding=1)
        self.pooled = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.MaxPool1d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.second(torch.relu(self.first(x)))).flatten(1)
        return torch.cat([h, self.pooled(x).flatten(1)], 1)


def _stacked(models: list[nn.Module]) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .clone()
        .requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    return stack_model(models[0], params), params


def test_output_layouts_follow_the_gradients_and_never_change_values() -> None:
    torch.manual_seed(3)
    models: list[nn.Module] = [ConvHead().double() for _ in range(K)]
    x = torch.randn(K * B, 2, 12, dtype=torch.float64)
    model, params = _stacked(models)
    layers = {name: m for name, m in model.named_modules() if isinstance(m, StackedConv)}
    before = model(x)
    weights = torch.randn(before.shape, dtype=torch.float64)  # a dense gradient, as a loss gives
    loss = (before * weights).sum()
    unwatch = follow_gradient_layouts(loss)
    loss.backward()
    unwatch()
    grads = {name: p.grad.clone() for name, p in params.items() if p.grad is not None}
    # Only the convolution whose ReLU gets a flattened gradient switches; pooling does not.
    assert {name: m.layout.standard for name, m in layers.items()} == {
        "first": False,
        "second": True,
        "pooled.0": False,
    }
    for p in params.values():
        p.grad = None
    after = model(x)
    (after * weights).sum().backward()
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    for name, p in params.items():
        torch.testing.assert_close(p.grad, grads[name], rtol=0, atol=0)


def test_a_batch_that_does_not_split_into_members_is_refused() -> None:
    weight, geometry = torch.zeros(3, 2, 1, 3), ConvGeometry((1,), (1,), (0,), (0,))
    with pytest.raises(ValueError, match="does not split into 3 members"):
        conv(torch.zeros(4, 1, 5), weight, None, geometry, OutputLayout())


def test_unwatched_steps_keep_the_channels_last_output() -> None:
    torch.manual_seed(4)
    models: list[nn.Module] = [ConvHead().double() for _ in range(K)]
    model, _ = _stacked(models)
    model(torch.randn(K * B, 2, 12, dtype=torch.float64)).sum().backward()
    assert not any(m.layout.standard for m in model.modules() if isinstance(m, StackedConv))
    out = fn.relu(model.first(torch.randn(K * B, 2, 12, dtype=torch.float64)))  # type: ignore[operator]
    assert out.movedim(1, -1).is_contiguous()
