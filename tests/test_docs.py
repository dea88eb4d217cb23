"""The runnable examples in the docstrings of the configuration modules stay true."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any

import pytest

MODULES = [
    "lrscope.validation",
    "lrscope.metrics",
    "lrscope.engine.runtime",
    "lrscope.rangetest.settings",
    "lrscope.landscape.settings",
    "lrscope.bench.plan",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, verbose=False, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert attempted > 0


def _python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section headed ``section``."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0] for part in body.split("```python\n")[1:]]


def test_the_readme_runs_a_range_test_on_your_own_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first example of "Use it with your own model", on a tiny classifier."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=generator)
    y = (x[:, 0] > 0).long()
    layers = (torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    names: dict[str, Any] = {  # the README code's globals: anything it defines
        "MyNet": lambda: torch.nn.Sequential(*layers),
        "loader": DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
        "epochs": 2,
    }
    example = _python_blocks("Use it with your own model")[0]
    try:
        exec(compile(example, "README.md", "exec"), names)  # the README's own code
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "range_test.png").stat().st_size > 0
    assert names["scheduler"].last_epoch == 2 * len(names["loader"])
    assert names["found"].steps == 300
    assert names["policy"].total_steps == 2 * len(names["loader"])
