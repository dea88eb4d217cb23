"""lrscope with a real Hugging Face Trainer on a tiny GPT-2 built from a config (no download)."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

import lrscope.huggingface
from lrscope.errors import ParameterError
from lrscope.huggingface import HF_SCHEDULES, policy_from_hf, policy_from_training_args
from lrscope.policies import parse
from lrscope.torch import PolicyScheduler
from spec_testlib import unrounded

VOCAB, LENGTH = 32, 8


def tiny_gpt2() -> transformers.GPT2LMHeadModel:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_positions=LENGTH,
        n_embd=16,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


def dataset(n: int = 64) -> list[dict[str, torch.Tensor]]:
    """A synthetic language: each sequence counts up modulo the vocabulary."""
    generator = torch.Generator().manual_seed(0)
    starts = torch.randint(0, VOCAB, (n, 1), generator=generator)
    ids = (starts + torch.arange(LENGTH)) % VOCAB
    return [{"input_ids": row, "labels": row} for row in ids]


def training_args(root: Path, **overrides: Any) -> transformers.TrainingArguments:
    settings: dict[str, Any] = {
        "output_dir": str(root),
        "per_device_train_batch_size": 8,
        "max_steps": 12,
        "learning_rate": 1e-3,
        "use_cpu": True,
        "report_to": "none",
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "seed": 0,
    }
    return transformers.TrainingArguments(**{**settings, **overrides})


def train(
    args: transformers.TrainingArguments, spec: str, resume: str | None = None
) -> tuple[list[float], list[float]]:
    """lr and AdamW beta1 of every optimizer step of a Trainer driven by PolicyScheduler(spec)."""
    model = tiny_gpt2()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)  # the policy sets the lr
    lrs: list[float] = []
    betas: list[float] = []

    def record(opt: torch.optim.Optimizer, *_: Any) -> None:
        lrs.append(opt.param_groups[0]["lr"])
        betas.append(opt.param_groups[0]["betas"][0])

    optimizer.register_step_pre_hook(record)
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=dataset(),
        # Trainer takes any LRScheduler; transformers annotates the pair's second as LambdaLR
        optimizers=(optimizer, PolicyScheduler(optimizer, spec)),  # type: ignore[arg-type]
    )
    trainer.train(resume_from_checkpoint=resume)
    return lrs, betas


@pytest.mark.parametrize(
    "spec",
    [
        "warmup_cosine(max_lr=0.001, total_steps=10, warmup_steps=3, min_lr=1e-05)",
        "wsd(max_lr=0.002, total_steps=11, warmup_steps=2, decay_steps=4, decay_shape=sqrt)",
        "onecycle(max_lr=0.003, total_steps=12)",  # also cycles AdamW's beta1
    ],
)
def test_trainer_follows_the_policy_every_optimizer_step(tmp_path: Path, spec: str) -> None:
    lrs, betas = train(training_args(tmp_path), spec)
    policy = parse(spec)
    assert lrs == policy.values(12)
    if policy.has_momentum:
        assert betas == policy.momentum_values(12)


def test_gradient_accumulation_follows_optimizer_steps(tmp_path: Path) -> None:
    spec = "linear_decay(max_lr=0.001, total_steps=5, warmup_steps=2)"
    args = training_args(tmp_path, max_steps=6, gradient_accumulation_steps=2)
    lrs, _ = train(args, spec)  # 12 batches, 6 updates; no step-frequency warning
    assert lrs == parse(spec).values(6)


def test_resume_from_checkpoint_continues_the_schedule(tmp_path: Path) -> None:
    spec = "inverse_sqrt(max_lr=0.001, warmup_steps=3)"
    args = training_args(tmp_path, max_steps=8, save_strategy="steps", save_steps=4)
    straight, _ = train(args, spec)
    resumed, _ = train(args, spec, resume=str(tmp_path / "checkpoint-4"))
    assert straight == parse(spec).values(8)
    assert resumed == straight[4:]


# --- the Trainer's own schedules as lrscope policies ------------------------------

TRAINER_SCHEDULES = [
    ("linear", {"warmup_steps": 5}),
    ("cosine", {"warmup_steps": 0.1}),  # a share of the steps, rounded up
    ("cosine_with_min_lr", {"warmup_steps": 3, "lr_scheduler_kwargs": {"min_lr_rate": 0.1}}),
    ("polynomial", {"warmup_steps": 4, "lr_scheduler_kwargs": {"power": 2.0, "lr_end": 1e-5}}),
    ("inverse_sqrt", {"warmup_steps": 6}),
    ("inverse_sqrt", {"lr_scheduler_kwargs": {"timescale": 7}}),
    (
        "warmup_stable_decay",
        {
            "warmup_steps": 5,
            "lr_scheduler_kwargs": '{"num_decay_steps": 10, "decay_type": "1-sqrt", '
            '"warmup_type": "cosine", "min_lr_ratio": 0.05}',
        },
    ),
    ("constant_with_warmup", {"warmup_steps": 8}),
    ("constant", {}),
]


@pytest.mark.parametrize(("kind", "extra"), TRAINER_SCHEDULES)
def test_policy_from_training_args_equals_the_trainers_schedule(
    tmp_path: Path, kind: str, extra: dict[str, Any]
) -> None:
    total = 40
    args = training_args(tmp_path, lr_scheduler_type=kind, max_steps=total, **extra)
    trainer = transformers.Trainer(model=tiny_gpt2(), args=args, train_dataset=dataset())
    trainer.create_optimizer_and_scheduler(num_training_steps=total)
    optimizer, scheduler = trainer.optimizer, trainer.lr_scheduler
    assert optimizer is not None
    assert scheduler is not None
    policy = policy_from_training_args(args, total)
    steps = total + 1 if kind.startswith("cosine") else total + 20  # see test_warmup_references
    theirs = []
    for _ in range(steps):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: changes nothing, keeps torch's order check quiet
        scheduler.step()
    assert policy.values(steps) == pytest.approx(theirs, rel=1e-12, abs=0.0)
    assert parse(policy.spec) == policy


def test_policy_from_hf_names_what_has_no_equivalent() -> None:
    with pytest.raises(ParameterError) as info:
        policy_from_hf("cosine_with_restarts", learning_rate=0.1, num_training_steps=100)
    for name in HF_SCHEDULES:
        assert repr(name) in str(info.value)
    with pytest.raises(ParameterError, match="num_cycles"):
        policy_from_hf(
            "cosine",
            learning_rate=0.1,
            num_training_steps=100,
            scheduler_specific_kwargs={"num_cycles": 2},
        )
    with pytest.raises(ParameterError, match="takes none named power"):
        policy_from_hf(
            "linear",
            learning_rate=0.1,
            num_training_steps=9,
            scheduler_specific_kwargs={"power": 2},
        )
    with pytest.raises(ParameterError, match="num_training_steps"):
        policy_from_hf("linear", learning_rate=0.1)
    with pytest.raises(ParameterError, match="'warmup_steps' parameter of linear_decay"):
        policy_from_hf("linear", learning_rate=0.1, num_warmup_steps=10, num_training_steps=10)
    with pytest.raises(ParameterError, match="num_decay_steps"):
        policy_from_hf("warmup_stable_decay", learning_rate=0.1, num_training_steps=10)
    scheduler_type = transformers.SchedulerType("inverse_sqrt")
    assert policy_from_hf(scheduler_type, learning_rate=0.1).spec == (
        "inverse_sqrt(max_lr=0.1, warmup_steps=0, timescale=10000)"
    )


def test_docstring_examples() -> None:
    failed, attempted = doctest.testmod(lrscope.huggingface)
    assert (failed, attempted > 0) == (0, True)


# --- lrscope's range test on a Trainer ------------------------------------------------
def test_range_test_on_a_trainer_restores_model_and_optimizer(tmp_path: Path) -> None:
    model = tiny_gpt2()
    trainer = transformers.Trainer(
        model=model, args=training_args(tmp_path), train_dataset=dataset()
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = lrscope.huggingface.range_test(trainer, steps=24, end_lr=0.5)
    assert found.steps_done == 24
    assert found.suggestions is not None
    assert min(found.loss) < found.loss[0]  # the tiny model learns the counting language
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert trainer.optimizer is None  # the Trainer still creates its own when it trains


def test_a_range_test_before_training_is_invisible_to_the_schedule_and_buffers(
    tmp_path: Path,
) -> None:
    """The Trainer's own PolicyScheduler and a non-persistent buffer do not see the test."""
    spec = "onecycle(max_lr=0.003, total_steps=12)"
    model = tiny_gpt2()
    model.register_buffer("forwards", torch.zeros(()), persistent=False)

    def count(module: torch.nn.Module, args: object) -> None:
        module.get_buffer("forwards").add_(1)

    model.register_forward_pre_hook(count)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)
    trainer = transformers.Trainer(
        model=model,
        args=training_args(tmp_path),
        train_dataset=dataset(),
        optimizers=(optimizer, PolicyScheduler(optimizer, spec)),  # type: ignore[arg-type]
    )
    found = lrscope.huggingface.range_test(trainer, steps=24, end_lr=0.5)
    assert found.steps_done == 24
    assert float(model.get_buffer("forwards")) == 0
    lrs: list[float] = []
    optimizer.register_step_pre_hook(lambda opt, *_: lrs.append(opt.param_groups[0]["lr"]))
    trainer.train()  # the suite turns a "ran once for N optimizer steps" warning into an error
    assert lrs == parse(spec).values(12)
    assert float(model.get_buffer("forwards")) == 12


def test_range_test_follows_the_trainers_accumulation_and_precision(tmp_path: Path) -> None:
    args = training_args(tmp_path, gradient_accumulation_steps=2, bf16=True)
    runtime = lrscope.huggingface.runtime_from_training_args(args)
    assert (runtime.precision, runtime.grad_accum_steps) == ("bf16", 2)
    trainer = transformers.Trainer(model=tiny_gpt2(), args=args, train_dataset=dataset())
    found = lrscope.huggingface.range_test(trainer, steps=8, end_lr=0.5)
    assert found.steps_done == 8  # 16 micro-batches of 8 sequences


def test_model_loss_is_the_models_own_and_needs_labels() -> None:
    model = tiny_gpt2()
    batch = {"input_ids": torch.arange(LENGTH).unsqueeze(0)}
    with pytest.raises(ParameterError, match="a dict batch with 'labels'"):
        lrscope.huggingface.model_loss(model, batch)
    loss = lrscope.huggingface.model_loss(model, {**batch, "labels": batch["input_ids"]})
    assert loss.shape == ()
    assert float(loss.detach()) > 0


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("warmup_stable_decay", {"num_decay_steps": 10, "min_lr_ratio": 0.1}),
        ("cosine_with_min_lr", {"min_lr_rate": 0.1}),
    ],
)
def test_a_floor_from_a_ratio_prints_without_float_noise(kind: str, kwargs: dict[str, Any]) -> None:
    policy = policy_from_hf(
        kind,
        learning_rate=3e-4,
        num_warmup_steps=5,
        num_training_steps=100,
        scheduler_specific_kwargs=kwargs,
    )
    assert 0.1 * 3e-4 != 3e-05  # the float product is 2.9999999999999997e-05
    assert "min_lr=3e-05" in policy.spec
    assert unrounded(policy, digits=12) == {}
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=3e-4)
    scheduler = transformers.get_scheduler(
        kind,
        optimizer,
        num_warmup_steps=5,
        num_training_steps=100,
        scheduler_specific_kwargs=kwargs,
    )
    theirs = []
    for _ in range(100):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert policy.values(100) == pytest.approx(theirs, rel=1e-12, abs=0.0)
