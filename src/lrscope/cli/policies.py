"""``lrscope policies``: list the policies, print a policy's values, plot policies.

Thin commands over :mod:`lrscope.policies`: parse the spec, compute, render.
Bad specs raise :class:`lrscope.errors.SpecError` / ``ParameterError``, which
the app turns into exit status 2 and one line on stderr. matplotlib is
imported inside ``plot`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lrscope.cli._common import JsonOpt, emit, stdout
from lrscope.cli._outputs import IMAGE, IMAGE_FORMATS, check_output, replacing, writing
from lrscope.policies import Policy, parse, registry
from lrscope.policies.base import MAX_LISTED_STEPS, PolicyList, format_value
from lrscope.policies.plot import default_steps, draw_policies
from lrscope.validation import Interval, IntList, OrNone, check

__all__ = ["register"]

SpecArg = Annotated[
    str, typer.Argument(help='Policy spec, e.g. "TRI2(k0=0.001, k1=0.006, l=2000)".')
]
StepsOpt = Annotated[
    int | None,
    typer.Option(
        "--steps",
        help="Number of optimizer steps t = 0..N-1, at most 1,000,000 "
        "(default: the policy's natural horizon).",
        show_default=False,
    ),
]

policies_app = typer.Typer(
    name="policies",
    help="List, evaluate and plot learning-rate policies.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``policies`` group to the ``lrscope`` app."""
    app.add_typer(policies_app, name="policies")


_STEPS = OrNone(Interval(int, 1, MAX_LISTED_STEPS))
"""``--steps`` of ``values`` and ``plot``: a count up to what a policy lists at once."""


def _check_steps(command: str, steps: int | None) -> None:
    check(f"lrscope policies {command}", "--steps", steps, _STEPS)


def _param_count(cls: type[Policy]) -> str:
    """LRBench-style #Param: required scalars, ``+n`` per list, optional extras."""
    required = sum(1 for p in cls.declared_params() if p.required and not _is_list(p.constraint))
    lists = sum(1 for p in cls.declared_params() if _is_list(p.constraint))
    optional = sum(1 for p in cls.declared_params() if not p.required)
    text = str(required) + "+n" * lists
    if optional:
        text += f" (+{optional} optional)"
    return text


def _is_list(constraint: object) -> bool:
    return isinstance(constraint, (IntList, PolicyList))


def _describe(cls: type[Policy]) -> dict[str, Any]:
    doc = (cls.__doc__ or "").strip().splitlines()
    return {
        "name": cls.name,
        "family": cls.family,
        "n_params": _param_count(cls),
        "parameters": [
            {
                "name": p.name,
                "allowed": p.constraint.describe(),
                "required": p.required,
                "default": None if p.required else p.default,
            }
            for p in cls.declared_params()
        ],
        "description": doc[0] if doc else "",
    }


@policies_app.command("list")
def list_policies(as_json: JsonOpt = False) -> None:
    """Every policy: name, family, parameters (defaults after '='), #Param."""
    rows = [_describe(cls) for cls in registry().values()]

    def render() -> None:
        from rich.table import Table

        table = Table(title="lrscope policies")
        for column in ("name", "family", "parameters", "#Param"):
            table.add_column(column)
        for row in rows:
            params = ", ".join(
                p["name"] if p["required"] else f"{p['name']}={format_value(p['default'])}"
                for p in row["parameters"]
            )
            table.add_row(row["name"], row["family"], params, row["n_params"])
        stdout.print(table)

    emit(rows, as_json, render)


def _sample_steps(steps: int, count: int = 11) -> list[int]:
    if steps <= count:
        return list(range(steps))
    return sorted({round(i * (steps - 1) / (count - 1)) for i in range(count)})


@policies_app.command("values")
def values(spec: SpecArg, steps: StepsOpt = None, as_json: JsonOpt = False) -> None:
    """The learning rate (and momentum) of SPEC at steps 0..N-1."""
    _check_steps("values", steps)
    policy = parse(spec)
    count = steps if steps is not None else default_steps(policy)
    lrs = policy.values(count)
    momentum = policy.momentum_values(count)
    document = {"spec": policy.spec, "lr": lrs, "momentum": momentum}

    def render() -> None:
        from rich.table import Table

        low = min(range(count), key=lrs.__getitem__)
        high = max(range(count), key=lrs.__getitem__)
        stdout.print(f"{policy.spec}  ({count} steps, #Param {policy.n_params})")
        stdout.print(f"lr min {lrs[low]:.6g} at t={low}, max {lrs[high]:.6g} at t={high}")
        table = Table(show_edge=False)
        table.add_column("t", justify="right")
        table.add_column("lr", justify="right")
        if momentum is not None:
            table.add_column("momentum", justify="right")
        for t in _sample_steps(count):
            row = [str(t), f"{lrs[t]:.6g}"]
            if momentum is not None:
                m = momentum[t]
                row.append("-" if m is None else f"{m:.6g}")
            table.add_row(*row)
        stdout.print(table)

    emit(document, as_json, render)


@policies_app.command("plot")
def plot(
    specs: Annotated[list[str], typer.Argument(help="One or more policy specs.")],
    output: Annotated[Path, typer.Option("--output", "-o", help=f"Image file ({IMAGE_FORMATS}).")],
    steps: StepsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plot SPEC... side by side into one image (lr, and momentum when cycled)."""
    _check_steps("plot", steps)
    policies = [parse(spec) for spec in specs]
    check_output("lrscope policies plot", "--output", output, IMAGE)
    with writing({"--output": output}), replacing(output) as temporary:
        draw_policies(policies, temporary, steps)
    document = {"path": str(output), "specs": [p.spec for p in policies]}
    emit(document, as_json, lambda: stdout.print(f"wrote {output}"))
