"""PolicyScheduler warns once when it steps less often than the optimizer it drives."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
import torch

from lrscope.errors import LRScopeWarning
from lrscope.policies import parse
from lrscope.torch import PolicyScheduler

SPEC = "linear_decay(max_lr=0.1, total_steps=40, warmup_steps=5)"


def _sgd() -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5, momentum=0.9)


@pytest.fixture
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("every", [2, 3, 8])
def test_stepping_every_few_optimizer_steps_warns_once(every: int) -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, SPEC)
    lrs = []

    def epoch() -> None:
        for _ in range(every):
            opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])

    with pytest.warns(LRScopeWarning) as caught:
        epoch()
    for _ in range(3):
        epoch()  # no second warning (the suite turns LRScopeWarning into errors)
    assert lrs == parse(SPEC).values(5)[1:]  # still the policy, one step per epoch
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"ran once for {every} optimizer steps" in message
    assert "count optimizer steps" in message
    assert '"interval": "step"' in message
    assert caught[0].filename == __file__  # points at the caller's scheduler.step()


@pytest.mark.usefixtures("no_warnings")
def test_one_scheduler_step_per_optimizer_step_is_quiet() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, SPEC)
    for _ in range(50):
        opt.step()
        sched.step()
    assert sched.last_epoch == 50


@pytest.mark.usefixtures("no_warnings")
def test_gradient_accumulation_is_quiet() -> None:
    """The optimizer itself steps once per 4 batches, and so does the scheduler."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = PolicyScheduler(opt, SPEC)
    lrs = []
    for batch in range(32):
        x = torch.randn(4, 3)
        (model(x).square().mean() / 4).backward()
        if batch % 4 == 3:
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            opt.zero_grad()
            sched.step()
    assert lrs == parse(SPEC).values(8)


@pytest.mark.usefixtures("no_warnings")
def test_optimizer_steps_before_the_scheduler_existed_do_not_count() -> None:
    opt = _sgd()
    for _ in range(10):
        opt.step()
    sched = PolicyScheduler(opt, SPEC)
    opt.step()
    sched.step()


@pytest.mark.usefixtures("no_warnings")
def test_explicit_jumps_and_resumes_are_quiet() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, SPEC)
    for _ in range(5):
        opt.step()
    sched.step(5)  # the caller says where the schedule is
    assert opt.param_groups[0]["lr"] == parse(SPEC)(5)
    state = sched.state_dict()
    for _ in range(3):
        opt.step()
    sched.load_state_dict(state)  # resumed at step 5: count from here
    opt.step()
    sched.step()
    assert sched.last_epoch == 6


def test_after_warning_the_counting_hook_is_gone() -> None:
    opt = _sgd()
    hooks_before = len(opt._optimizer_step_post_hooks)
    sched = PolicyScheduler(opt, SPEC)
    assert len(opt._optimizer_step_post_hooks) == hooks_before + 1
    opt.step()
    opt.step()
    with pytest.warns(LRScopeWarning):
        sched.step()
    assert len(opt._optimizer_step_post_hooks) == hooks_before
    for _ in range(3):  # the class of mistake was reported; no second warning
        opt.step()
        opt.step()
        sched.step()
