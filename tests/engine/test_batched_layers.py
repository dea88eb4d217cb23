"""Stacked layers, the batching check and the stacked SGD against torch's own, member by member.

Everything here runs in float64, where the stacked computation must agree with
torch's layers and ``torch.optim.SGD`` to rounding (1e-10 relative).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from torch import nn

from lrscope.batched import batching_problem, stack_model
from lrscope.batched.sgd import StackedSGD, sgd_groups

K = 3
B = 5


def stacked_params(models: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
    return {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .clone()
        .requires_grad_()
        for name, _ in models[0].named_parameters()
    }


def check_against_members(models: Sequence[nn.Module], x: torch.Tensor) -> None:
    """Forward and gradients of the stacked model equal each member's own."""
    params = stacked_params(models)
    stacked = stack_model(models[0], params)
    assert not list(stacked.parameters())
    out = stacked(x)
    weights = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(5))
    (out * weights).sum().backward()
    for k, (model, xk, wk, ok) in enumerate(
        zip(models, x.detach().chunk(K), weights.chunk(K), out.chunk(K), strict=True)
    ):
        xk.requires_grad_(x.requires_grad)
        alone = model(xk)
        torch.testing.assert_close(ok, alone, rtol=1e-10, atol=1e-12)
        (alone * wk).sum().backward()
        if x.grad is not None:
            torch.testing.assert_close(x.grad.chunk(K)[k], xk.grad, rtol=1e-10, atol=1e-12)
        for name, param in model.named_parameters():
            grad = params[name].grad
            assert grad is not None
            torch.testing.assert_close(grad[k], param.grad, rtol=1e-10, atol=1e-12)


LAYERS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "linear": (
        lambda: nn.Sequential(nn.Linear(7, 4), nn.Tanh(), nn.Linear(4, 3, bias=False)),
        (7,),
    ),
    "linear-3d-input": (lambda: nn.Sequential(nn.Linear(7, 4)), (2, 7)),
    # outputs wider than a member's B = 5 rows: the untransposed product, with and without bias
    "linear-wide": (
        lambda: nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 6, bias=False)),
        (3,),
    ),
    "conv1d": (
        lambda: nn.Sequential(
            nn.Conv1d(2, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv1d(4, 3, 2, dilation=2)
        ),
        (2, 11),
    ),
    "conv1d-same": (
        lambda: nn.Sequential(nn.Conv1d(2, 3, 4, padding="same", bias=False), nn.GELU()),
        (2, 11),
    ),
    "conv2d": (
        lambda: nn.Sequential(
            nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0)),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 3, (3, 2), padding="same", dilation=(2, 1)),
        ),
        (2, 9, 6),
    ),
    "conv3d": (
        lambda: nn.Sequential(nn.Conv3d(1, 2, 2, stride=(1, 2, 1), padding=1)),
        (1, 4, 6, 3),
    ),
    "layernorm": (
        lambda: nn.Sequential(nn.Linear(6, 6), nn.LayerNorm(6), nn.Linear(6, 2)),
        (6,),
    ),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name", list(LAYERS))
def test_stacked_layers_match_each_member(name: str) -> None:
    make, shape = LAYERS[name]
    torch.manual_seed(0)
    models = [make().double() for _ in range(K)]
    x = torch.randn(K * B, *shape, dtype=torch.float64, requires_grad=True)
    check_against_members(models, x)


def test_a_custom_forward_and_shared_layers_are_batched() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(1, 3, 3, padding=1)
            self.head = nn.Linear(3 * 8, 4)
            self.again = self.head  # the same layer under two names

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.conv(x.unsqueeze(1))).flatten(1)
            out: torch.Tensor = self.again(h) + self.head(h)
            return out

    torch.manual_seed(1)
    models = [Tied().double() for _ in range(K)]
    assert batching_problem(models[0]) is None
    x = torch.randn(K * B, 8, dtype=torch.float64)
    check_against_members(models, x)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)), "buffers"),
        (nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)), "random masks"),
        (nn.Sequential(nn.Linear(3, 3), nn.RReLU()), "random slopes"),
        (nn.Sequential(nn.Linear(3, 3), nn.PReLU()), "no batched implementation"),
        (nn.Sequential(nn.Conv1d(4, 4, 3, groups=2)), "groups=2"),
        (nn.Sequential(nn.Conv1d(4, 4, 3, padding=1, padding_mode="circular")), "padding_mode"),
        (nn.Sequential(nn.Embedding(5, 3)), "no batched implementation"),
        (nn.Sequential(nn.LazyLinear(3)), "lazy"),
    ],
    ids=["batchnorm", "dropout", "rrelu", "prelu", "groups", "circular", "embedding", "lazy"],
)
def test_unsupported_models_are_named_with_a_reason(model: nn.Module, words: str) -> None:
    problem = batching_problem(model)
    assert problem is not None
    assert words in problem


def test_frozen_parameters_and_zero_dropout() -> None:
    frozen = nn.Linear(3, 3)
    frozen.weight.requires_grad_(False)
    problem = batching_problem(nn.Sequential(frozen))
    assert problem is not None
    assert "frozen" in problem
    assert batching_problem(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.0))) is None


def test_sgd_groups_refuse_other_optimizers_and_missing_parameters() -> None:
    model = nn.Linear(3, 2)
    names = {id(p): n for n, p in model.named_parameters()}
    problem = sgd_groups(torch.optim.Adam(model.parameters()), names)
    assert isinstance(problem, str)
    assert "Adam" in problem
    problem = sgd_groups(torch.optim.SGD([model.weight], lr=0.1), names)
    assert isinstance(problem, str)
    assert "'bias'" in problem


SGD_SETTINGS = [
    {"momentum": 0.9, "weight_decay": 5e-4},
    {"momentum": 0.0, "weight_decay": 1e-3},
    {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-4},
    {"momentum": 0.8, "dampening": 0.3},
    {"momentum": 0.9, "maximize": True},
]


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=lambda s: ",".join(s))
def test_stacked_sgd_equals_torch_sgd_per_member(settings: dict[str, object]) -> None:
    """Different lr and momentum per member and step, momentum 0 at some steps, two groups."""
    torch.manual_seed(2)
    models = [nn.Linear(4, 3).double() for _ in range(K)]
    optimizers = [
        torch.optim.SGD(
            [{"params": [m.weight]}, {"params": [m.bias], "weight_decay": 0.0}],  # type: ignore[arg-type]
            lr=0.1,
            **settings,  # type: ignore[arg-type]
        )
        for m in models
    ]
    names = {id(p): n for n, p in models[0].named_parameters()}
    groups = sgd_groups(optimizers[0], names)
    assert not isinstance(groups, str)
    params = stacked_params(models)
    sgd = StackedSGD(groups)
    cycles = settings["momentum"] != 0.0 and not settings.get("nesterov")
    g = torch.Generator().manual_seed(3)
    for t in range(6):
        lrs = [0.05 * (k + 1) / (t + 1) for k in range(K)]
        momenta: list[float | None] = [None] * K
        if cycles:  # member 1 cycles momentum, through 0 at step 2
            momenta[1] = 0.0 if t == 2 else 0.85 + 0.01 * t
        for k, (model, opt) in enumerate(zip(models, optimizers, strict=True)):
            for group in opt.param_groups:
                group["lr"] = lrs[k]
                if momenta[k] is not None:
                    group["momentum"] = momenta[k]
            for param in model.parameters():
                param.grad = torch.randn(param.shape, dtype=param.dtype, generator=g)
            opt.step()
        for name, stacked in params.items():
            grads = [dict(m.named_parameters())[name].grad for m in models]
            stacked.grad = torch.stack([g for g in grads if g is not None])
        sgd.step(params, lrs, momenta)
        for k, model in enumerate(models):
            for name, param in model.named_parameters():
                torch.testing.assert_close(params[name][k], param, rtol=1e-12, atol=1e-14)


def test_stacked_sgd_keep_drops_members() -> None:
    torch.manual_seed(4)
    models = [nn.Linear(2, 2).double() for _ in range(K)]
    names = {id(p): n for n, p in models[0].named_parameters()}
    groups = sgd_groups(torch.optim.SGD(models[0].parameters(), lr=0.1, momentum=0.9), names)
    assert not isinstance(groups, str)
    params = stacked_params(models)
    sgd = StackedSGD(groups)
    for param in params.values():
        param.grad = torch.ones_like(param)
    sgd.step(params, [0.1, 0.2, 0.3], [None] * K)
    sgd.keep(torch.tensor([2, 0]))
    assert all(buf.shape[0] == 2 for buf in sgd.buffers.values())
    assert all(started.tolist() == [True, True] for started in sgd.started.values())


def test_stacked_sgd_takes_the_group_path_again_after_members_leave() -> None:
    """Buffers created for all members, one member dropped: updates still equal torch's."""
    torch.manual_seed(6)
    models = [nn.Linear(3, 2).double() for _ in range(K)]
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in models]
    names = {id(p): n for n, p in models[0].named_parameters()}
    groups = sgd_groups(optimizers[0], names)
    assert not isinstance(groups, str)
    params = stacked_params(models)
    sgd = StackedSGD(groups)
    g = torch.Generator().manual_seed(7)
    kept = list(range(K))
    for t in range(4):
        if t == 2:
            kept = [0, 2]
            sgd.keep(torch.tensor(kept))
            params = {n: p.detach()[kept].clone().requires_grad_() for n, p in params.items()}
        for k in kept:
            for param in models[k].parameters():
                param.grad = torch.randn(param.shape, dtype=param.dtype, generator=g)
            optimizers[k].step()
        for name, stacked in params.items():
            grads = [dict(models[k].named_parameters())[name].grad for k in kept]
            stacked.grad = torch.stack([grad for grad in grads if grad is not None])
        sgd.step(params, [0.1] * len(kept), [None] * len(kept))
        assert sgd.complete == set(params)
        for row, k in enumerate(kept):
            for name, param in models[k].named_parameters():
                torch.testing.assert_close(params[name][row], param, rtol=1e-12, atol=1e-14)
