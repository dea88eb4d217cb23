"""Lightning glue: lrscope's range test on a LightningModule; a PolicyScheduler stepped per step.

**Range test.** :func:`range_test` runs :func:`lrscope.rangetest.lr_range_test`
on a ``LightningModule`` as it is, without a ``Trainer``: the module's
``training_step`` gives the loss of each batch (a tensor, or the ``"loss"``
of the dict it returns), ``configure_optimizers`` the optimizer (or pass one),
a datamodule's ``train_dataloader()`` (or the loader given, or the module's
own ``train_dataloader()``) the batches. The module and the optimizer are
restored afterwards, exactly as ``lr_range_test`` restores a model::

    found = lrscope.lightning.range_test(model, datamodule=data, steps=300)
    found.suggestions.max_lr.lr        # the one-cycle peak for configure_optimizers

**Scheduling.**

lrscope policies count optimizer steps. Lightning steps a scheduler once per
*epoch* unless told otherwise, and the short form ``return [optimizer],
[scheduler]`` of ``configure_optimizers`` is exactly that case, so the schedule
would run epochs where it means steps (a :class:`~lrscope.torch.PolicyScheduler`
notices and warns once). Return :func:`configure_optimizers` instead::

    import lrscope.lightning

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            return lrscope.lightning.configure_optimizers(
                optimizer, "warmup_cosine(max_lr=0.001, total_steps=5000, warmup_steps=250)"
            )

It is the dictionary ``{"optimizer": ..., "lr_scheduler": {"scheduler":
PolicyScheduler(...), "interval": "step", "frequency": 1}}``; under
``accumulate_grad_batches`` Lightning then steps the scheduler after each
optimizer step, as the policy expects. ``LearningRateMonitor`` logs it under
``name`` (default: Lightning's ``lr-<optimizer>``).

Nothing here imports Lightning; install it with ``pip install ".[lightning]"``.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer

from lrscope.errors import ParameterError
from lrscope.torch.scheduler import PolicyLike, PolicyScheduler

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from lrscope.engine.runtime import Runtime
    from lrscope.rangetest import RangeTestResult, RangeTestSettings

__all__ = ["configure_optimizers", "range_test", "scheduler_config"]

_OWNER = "lrscope.lightning.range_test"


def scheduler_config(
    optimizer: Optimizer,
    policy: PolicyLike | Sequence[PolicyLike],
    *,
    name: str | None = None,
) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` config for a :class:`PolicyScheduler` stepped every step.

    ``{"scheduler": PolicyScheduler(optimizer, policy), "interval": "step",
    "frequency": 1, "name": name}``. ``policy`` is a policy, a spec string or
    one per param group, as for :class:`~lrscope.torch.PolicyScheduler` (whose
    errors it raises).
    """
    return {
        "scheduler": PolicyScheduler(optimizer, policy),
        "interval": "step",
        "frequency": 1,
        "name": name,
    }


def configure_optimizers(
    optimizer: Optimizer,
    policy: PolicyLike | Sequence[PolicyLike],
    *,
    name: str | None = None,
) -> dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns to follow ``policy`` step by step.

    ``{"optimizer": optimizer, "lr_scheduler": scheduler_config(optimizer, policy, name=name)}``.
    """
    return {"optimizer": optimizer, "lr_scheduler": scheduler_config(optimizer, policy, name=name)}


def _optimizers(config: Any) -> list[Optimizer]:
    """The optimizers in what ``configure_optimizers`` returned (every documented form)."""
    if isinstance(config, Optimizer):
        return [config]
    if isinstance(config, Mapping):
        return _optimizers(config.get("optimizer"))
    if isinstance(config, (list, tuple)):
        items = list(config)
        if len(items) == 2 and all(isinstance(i, (list, tuple)) for i in items):
            items = list(items[0])  # ([optimizers], [schedulers])
        return [opt for item in items for opt in _optimizers(item)]
    return []


def _the_optimizer(module: Any, optimizer: Optimizer | None) -> Optimizer:
    if optimizer is not None:
        return optimizer
    found = _optimizers(module.configure_optimizers())
    if len(found) != 1:
        raise ParameterError(
            _OWNER,
            "optimizer",
            "one optimizer (pass optimizer=..., or return exactly one from configure_optimizers)",
            f"{len(found)} optimizers",
        )
    return found[0]


def _loss_of(output: Any) -> torch.Tensor:
    """``training_step``'s loss: the tensor it returns, or the ``"loss"`` of its dict."""
    loss = output.get("loss") if isinstance(output, Mapping) else output
    if not isinstance(loss, torch.Tensor):
        raise ParameterError(
            _OWNER,
            "module",
            "a LightningModule whose training_step returns the loss "
            "(a tensor, or a dict with 'loss'; manual optimization is not supported)",
            type(output).__name__,
        )
    return loss


def _training_step(module: Any) -> Callable[[torch.nn.Module, Any], torch.Tensor]:
    counter = itertools.count()

    def step(model: torch.nn.Module, batch: Any) -> torch.Tensor:
        return _loss_of(module.training_step(batch, next(counter)))

    return step


def _loader(module: Any, train_dataloaders: Iterable[Any] | None, datamodule: Any) -> Iterable[Any]:
    if train_dataloaders is not None and datamodule is not None:
        raise ParameterError(
            _OWNER, "datamodule", "None when train_dataloaders is given (one source)", datamodule
        )
    if train_dataloaders is not None:
        return train_dataloaders
    source = datamodule if datamodule is not None else module
    if not _overrides(source, "train_dataloader"):
        raise ParameterError(
            _OWNER,
            "train_dataloaders",
            "a DataLoader, a datamodule, or a module with its own train_dataloader()",
            None,
        )
    if datamodule is not None:
        datamodule.prepare_data()
        datamodule.setup("fit")
    loader: Iterable[Any] = source.train_dataloader()
    return loader


def _overrides(obj: Any, name: str) -> bool:
    """Whether ``obj``'s class, not Lightning's base classes, defines method ``name``."""
    owner = next((cls for cls in type(obj).__mro__ if name in vars(cls)), None)
    if owner is None:
        return False
    package = owner.__module__.split(".", 1)[0]
    return package not in ("lightning", "pytorch_lightning")


def range_test(
    module: Any,
    train_dataloaders: Iterable[Any] | None = None,
    *,
    datamodule: Any = None,
    optimizer: Optimizer | None = None,
    settings: RangeTestSettings | None = None,
    runtime: Runtime | None = None,
    eval_data: Dataset[Any] | None = None,
    num_classes: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **options: object,
) -> RangeTestResult:
    """lrscope's LR range test on a ``LightningModule`` (Smith 2017, section 3.3).

    Args:
        module: the ``LightningModule``; its ``training_step(batch,
            batch_idx)`` must return the loss (automatic optimization). Its
            calls to ``self.log`` are silenced (there is no Trainer to log to).
        train_dataloaders: the training batches (any iterable, started again
            when it runs out); default: ``datamodule.train_dataloader()``
            after its ``prepare_data()`` and ``setup("fit")``, else the
            module's own ``train_dataloader()``.
        datamodule: a ``LightningDataModule`` (instead of ``train_dataloaders``).
        optimizer: default: the one optimizer ``module.configure_optimizers()``
            returns in any of Lightning's forms (schedulers are ignored).
        settings, options: the test's settings (``steps=300``,
            ``end_lr=1.0``, ...: :class:`~lrscope.rangetest.RangeTestSettings`).
        runtime: precision and gradient accumulation
            (:class:`~lrscope.engine.Runtime`); the module stays on its device.
        eval_data, num_classes: a test dataset for the ``eval_every`` curve
            (its batches go through ``training_step`` for the loss), with
            ``num_classes`` for top-1 (then through the module's forward).
        on_progress: ``on_progress(steps_done, steps)`` after every step.

    Returns:
        The :class:`~lrscope.rangetest.RangeTestResult` (curves and suggestions).
        The module's weights, buffers (non-persistent ones too), gradients
        and modes, and the optimizer's state and learning rates, are as they
        were before; a scheduler already built on the optimizer does not see
        the test's steps (:mod:`lrscope.rangetest.restore`).

    Raises:
        ParameterError: not exactly one optimizer, a ``training_step`` that
            returns no loss, no training data, or a bad setting.
    """
    from lrscope.rangetest import RangeTestSettings, lr_range_test
    from lrscope.tasks.batches import split_batch

    chosen_settings = RangeTestSettings.from_options(settings, **options)
    chosen = _the_optimizer(module, optimizer)
    loader = _loader(module, train_dataloaders, datamodule)
    step = _training_step(module)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*`self\.log\(\)`")
        return lr_range_test(
            module,
            chosen,
            loader=loader,
            settings=chosen_settings,
            training_step=step,
            batch=None if num_classes is None else split_batch,
            eval_data=eval_data,
            num_classes=num_classes,
            runtime=runtime,
            on_progress=on_progress,
        )
