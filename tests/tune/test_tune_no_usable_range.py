"""tune builds no candidates from a range test that found no usable range."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrscope.bench import Execution
from lrscope.rangetest import NoUsableRangeError
from lrscope.store import Store
from lrscope.tasks import get_task
from lrscope.tune import tune

TINY = Path(__file__).parents[1] / "rangetest" / "tiny.py"


def test_tune_raises_and_keeps_the_range_test(tmp_path: Path) -> None:
    task = get_task(f"{TINY}:make_random_labels_task")
    with Store.open(f"sqlite:///{tmp_path / 't.db'}") as store:
        with pytest.raises(NoUsableRangeError) as info:
            tune(task, store, steps=64, trials=4, execution=Execution("local"))
        assert "never fell clearly" in str(info.value)
        (record,) = store.range_tests("tiny-random-labels")  # stored, nothing lost
        suggestions = record.result["suggestions"]
        assert isinstance(suggestions, dict)
        assert suggestions["usable"] is False
        assert store.trials("tiny-random-labels") == []  # no candidate was trained
        # a second run reuses the stored test and refuses the same way
        with pytest.raises(NoUsableRangeError):
            tune(task, store, steps=64, trials=4, execution=Execution("local"))
        assert len(store.range_tests("tiny-random-labels")) == 1
