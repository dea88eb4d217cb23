"""What the store hands back: frozen dataclasses, plain values, no ORM objects.

Times are aware UTC datetimes. Float metrics that were NaN (or are not known
yet, for a trial that has not finished) are ``float('nan')``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lrscope.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialKey, TrialResult

__all__ = [
    "InterpolationRecord",
    "PolicyRecord",
    "RangeTestRecord",
    "TaskRecord",
    "TrialRecord",
]


@dataclass(frozen=True)
class TaskRecord:
    """A stored task: its name and metadata (``TaskMetadata.to_dict()``, or None)."""

    name: str
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class PolicyRecord:
    """A policy seen in a trial: its spec, name, family and #Param (None if unknown)."""

    spec: str
    name: str
    family: str | None
    n_params: int | None


@dataclass(frozen=True)
class TrialRecord:
    """One stored trial: key, status, claim and, once finished, metrics and curve.

    ``status`` is ``running`` (claimed), ``done``, ``diverged`` (finished; the
    loss blew up at ``diverged_at``), ``pruned`` (finished early on purpose by
    a tuning pruner: ``steps_done < steps``) or ``failed`` (``error`` holds why). The
    metrics mean what they mean in :class:`lrscope.engine.result.TrialResult`:
    accuracies are fractions in [0, 1], ``wall_s`` seconds, ``best_iter``,
    ``steps_done`` and ``diverged_at`` optimizer steps. ``curve`` holds the
    evaluation points as dicts (``step, lr, train_loss, test_loss, top1,
    top5``). ``host`` and ``pid`` name the process that claimed the trial last;
    ``attempts`` counts its claims.
    """

    id: int
    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    status: str
    error: str | None
    top1: float
    top5: float
    best_top1: float
    best_iter: int | None
    ac: float
    cd: float
    cdac: float
    ld: float
    n_params: int | None
    wall_s: float
    steps_done: int | None
    diverged_at: int | None
    library_version: str
    host: str | None
    pid: int | None
    attempts: int
    created_at: datetime
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    curve: tuple[dict[str, Any], ...] = field(default_factory=tuple, repr=False)

    @property
    def finished(self) -> bool:
        """True for ``done``, ``diverged`` and ``pruned`` trials: they have a result."""
        return self.status in ("done", "diverged", "pruned")

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def worker(self) -> str | None:
        """``host:pid`` of the process that claimed the trial last."""
        return None if self.host is None else f"{self.host}:{self.pid}"

    @property
    def key(self) -> TrialKey:
        """The trial's :class:`~lrscope.engine.result.TrialKey`."""
        from lrscope.engine.result import TrialKey

        return TrialKey(self.task, self.spec, self.seed, self.steps, self.eval_every)

    def result_dict(self) -> dict[str, Any]:
        """The fields of a ``TrialResult`` (``TrialResult.from_dict`` accepts it)."""
        self._require_finished()
        return {
            "task": self.task,
            "spec": self.spec,
            "seed": self.seed,
            "steps": self.steps,
            "eval_every": self.eval_every,
            "top1": self.top1,
            "top5": self.top5,
            "best_top1": self.best_top1,
            "best_iter": self.best_iter if self.best_iter is not None else 0,
            "ac": self.ac,
            "cd": self.cd,
            "cdac": self.cdac,
            "ld": self.ld,
            "n_params": self.n_params if self.n_params is not None else 0,
            "wall_s": self.wall_s,
            "steps_done": self.steps_done if self.steps_done is not None else 0,
            "diverged": self.diverged,
            "diverged_at": self.diverged_at,
            "curve": [dict(p) for p in self.curve],
        }

    def to_result(self) -> TrialResult:
        """The stored :class:`~lrscope.engine.result.TrialResult` (finished trials only)."""
        from lrscope.engine.result import TrialResult

        return TrialResult.from_dict(self.result_dict())

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready apart from NaN (``print_json`` maps those to null)."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "curve"
        }
        for name in ("created_at", "started_at", "heartbeat_at", "finished_at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        data["curve"] = [dict(p) for p in self.curve]
        return data

    def _require_finished(self) -> None:
        if not self.finished:
            raise StoreError(
                f"trial {self.id} ({self.task}, {self.spec}, seed {self.seed}) is "
                f"{self.status}; only done or diverged trials have a result"
            )


@dataclass(frozen=True)
class RangeTestRecord:
    """A stored range test: ``params`` as given, ``result`` as ``to_dict()`` gave it."""

    id: int
    task: str
    params: dict[str, Any]
    result: dict[str, Any]
    library_version: str
    host: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class InterpolationRecord:
    """A stored interpolation between two weight sets (``InterpolationResult.to_dict()``)."""

    id: int
    task: str
    data: dict[str, Any]
    library_version: str
    host: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}
