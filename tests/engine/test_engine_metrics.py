"""The LRBench metrics on hand-computable logits, and :func:`evaluate`'s contract."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch.utils.data import TensorDataset

from lrscope.engine import evaluate, evaluation_from_logits
from lrscope.tasks import BatchSteps, Task, default_loss
from lrscope.tasks.scoring import make_scorer

# Five samples, six classes; logits are log-probabilities, so softmax gives them back.
PROBS = [
    [0.70, 0.10, 0.05, 0.05, 0.05, 0.05],  # y=0 correct, q=0.7
    [0.10, 0.60, 0.10, 0.10, 0.05, 0.05],  # y=1 correct, q=0.6
    [0.40, 0.30, 0.10, 0.10, 0.05, 0.05],  # y=0 correct, q=0.4
    [0.30, 0.25, 0.20, 0.15, 0.07, 0.03],  # y=5 wrong, 6th of 6: outside top-5
    [0.40, 0.30, 0.20, 0.05, 0.03, 0.02],  # y=2 wrong, 3rd: inside top-5
]
LABELS = [0, 1, 0, 5, 2]


def _logits() -> torch.Tensor:
    return torch.tensor(PROBS, dtype=torch.float64).log().float()


def test_metrics_by_hand() -> None:
    ev = evaluation_from_logits(_logits(), torch.tensor(LABELS))
    assert ev.samples == 5
    assert ev.top1 == pytest.approx(3 / 5)
    assert ev.top5 == pytest.approx(4 / 5)
    assert ev.ac == pytest.approx((0.7 + 0.6 + 0.4) / 3, rel=1e-6)
    mean = (0.7 + 0.6 + 0.4) / 3
    cd = math.sqrt(((0.7 - mean) ** 2 + (0.6 - mean) ** 2 + (0.4 - mean) ** 2) / 3)
    assert ev.cd == pytest.approx(cd, rel=1e-5)
    # per-class means of the correct samples: class 0 -> (0.7+0.4)/2 = 0.55, class 1 -> 0.6
    assert ev.cdac == pytest.approx(0.025, rel=1e-5)
    loss = -sum(math.log(v) for v in (0.7, 0.6, 0.4, 0.03, 0.2)) / 5
    assert ev.loss == pytest.approx(loss, rel=1e-6)


def test_no_correct_sample_gives_nan_confidences() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    ev = evaluation_from_logits(logits, torch.tensor([1, 0]))
    assert ev.top1 == 0.0
    assert ev.top5 == 1.0  # two classes: top-k with k = 2 always hits
    assert math.isnan(ev.ac)
    assert math.isnan(ev.cd)
    assert math.isnan(ev.cdac)


def test_single_correct_sample_has_zero_deviation() -> None:
    logits = torch.tensor([[0.0, 0.0, 3.0], [3.0, 0.0, 0.0]])
    ev = evaluation_from_logits(logits, torch.tensor([2, 1]))
    assert ev.top1 == 0.5
    assert ev.ac == pytest.approx(math.exp(3) / (math.exp(3) + 2), rel=1e-6)
    assert ev.cd == 0.0
    assert ev.cdac == 0.0


def test_non_finite_logits_count_as_wrong() -> None:
    logits = torch.tensor([[float("nan"), 0.0], [5.0, 0.0], [float("inf"), 0.0]])
    ev = evaluation_from_logits(logits, torch.tensor([0, 0, 0]))
    assert ev.top1 == pytest.approx(1 / 3)
    assert ev.top5 == pytest.approx(1 / 3)
    assert ev.ac == pytest.approx(1 / (1 + math.exp(-5)), rel=1e-6)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"logits \(N, C\)"):
        evaluation_from_logits(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))


class _Probe(torch.nn.Module):
    """Returns the fixed logits of each input index; records grad mode and train mode."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        self.seen.append((torch.is_grad_enabled(), self.training))
        return self.table[index.long()] * self.scale


def test_evaluate_batches_without_grad_in_eval_mode() -> None:
    model = _Probe(_logits())
    model.train()
    data = TensorDataset(torch.arange(5), torch.tensor(LABELS))
    scorer = make_scorer(BatchSteps(default_loss), num_classes=6)
    whole = evaluate(model, data, scorer)
    chunked = evaluate(model, data, scorer, batch_size=2)
    assert whole == chunked
    assert whole.top1 == pytest.approx(3 / 5)
    assert model.seen == [(False, False)] * 4  # 1 batch, then 3 batches of <= 2
    assert model.training  # restored


def test_ld_and_final_confidences_match_the_saved_model(
    make_task: Callable[..., Task], tmp_path: object
) -> None:
    from pathlib import Path

    from lrscope.engine import run_trial

    task = make_task()
    weights = Path(str(tmp_path)) / "final.pt"
    result = run_trial(task, "FIX(k0=0.05)", steps=26, seed=3, eval_every=26, save_weights=weights)
    model = task.model()
    model.load_state_dict(torch.load(weights, weights_only=True))
    test = evaluate(model, task.test_data, task)
    train = evaluate(model, task.train_data, task)
    assert len(result.curve) == 1
    assert result.best_iter == 26
    assert (result.top1, result.top5, result.ac, result.cd, result.cdac) == (
        test.top1,
        test.top5,
        test.ac,
        test.cd,
        test.cdac,
    )
    assert result.ld == test.loss - train.loss
    assert result.curve[0].train_loss == train.loss
