"""lrscope.lightning with a real Lightning Trainer on a tiny CPU model: lr per step = policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lrscope.lightning
from lrscope.errors import LRScopeWarning, ParameterError
from lrscope.policies import parse
from lrscope.rangetest import lr_range_test
from lrscope.torch import PolicyScheduler

SPEC = "warmup_cosine(max_lr=0.1, total_steps=20, warmup_steps=4, min_lr=0.001)"
BATCHES_PER_EPOCH = 8

# Lightning's advice for tiny CPU runs (more loader workers, logging intervals)
# is about speed and logging, and its use of a torch name torch now deprecates
# is Lightning's to change; neither is what these tests check.
pytestmark = [
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)`:FutureWarning"),
]

Configure = Callable[[torch.optim.Optimizer], Any]


class TinyRegression(lightning.LightningModule):
    """A linear model; ``configure`` turns its optimizer into configure_optimizers' value."""

    def __init__(self, configure: Configure) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.configure = configure
        self.lrs: list[float] = []  # the lr of every optimizer step, read as it runs

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.5, momentum=0.9)
        optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: self.lrs.append(opt.param_groups[0]["lr"])
        )
        return self.configure(optimizer)


def loader() -> DataLoader[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8 * BATCHES_PER_EPOCH, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)


def fit(
    module: TinyRegression, root: Path, max_steps: int, ckpt_path: Path | None = None, **extra: Any
) -> lightning.Trainer:
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        **extra,
    )
    trainer.fit(module, train_dataloaders=loader(), ckpt_path=ckpt_path)
    return trainer


def test_configure_optimizers_steps_the_policy_every_optimizer_step(tmp_path: Path) -> None:
    module = TinyRegression(lambda opt: lrscope.lightning.configure_optimizers(opt, SPEC))
    trainer = fit(module, tmp_path, max_steps=26)  # three epochs and a bit, past total_steps
    assert module.lrs == parse(SPEC).values(26)
    assert trainer.global_step == 26
    (config,) = trainer.lr_scheduler_configs
    assert (config.interval, config.frequency) == ("step", 1)
    assert isinstance(config.scheduler, PolicyScheduler)


def test_gradient_accumulation_follows_optimizer_steps(tmp_path: Path) -> None:
    module = TinyRegression(lambda opt: lrscope.lightning.configure_optimizers(opt, SPEC))
    fit(module, tmp_path, max_steps=12, accumulate_grad_batches=2)  # 24 batches, 12 updates
    assert module.lrs == parse(SPEC).values(12)


def test_scheduler_config_is_the_lr_scheduler_entry(tmp_path: Path) -> None:
    def configure(opt: torch.optim.Optimizer) -> Any:
        return {"optimizer": opt, "lr_scheduler": lrscope.lightning.scheduler_config(opt, SPEC)}

    module = TinyRegression(configure)
    fit(module, tmp_path, max_steps=10)
    assert module.lrs == parse(SPEC).values(10)
    config = lrscope.lightning.scheduler_config(
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))]), SPEC, name="lr"
    )
    assert {k: v for k, v in config.items() if k != "scheduler"} == {
        "interval": "step",
        "frequency": 1,
        "name": "lr",
    }


def test_short_form_steps_once_per_epoch_and_warns(tmp_path: Path) -> None:
    module = TinyRegression(lambda opt: ([opt], [PolicyScheduler(opt, SPEC)]))
    with pytest.warns(LRScopeWarning, match=r"once for 8 optimizer steps.*\"interval\": \"step\""):
        fit(module, tmp_path, max_steps=3 * BATCHES_PER_EPOCH)
    policy = parse(SPEC)
    # what the warning is about: the schedule advanced one step per epoch
    expected = [policy(t // BATCHES_PER_EPOCH) for t in range(3 * BATCHES_PER_EPOCH)]
    assert module.lrs == expected


def test_resumed_training_continues_the_schedule(tmp_path: Path) -> None:
    def configure(opt: torch.optim.Optimizer) -> Any:
        return lrscope.lightning.configure_optimizers(opt, SPEC)

    first = TinyRegression(configure)
    trainer = fit(first, tmp_path, max_steps=2 * BATCHES_PER_EPOCH)  # stop at an epoch end
    checkpoint = tmp_path / "two_epochs.ckpt"
    trainer.save_checkpoint(checkpoint)
    resumed = TinyRegression(configure)
    fit(resumed, tmp_path, max_steps=26, ckpt_path=checkpoint)
    assert first.lrs + resumed.lrs == parse(SPEC).values(26)


# --- lrscope's range test on a LightningModule ------------------------------------
class Logging(TinyRegression):
    """Logs its loss (no Trainer to log to) and returns it in a dict, as modules often do."""

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        loss = super().training_step(batch, batch_idx)
        self.log("train_loss", loss)
        return {"loss": loss}


class Data(lightning.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.stages: list[str] = []

    def setup(self, stage: str) -> None:
        self.stages.append(stage)

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return loader()


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_range_test_on_the_module_is_lr_range_test_on_its_parts() -> None:
    module = Logging(lambda opt: ([opt], [torch.optim.lr_scheduler.StepLR(opt, 5)]))
    before = _state(module)
    found = lrscope.lightning.range_test(module, loader(), steps=30, end_lr=0.1)
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in before.items())
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5, momentum=0.9)
    by_hand = lr_range_test(
        module.net, optimizer, torch.nn.functional.mse_loss, loader(), steps=30, end_lr=0.1
    )
    assert found.loss == by_hand.loss
    assert found.suggestions == by_hand.suggestions
    assert found.steps_done == 30
    assert found.suggestions is not None


def test_range_test_reads_a_datamodule_and_keeps_the_optimizer() -> None:
    data = Data()
    module = TinyRegression(lambda opt: opt)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.25)
    found = lrscope.lightning.range_test(
        module, datamodule=data, optimizer=optimizer, steps=12, end_lr=0.5,
        eval_data=loader().dataset, eval_every=6,
    )  # fmt: skip
    assert data.stages == ["fit"]
    assert [p.step for p in found.evals] == [6, 12]
    assert optimizer.param_groups[0]["lr"] == 0.25  # restored after the ramp


def test_range_test_is_invisible_to_a_scheduler_and_non_persistent_buffers() -> None:
    module = TinyRegression(lambda opt: opt)
    module.register_buffer("forwards", torch.zeros(()), persistent=False)

    def count(net: torch.nn.Module, args: object) -> None:
        module.get_buffer("forwards").add_(1)

    module.net.register_forward_pre_hook(count)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.25, momentum=0.9)
    scheduler = PolicyScheduler(optimizer, SPEC)
    found = lrscope.lightning.range_test(module, loader(), optimizer=optimizer, steps=12)
    assert found.steps_done == 12
    assert float(module.get_buffer("forwards")) == 0
    for _ in range(3):  # correct steps: no "ran once for 12 optimizer steps" error
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == parse(SPEC)(3)


def test_range_test_needs_exactly_one_optimizer() -> None:
    def two(opt: torch.optim.Optimizer) -> Any:
        return [opt, torch.optim.SGD(opt.param_groups[0]["params"], lr=0.1)]

    with pytest.raises(ParameterError, match=r"one optimizer.*Got '2 optimizers'"):
        lrscope.lightning.range_test(TinyRegression(two), loader(), steps=10)
    with pytest.raises(ParameterError, match="'train_dataloaders' parameter"):
        lrscope.lightning.range_test(TinyRegression(lambda opt: opt), steps=10)
