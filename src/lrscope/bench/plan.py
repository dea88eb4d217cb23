"""A benchmark plan: one task x policies x seeds x step budgets x evaluation interval.

A plan is given on the command line (``lrscope bench --task T --policy SPEC ...``)
or in a TOML file (``lrscope bench --plan plan.toml``). Everything in it is
checked when the :class:`Plan` is built, before any training or Ray work, with
the vocabulary of :mod:`lrscope.validation`: policy specs are parsed (and
replaced by their canonical text, so two spellings of one policy are one
trial), seeds, budgets and the evaluation interval are range-checked. The
task itself is resolved by :func:`lrscope.bench.run_plan` (it builds the task
once in the parent, which both validates the name and gives the metadata
stored with the trials).

TOML schema (every key at the top level; unknown keys are an error)::

    task = "mnist1d-cnn"     # required: built-in name, "pkg.module:function"
                             # or "path/file.py:function" (relative to the cwd)
    policies = [             # required, at least one spec string (one string is one spec)
        "FIX(k0=0.05)",
        "TRI2(k0=0.01, k1=0.1, l=500)",
    ]
    steps = 2000             # required: optimizer steps per trial (int >= 1),
                             # or a list of distinct budgets, e.g. [1000, 3000]
    seeds = 2                # optional (default 1): a count N means seeds
                             # 0 .. N-1; a list [0, 3, 7] names them
                             # (distinct, each in [0, 2**32 - 1])
    eval_every = 100         # optional: steps between evaluations (int >= 1,
                             # at most the smallest budget); default: one
                             # epoch of the task, as in lrscope train
    data_dir = "data"        # optional: directory of on-disk datasets
    device = "auto"          # optional: auto, cpu, cuda, cuda:N or mps (each worker
                             # resolves it on its machine)
    precision = "fp32"       # optional: fp32, bf16 or fp16
    grad_accum_steps = 1     # optional: micro-batches per optimizer step

Trials are ordered seed by seed (every policy with seed 0, then every policy
with seed 1, ...), so an interrupted run already covers every policy once.
Precision and gradient accumulation are part of every trial's key (its
``runtime``); the device is not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from lrscope.engine.result import TrialKey
from lrscope.engine.runtime import PRECISIONS, DeviceName, Runtime
from lrscope.errors import ParameterError, PlanError
from lrscope.policies import Policy
from lrscope.policies.spec import SpecList
from lrscope.validation import (
    COUNT,
    SEEDS,
    STEP_SIZE,
    Choice,
    ListOf,
    OrNone,
    PathText,
    Text,
    Validated,
)

__all__ = ["Plan", "load_plan", "plan_from_mapping"]

_TOML_KEYS = (
    "task",
    "policies",
    "steps",
    "seeds",
    "eval_every",
    "data_dir",
    "device",
    "precision",
    "grad_accum_steps",
)


@dataclass(frozen=True, init=False)
class Plan(Validated):
    """What to run: ``task`` x ``policies`` x ``seeds`` x ``steps`` at ``eval_every``.

    ``device``, ``precision`` and ``grad_accum_steps`` are the trials'
    :class:`~lrscope.engine.Runtime` (:attr:`runtime`), carried to the
    workers as plain data. Construction validates everything and canonicalizes
    the policy specs;
    a value outside its range raises :class:`~lrscope.errors.ParameterError`
    (the message names the parameter, what is allowed and the value), a spec
    that does not parse :class:`~lrscope.errors.SpecError`. ``seeds`` may be
    given as a count (``2`` means ``(0, 1)``) and ``steps`` as one int.

    >>> plan = Plan("mnist1d-cnn", ["fix(k0=0.1)"], seeds=2, steps=100, eval_every=50)
    >>> plan.policies, plan.seeds, len(plan)
    (('FIX(k0=0.1)',), (0, 1), 2)
    """

    owner = "the benchmark plan"

    task: Annotated[str, Text(strip=True)]
    policies: Annotated[tuple[str, ...], SpecList()]
    seeds: Annotated[tuple[int, ...], SEEDS] = (0,)
    steps: Annotated[tuple[int, ...], ListOf(STEP_SIZE, order="distinct", scalar=True)] = (1000,)
    eval_every: Annotated[int | None, OrNone(STEP_SIZE)] = None
    data_dir: Annotated[str | None, OrNone(PathText())] = None
    device: Annotated[str, DeviceName()] = "auto"
    precision: Annotated[str, Choice(PRECISIONS)] = "fp32"
    grad_accum_steps: Annotated[int, COUNT] = 1

    def __init__(
        self,
        task: str,
        policies: str | Policy | Sequence[str | Policy],
        *,
        seeds: int | Sequence[int] = 1,
        steps: int | Sequence[int] = 1000,
        eval_every: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        device: str = "auto",
        precision: str = "fp32",
        grad_accum_steps: int = 1,
    ) -> None:
        # typed for the forms callers give (a seed count, one budget, a path);
        # Validated.__post_init__ turns each into its canonical field value
        given = {
            "task": task,
            "policies": policies,
            "seeds": seeds,
            "steps": steps,
            "eval_every": eval_every,
            "data_dir": data_dir,
            "device": device,
            "precision": precision,
            "grad_accum_steps": grad_accum_steps,
        }
        for name, value in given.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    def _check(self) -> None:
        smallest = min(self.steps)
        if self.eval_every is not None and self.eval_every > smallest:
            allowed = f"None or an int in the range [1, {smallest}] (the smallest step budget)"
            raise ParameterError(self.owner_name(), "eval_every", allowed, self.eval_every)

    @property
    def runtime(self) -> Runtime:
        """The trials' device, precision and gradient accumulation."""
        return Runtime(
            device=self.device, precision=self.precision, grad_accum_steps=self.grad_accum_steps
        )

    def keys(self, task_name: str, steps_per_epoch: int) -> list[TrialKey]:
        """Every trial of the plan, seed-major, as stored.

        ``task_name`` is the built task's name (``Task.name``; for a user task
        the name its factory gives, not the ``file.py:function`` reference).
        Without an ``eval_every`` the trials evaluate once per epoch, as
        :func:`lrscope.engine.run_trial` does by default: ``steps_per_epoch``
        micro-batches (``Task.steps_per_epoch``) make fewer optimizer steps
        under gradient accumulation.
        """
        runtime = self.runtime
        every = self.eval_every
        if every is None:
            every = runtime.optimizer_steps(steps_per_epoch)
        return [
            TrialKey(task_name, spec, seed, steps, every, runtime.identity)
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
            "device": self.device,
            "precision": self.precision,
            "grad_accum_steps": self.grad_accum_steps,
        }


def plan_from_mapping(data: Mapping[str, Any], source: str = "plan") -> Plan:
    """Build a :class:`Plan` from a parsed TOML document (or any mapping).

    Raises:
        PlanError: an unknown or missing key (the structure of the document).
        ParameterError: a value outside its range; the message names ``source``.
        SpecError: a policy spec that does not parse.
    """
    unknown = sorted(set(data) - set(_TOML_KEYS))
    if unknown:
        raise PlanError(
            f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_TOML_KEYS)}."
        )
    for required in ("task", "policies", "steps"):
        if required not in data:
            raise PlanError(f"{source}: missing required key {required!r}.")
    try:
        return Plan(
            data["task"],
            data["policies"],
            seeds=data.get("seeds", 1),
            steps=data["steps"],
            eval_every=data.get("eval_every"),
            data_dir=data.get("data_dir"),
            device=data.get("device", "auto"),
            precision=data.get("precision", "fp32"),
            grad_accum_steps=data.get("grad_accum_steps", 1),
        )
    except ParameterError as exc:
        if exc.owner != Plan.owner_name():  # a policy's own parameter
            raise
        owner = f"{Plan.owner_name()} in {source}"
        raise ParameterError(owner, exc.name, exc.allowed, exc.value) from None


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
    except RecursionError:  # arrays or tables nested thousands deep; a plan needs two levels
        raise PlanError("invalid plan: arrays or tables nested too deep to read") from None


MAX_PLAN_BYTES = 1_000_000
"""The largest plan file read (a plan of a thousand policies is about 50 kB)."""


def load_plan(path: str | Path, **overrides: Any) -> Plan:
    """Read a TOML plan file; non-None ``overrides`` replace the file's keys.

    >>> load_plan("plan.toml", steps=500)  # doctest: +SKIP
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanError(f"cannot read plan file {str(file)!r}: {exc.strerror or exc}") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanError(f"plan file {str(file)!r} is larger than {MAX_PLAN_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"plan file {str(file)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}); a plan is a TOML file"
        ) from None
    try:
        data = _toml_loads(text)
    except PlanError as exc:
        raise PlanError(f"{file}: {exc}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return plan_from_mapping(data, source=str(file))
