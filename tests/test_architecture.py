"""The architecture's rules are checked, not only written down (docs/architecture.md).

- The import contracts of ``pyproject.toml`` (``lint-imports``, run by
  ``make lint``) hold, and they fail when an import climbs the stack or a
  light module imports torch, matplotlib or ray, even inside a function.
- No import cycle among the modules of ``src/lrscope``, counting imports made
  inside functions (not those under ``if TYPE_CHECKING:``, which never run).
- Type-and-range checks are spelled once, in ``lrscope.validation``: no module
  hand-rolls ``isinstance(x, bool) or not isinstance(x, ...)``.
- ``__version__`` has one home, which the build reads; ``lrscope --version``
  prints it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lrscope

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

LINT = "import sys, importlinter.cli as c; sys.exit(c.lint_imports_command())"  # lint-imports

#: Cycles that are known and owned elsewhere, as sets of module names. The
#: test fails when one of them disappears, so the list only ever shrinks.
#: bench.executors <-> bench.batched <-> bench.ray_executor: the executor
#: factory and the executors import each other (to be untangled with the
#: executor rework).
KNOWN_CYCLES: set[frozenset[str]] = set()

CYCLES = """
import json, sys
import grimp

graph = grimp.build_graph("lrscope", exclude_type_checking_imports=True)
sys.setrecursionlimit(10_000)
index, low, stack, on_stack, cycles = {}, {}, [], set(), []

def visit(module):  # Tarjan: strongly connected components of more than one module
    index[module] = low[module] = len(index)
    stack.append(module)
    on_stack.add(module)
    for imported in graph.find_modules_directly_imported_by(module):
        if imported not in index:
            visit(imported)
            low[module] = min(low[module], low[imported])
        elif imported in on_stack:
            low[module] = min(low[module], index[imported])
    if low[module] == index[module]:
        component = []
        while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == module:
                break
        if len(component) > 1:
            cycles.append(sorted(component))

for module in sorted(graph.modules):
    if module not in index:
        visit(module)
print(json.dumps({"where": __import__("lrscope").__file__, "cycles": cycles}))
"""


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "src")}


def _run(tree: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    where = _run(tree, "import lrscope; print(lrscope.__file__)").stdout.strip()
    assert Path(where).is_relative_to(tree), f"lint would read {where}, not the copy"
    return _run(tree, LINT, "--no-cache", "--no-logo")


def _cycles(tree: Path) -> set[frozenset[str]]:
    done = _run(tree, CYCLES)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["where"]).is_relative_to(tree)
    return {frozenset(cycle) for cycle in found["cycles"]}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and of pyproject.toml (the contracts) to break on purpose."""
    shutil.copytree(
        SRC / "lrscope", tmp_path / "src" / "lrscope", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _inject(tree: Path, module: str, code: str, *, after: str) -> None:
    path = tree / "src" / Path(*module.split(".")).with_suffix(".py")
    text = path.read_text(encoding="utf-8")
    assert after in text
    path.write_text(text.replace(after, f"{after}\n{code}\n", 1), encoding="utf-8")


def test_the_package_keeps_its_import_contracts(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_an_import_from_a_higher_layer_fails_the_lint(tree: Path) -> None:
    _inject(
        tree,
        "lrscope.policies.base",
        "import lrscope.cli  # noqa: F401",
        after="from __future__ import annotations",
    )
    done = _lint(tree)
    assert done.returncode != 0
    assert "The package stack: each layer imports only the layers below it BROKEN" in done.stdout
    assert "lrscope.policies.base -> lrscope.cli" in done.stdout


def test_a_heavy_import_inside_a_function_of_a_light_module_fails_the_lint(tree: Path) -> None:
    _inject(
        tree,
        "lrscope.rank",
        "def _draw() -> None:\n    import matplotlib.pyplot  # noqa: F401",
        after='_OWNER = "the ranking"',
    )
    done = _lint(tree)
    assert done.returncode != 0
    assert "Light modules load neither torch, matplotlib nor ray" in done.stdout
    assert "lrscope.rank -> matplotlib" in done.stdout


def test_no_import_cycle_among_the_modules() -> None:
    found = _cycles(ROOT)
    assert found - KNOWN_CYCLES == set(), "new import cycle(s)"
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_a_function_level_import_cycle_is_found(tree: Path) -> None:
    _inject(
        tree,
        "lrscope.validation",
        "def _policies() -> object:\n    import lrscope.policies\n\n    return lrscope.policies",
        after="from lrscope.errors import ParameterError",
    )
    new = _cycles(tree) - KNOWN_CYCLES
    assert any({"lrscope.validation", "lrscope.policies.base"} <= cycle for cycle in new)


def test_the_version_has_one_home_read_by_the_build() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    home = ROOT / project["tool"]["hatch"]["version"]["path"]
    assert home == SRC / "lrscope" / "__init__.py"
    assignments = [
        path
        for path in SRC.rglob("*.py")
        if re.search(r"^__version__\s*=", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert assignments == [home]
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", lrscope.__version__)


def test_the_command_line_prints_the_version() -> None:
    from lrscope.cli.app import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"lrscope {lrscope.__version__}\n"


HAND_ROLLED_CHECK = re.compile(r"isinstance\([^)]*bool\) or not isinstance")


def test_type_checks_are_spelled_only_in_the_validation_vocabulary() -> None:
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted((SRC / "lrscope").rglob("*.py"))
        if path.name != "validation.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_ROLLED_CHECK.search(line)
    ]
    assert not found, "use lrscope.validation (check, is_integer, is_real):\n" + "\n".join(found)


def test_the_hand_rolled_check_pattern_finds_what_it_guards_against() -> None:
    assert HAND_ROLLED_CHECK.search("if isinstance(v, bool) or not isinstance(v, int):")
    assert not HAND_ROLLED_CHECK.search("if not is_integer(v):")
