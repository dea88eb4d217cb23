"""A benchmark plan: one task x policies x seeds x step budgets x evaluation interval.

A plan is given on the command line (``lrscope bench --task T --policy SPEC ...``)
or in a TOML file (``lrscope bench --plan plan.toml``). Everything in it is
checked when the :class:`Plan` is built, before any training or Ray work:
policy specs are parsed (and replaced by their canonical text, so two spellings
of one policy are one trial), seeds, budgets and the evaluation interval are
range-checked. The task itself is resolved by :func:`lrscope.bench.run_plan`
(it builds the task once in the parent, which both validates the name and
gives the metadata stored with the trials).

TOML schema (every key at the top level; unknown keys are an error)::

    task = "mnist1d-cnn"     # required: built-in name, "pkg.module:function"
                             # or "path/file.py:function" (relative to the cwd)
    policies = [             # required, at least one spec string
        "FIX(k0=0.05)",
        "TRI2(k0=0.01, k1=0.1, l=500)",
    ]
    steps = 2000             # required: optimizer steps per trial (int >= 1),
                             # or a list of budgets, e.g. [1000, 3000]
    seeds = 2                # optional (default 1): a count N means seeds
                             # 0 .. N-1; a list [0, 3, 7] names them
    eval_every = 100         # optional: steps between evaluations (int >= 1,
                             # at most the smallest budget); default: one
                             # epoch of the task, as in lrscope train
    data_dir = "data"        # optional: directory of on-disk datasets

Trials are ordered seed by seed (every policy with seed 0, then every policy
with seed 1, ...), so an interrupted run already covers every policy once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrscope.engine.result import TrialKey
from lrscope.errors import PlanError, SpecError

__all__ = ["Plan", "load_plan", "plan_from_mapping"]

_TOML_KEYS = ("task", "policies", "steps", "seeds", "eval_every", "data_dir")


def _int_at_least(value: object, low: int) -> int | None:
    """``value`` if it is an int (not a bool) >= ``low``, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= low:
        return value
    return None


def _seeds(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise PlanError(f"seeds must be a count >= 1 or a list of ints >= 0. Got {value}.")
        return tuple(range(value))
    if isinstance(value, (list, tuple)) and value:
        seeds = [_int_at_least(v, 0) for v in value]
        if all(s is not None for s in seeds):
            if len(set(seeds)) != len(seeds):
                raise PlanError(f"seeds must not repeat a seed. Got {list(value)}.")
            return tuple(s for s in seeds if s is not None)
    raise PlanError(f"seeds must be a count >= 1 or a non-empty list of ints >= 0. Got {value!r}.")


def _steps(value: object) -> tuple[int, ...]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    budgets = [_int_at_least(v, 1) for v in items]
    if not budgets or any(b is None for b in budgets):
        raise PlanError(f"steps must be an int >= 1 or a non-empty list of them. Got {value!r}.")
    if len(set(budgets)) != len(budgets):
        raise PlanError(f"steps must not repeat a budget. Got {items}.")
    return tuple(b for b in budgets if b is not None)


def _canonical_specs(specs: Iterable[object]) -> tuple[str, ...]:
    """Parse every spec (raising SpecError / ParameterError) and drop repeats."""
    from lrscope.policies import parse

    canonical: list[str] = []
    for spec in specs:
        if not isinstance(spec, str) or not spec.strip():
            raise SpecError(f"a policy spec must be a non-empty string. Got {spec!r}.")
        text = parse(spec).spec
        if text not in canonical:
            canonical.append(text)
    if not canonical:
        raise PlanError(
            "a plan needs at least one policy spec (--policy SPEC or policies = [...])."
        )
    return tuple(canonical)


@dataclass(frozen=True)
class Plan:
    """What to run: ``task`` x ``policies`` x ``seeds`` x ``steps`` at ``eval_every``.

    Construction validates everything and canonicalizes the policy specs;
    invalid input raises :class:`~lrscope.errors.PlanError` (or
    :class:`~lrscope.errors.SpecError` / :class:`~lrscope.errors.ParameterError`
    for a policy). ``seeds`` may be given as a count (``2`` means ``(0, 1)``)
    and ``steps`` as one int.

    >>> plan = Plan("mnist1d-cnn", ["fix(k0=0.1)"], seeds=2, steps=100, eval_every=50)
    >>> plan.policies, plan.seeds, len(plan)
    (('FIX(k0=0.1)',), (0, 1), 2)
    """

    task: str
    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: tuple[int, ...]
    eval_every: int | None
    data_dir: str | None

    def __init__(
        self,
        task: str,
        policies: Sequence[str],
        *,
        seeds: int | Sequence[int] = 1,
        steps: int | Sequence[int] = 1000,
        eval_every: int | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        if not isinstance(task, str) or not task.strip():
            raise PlanError(f"a plan needs a task name (--task T or task = ...). Got {task!r}.")
        if isinstance(policies, str):
            policies = [policies]
        budgets = _steps(steps)
        if eval_every is not None and _int_at_least(eval_every, 1) is None:
            raise PlanError(f"eval_every must be an int >= 1. Got {eval_every!r}.")
        if eval_every is not None and eval_every > min(budgets):
            raise PlanError(
                f"eval_every must be at most the smallest step budget ({min(budgets)}). "
                f"Got {eval_every}."
            )
        if data_dir is not None and not isinstance(data_dir, (str, Path)):
            raise PlanError(f"data_dir must be a path string. Got {data_dir!r}.")
        object.__setattr__(self, "task", task.strip())
        object.__setattr__(self, "policies", _canonical_specs(policies))
        object.__setattr__(self, "seeds", _seeds(seeds))
        object.__setattr__(self, "steps", budgets)
        object.__setattr__(self, "eval_every", eval_every)
        object.__setattr__(self, "data_dir", None if data_dir is None else str(data_dir))

    def keys(self, task_name: str, steps_per_epoch: int) -> list[TrialKey]:
        """Every trial of the plan, seed-major, as stored.

        ``task_name`` is the built task's name (``Task.name``; for a user task
        the name its factory gives, not the ``file.py:function`` reference).
        Without an ``eval_every`` the trials evaluate once per epoch,
        ``steps_per_epoch`` (``Task.steps_per_epoch``), as
        :func:`lrscope.engine.run_trial` does by default.
        """
        every = self.eval_every if self.eval_every is not None else steps_per_epoch
        return [
            TrialKey(task_name, spec, seed, steps, every)
            for steps in self.steps
            for seed in self.seeds
            for spec in self.policies
        ]

    def __len__(self) -> int:
        return len(self.policies) * len(self.seeds) * len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        """The plan in the TOML schema's terms (``seeds`` and ``steps`` as lists)."""
        return {
            "task": self.task,
            "policies": list(self.policies),
            "steps": list(self.steps),
            "seeds": list(self.seeds),
            "eval_every": self.eval_every,
            "data_dir": self.data_dir,
        }


def plan_from_mapping(data: Mapping[str, Any], source: str = "plan") -> Plan:
    """Build a :class:`Plan` from a parsed TOML document (or any mapping)."""
    unknown = sorted(set(data) - set(_TOML_KEYS))
    if unknown:
        raise PlanError(
            f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_TOML_KEYS)}."
        )
    for required in ("task", "policies", "steps"):
        if required not in data:
            raise PlanError(f"{source}: missing required key {required!r}.")
    policies = data["policies"]
    if not isinstance(policies, list):
        raise PlanError(f"{source}: policies must be a list of spec strings. Got {policies!r}.")
    try:
        return Plan(
            data["task"],
            policies,
            seeds=data.get("seeds", 1),
            steps=data["steps"],
            eval_every=data.get("eval_every"),
            data_dir=data.get("data_dir"),
        )
    except PlanError as exc:
        raise PlanError(f"{source}: {exc}") from None


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise PlanError("reading a TOML plan on Python 3.10 needs the 'tomli' package") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"invalid TOML: {exc}") from None


def load_plan(path: str | Path, **overrides: Any) -> Plan:
    """Read a TOML plan file; non-None ``overrides`` replace the file's keys.

    >>> load_plan("plan.toml", steps=500)  # doctest: +SKIP
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan file {str(file)!r}: {exc.strerror or exc}") from None
    try:
        data = _toml_loads(text)
    except PlanError as exc:
        raise PlanError(f"{file}: {exc}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return plan_from_mapping(data, source=str(file))
