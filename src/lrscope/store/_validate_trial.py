"""Reading one ``trial`` line of an export file: key, status, result, metrics, curve.

The checks follow what the store itself guarantees for a trial it wrote
(:func:`lrscope.store._rows.apply_result`): ``done`` took every step and did
not diverge, ``pruned`` stopped early without diverging, ``diverged`` says
where, ``failed`` has an error and no result. Accuracies (``top1``, ``top5``,
``best_top1``, ``ac``) are fractions in [0, 1]; ``cd``, ``cdac`` and
``wall_s`` are not negative; step counts lie within the trial; any metric
may be null (NaN: not measured, or not defined for the task). ``runtime``
(format version 2) is a runtime's identity; a trial without one (version 1)
ran in fp32 without gradient accumulation (``""``).
"""

from __future__ import annotations

from collections.abc import Mapping

from lrscope.errors import StoreError
from lrscope.store import _format as fmt
from lrscope.store._fields import Fields, fail, short
from lrscope.store._format import PolicyLine, SourceLine, TaskLine, TrialLine
from lrscope.store._rows import check_runtime
from lrscope.store._schema import STATUSES
from lrscope.validation import is_integer, is_real

__all__ = ["EXPORTED_STATUSES", "RESULT_FIELDS", "parse_trial"]

EXPORTED_STATUSES = tuple(s for s in STATUSES if s != "running")
"""Statuses an export holds: a running claim belongs to the store that runs it."""
FRACTIONS = ("top1", "top5", "best_top1", "ac")
NONNEGATIVE = ("cd", "cdac", "wall_s")
STEP_COUNTS = ("best_iter", "steps_done", "diverged_at")
RESULT_FIELDS = (*FRACTIONS[:3], "best_iter", "ac", "cd", "cdac", "ld", "n_params", "wall_s",
                 "steps_done", "diverged_at")  # fmt: skip
"""The fields of a trial line's ``result``: the LRBench metrics the store keeps as columns."""


def _number(name: str, value: object, low: float | None = None, high: float | None = None) -> None:
    if value is None:
        return
    if not is_real(value):
        fail(f"result.{name} must be a number or null, got {short(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        fail(f"result.{name} must be in {bounds} or null, got {short(value)}")


def _result(raw: object, steps: int) -> dict[str, float | int | None]:
    if not isinstance(raw, dict):
        fail(f"result must be a JSON object (or null for a failed trial), got {short(raw)}")
    if set(raw) != set(RESULT_FIELDS):
        missing, extra = set(RESULT_FIELDS) - set(raw), set(raw) - set(RESULT_FIELDS)
        fail(f"result must hold exactly {list(RESULT_FIELDS)} (missing {sorted(missing)}, "
             f"unknown {sorted(extra)})")  # fmt: skip
    for name in FRACTIONS:
        _number(name, raw[name], 0.0, 1.0)
    for name in NONNEGATIVE:
        _number(name, raw[name], 0.0)
    _number("ld", raw["ld"])
    for name in (*STEP_COUNTS, "n_params"):
        value = raw[name]
        high = steps if name in STEP_COUNTS else fmt.MAX_INT32
        if value is not None and (not is_integer(value) or not 0 <= value <= high):
            fail(f"result.{name} must be an integer in [0, {high}] or null, got {short(value)}")
    return dict(raw)


def _metrics(raw: object) -> dict[str, float | None] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > fmt.MAX_METRICS:
        fail(f"metrics must be a JSON object of at most {fmt.MAX_METRICS} metrics or null, "
             f"got {short(raw)}")  # fmt: skip
    out: dict[str, float | None] = {}
    for name, value in raw.items():
        if not name or len(name) > fmt.MAX_NAME_CHARS:
            fail(f"a metric name must be 1 to {fmt.MAX_NAME_CHARS} characters, got {short(name)}")
        if value is not None and not is_real(value):
            fail(f"metrics[{name!r}] must be a number or null, got {short(value)}")
        out[name] = value
    return out


def _curve(raw: object, steps: int) -> list[dict[str, object]]:
    if not isinstance(raw, list) or len(raw) > fmt.MAX_CURVE_POINTS:
        fail(f"curve must be a list of at most {fmt.MAX_CURVE_POINTS} points, got {short(raw)}")
    for i, point in enumerate(raw):
        if not isinstance(point, dict) or not 0 < len(point) <= fmt.MAX_CURVE_FIELDS:
            fail(f"curve[{i}] must be an object of 1 to {fmt.MAX_CURVE_FIELDS} fields, "
                 f"got {short(point)}")  # fmt: skip
        step = point.get("step")
        if not is_integer(step) or not 0 <= step <= steps:
            fail(f"curve[{i}].step must be an integer in [0, {steps}], got {short(step)}")
        for name, value in point.items():
            if not name or len(name) > fmt.MAX_NAME_CHARS:
                fail(f"curve[{i}] has a field name of {len(name)} characters")
            if value is not None and not is_real(value):
                fail(f"curve[{i}].{name} must be a number or null, got {short(value)}")
    return raw


def _check_status(status: str, result: Mapping[str, float | int | None], steps: int) -> None:
    """The status must say what the result says (as the store derives it)."""
    done, at = result["steps_done"], result["diverged_at"]
    if status == "diverged":
        if at is None:
            fail("a diverged trial needs result.diverged_at (the step at which it diverged)")
        return
    if at is not None:
        fail(f"a {status} trial has no result.diverged_at, got {short(at)}")
    if done is None:
        fail(f"a {status} trial needs result.steps_done")
    if status == "done" and done < steps:
        fail(f"a done trial took all its {steps} steps, but result.steps_done is {done}; "
             "a trial stopped early is pruned")  # fmt: skip
    if status == "pruned" and done >= steps:
        fail(f"a pruned trial stopped before its {steps} steps, but result.steps_done is {done}")


def _runtime(fields: Fields) -> str:
    """The trial's runtime identity; ``""`` in a file written before trials carried one."""
    if "runtime" not in fields.data:
        return ""
    value = fields.text("runtime", fmt.MAX_VERSION_CHARS, empty=True)
    try:
        return check_runtime(value)
    except StoreError:
        fail(
            f"runtime must be a runtime's identity ('', 'bf16', 'accum=4', ...), got {short(value)}"
        )
        raise  # pragma: no cover - fail raises


def parse_trial(
    fields: Fields,
    line: int,
    sources: Mapping[int, SourceLine],
    tasks: Mapping[str, TaskLine],
    policies: Mapping[str, PolicyLine],
) -> TrialLine:
    """One trial line, checked (see the module docstring)."""
    task = fields.required_text("task", fmt.MAX_NAME_CHARS)
    spec = fields.required_text("spec", fmt.MAX_SPEC_CHARS)
    if task not in tasks:
        fail(f"task {task!r} is not defined by a task line before it")
    if spec not in policies:
        fail(f"policy {spec!r} is not defined by a policy line before it")
    steps = fields.required_integer("steps", 1, fmt.MAX_INT)
    status = fields.choice("status", EXPORTED_STATUSES)
    error = fields.text("error", fmt.MAX_ERROR_CHARS, null=True, empty=True)
    raw_result, raw_metrics, raw_curve = (fields.raw(n) for n in ("result", "metrics", "curve"))
    finished_at = fields.time("finished_at", null=True)
    if status == "failed":
        if error is None or raw_result is not None or raw_metrics is not None or raw_curve:
            fail("a failed trial has an error and no result, metrics or curve")
        result, metrics, curve = None, None, None
    else:
        if error is not None:
            fail(f"a {status} trial has no error, got {short(error)}")
        result = _result(raw_result, steps)
        _check_status(status, result, steps)
        metrics, curve = _metrics(raw_metrics), _curve(raw_curve, steps)
    if finished_at is None:
        fail(f"a {status} trial has a finished_at time")
    runtime = _runtime(fields)
    return TrialLine(
        line=line,
        task=task,
        spec=spec,
        seed=fields.required_integer("seed", 0, fmt.MAX_INT),
        steps=steps,
        eval_every=fields.required_integer("eval_every", 0, fmt.MAX_INT),
        runtime=runtime,
        status=status,
        error=error,
        result=result,
        metrics=metrics,
        curve=curve,
        lrscope_version=fields.required_text("lrscope_version", fmt.MAX_VERSION_CHARS),
        host=fields.text("host", fmt.MAX_HOST_CHARS, null=True),
        created_at=fields.required_time("created_at"),
        started_at=fields.required_time("started_at"),
        finished_at=finished_at,
        source=fields.source(sources),
    )
