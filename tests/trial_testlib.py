"""Compare the trials two runs stored: exact where exactness holds, a stated tolerance for floats.

Grouped (batched) and one-by-one runs of the same trials store the same
identities, statuses and integers (``best_iter``, ``steps_done``, evaluation
steps) and top-1/top-5 counts, but not bit-identical float32 losses: the
stacked layers multiply with ``bmm`` where a lone model uses ``mm``, and the
two kernels sum their products in different orders, differently on different
CPUs (this machine: a test loss of 0.012555436 batched against 0.012555438
alone). Measured on ``tiny_task.py`` (6 policies x 3 seeds, 40 steps), the
largest relative difference of any stored float is 2e-6 (``ld``, a difference
of two losses; losses themselves 1.9e-6). :data:`FLOAT_RTOL` is 50 times
that, far below what a real fault moves (another learning rate, data order
or weight initialisation changes these numbers by percents). Accuracies are
compared exactly: they count test samples, and a sample would only change
class if two of its logits were within about 1e-6 of each other.
"""

from __future__ import annotations

import math
from typing import Any

from lrscope.engine import TrialKey
from lrscope.store import Store

FLOAT_RTOL = 1e-4
FLOAT_ATOL = 1e-6
"""For values near zero (a loss difference ``ld``, a spread ``cd``)."""

EXACT_FIELDS = ("status", "best_iter", "steps_done", "top1", "top5", "best_top1", "error_head")
FLOAT_FIELDS = ("ac", "cd", "cdac", "ld")
CURVE_EXACT = ("step", "lr", "top1", "top5")
CURVE_FLOATS = ("train_loss", "test_loss")


def stored_trials(url: str, task: str) -> dict[TrialKey, dict[str, Any]]:
    """Every stored trial of ``task`` by key: its status, metrics and curve."""
    with Store.open(url) as store:
        return {
            r.key: {
                "status": r.status,
                "best_iter": r.best_iter,
                "steps_done": r.steps_done,
                "top1": r.top1,
                "top5": r.top5,
                "best_top1": r.best_top1,
                "error_head": (r.error or "").split("\n")[0],
                "ac": r.ac,
                "cd": r.cd,
                "cdac": r.cdac,
                "ld": r.ld,
                "curve": r.curve,
            }
            for r in store.trials(task=task)
        }


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    x, y = float(a), float(b)  # type: ignore[arg-type]
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=FLOAT_RTOL, abs_tol=FLOAT_ATOL)


def assert_same_trials(
    got: dict[TrialKey, dict[str, Any]], expected: dict[TrialKey, dict[str, Any]]
) -> None:
    """Same keys; same statuses, integers and accuracies; floats within FLOAT_RTOL."""
    assert set(got) == set(expected)
    for key, row in expected.items():
        other = got[key]
        assert {f: other[f] for f in EXACT_FIELDS} == {f: row[f] for f in EXACT_FIELDS}, key
        for field in FLOAT_FIELDS:
            assert _close(other[field], row[field]), (key, field, other[field], row[field])
        assert len(other["curve"]) == len(row["curve"]), key
        for mine, theirs in zip(other["curve"], row["curve"], strict=True):
            assert {f: mine[f] for f in CURVE_EXACT} == {f: theirs[f] for f in CURVE_EXACT}, key
            for field in CURVE_FLOATS:
                assert _close(mine[field], theirs[field]), (key, field, mine, theirs)
