"""What the store hands back: frozen dataclasses, plain values, no ORM objects.

Times are aware UTC datetimes. Float metrics that were NaN (or are not known
yet, for a trial that has not finished) are ``float('nan')``. ``source_id``
is None for rows measured in this store, else the id of the
:class:`SourceRecord` of the import that brought them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from lrscope.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialKey, TrialResult

__all__ = [
    "Conflict",
    "ExportSummary",
    "ImportSummary",
    "InterpolationRecord",
    "PolicyRecord",
    "RangeTestRecord",
    "SchemaUpgrade",
    "SourceRecord",
    "StoreInfo",
    "TaskRecord",
    "TrialRecord",
]

CurvePoint = Mapping[str, float]
"""One evaluation of a trial's curve: ``step`` (an int) and float fields (NaN when unknown)."""


@dataclass(frozen=True)
class SourceRecord:
    """Where imported rows came from (one import or merge of an export).

    ``kind`` is ``import`` (a file) or ``merge`` (a store read directly);
    ``store`` is the URL of the store that measured the rows (credentials
    hidden), ``host`` its host name if the export gave it, ``library_version``
    the lrscope that exported them; ``file`` the export file's name.
    """

    id: int
    kind: str
    store: str
    host: str | None
    library_version: str
    exported_at: datetime
    imported_at: datetime
    file: str | None

    @property
    def label(self) -> str:
        """``store`` (and ``on host``), for tables and the report."""
        return self.store if self.host is None else f"{self.store} on {self.host}"

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data["exported_at"] = self.exported_at.isoformat()
        data["imported_at"] = self.imported_at.isoformat()
        return data


@dataclass(frozen=True)
class TaskRecord:
    """A stored task: its name, metadata (``TaskMetadata.to_dict()``, or None) and fingerprint."""

    name: str
    metadata: Mapping[str, object] | None
    created_at: datetime
    updated_at: datetime
    fingerprint: str | None = None
    source_id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "metadata": None if self.metadata is None else dict(self.metadata),
            "fingerprint": self.fingerprint,
            "source_id": self.source_id,
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
    top5``). ``metrics`` maps every final metric the trial reported by name
    (empty for trials stored without it). ``host`` and ``pid`` name the
    process that claimed the trial last; ``attempts`` counts its claims;
    ``source_id`` says where an imported trial came from; ``runtime`` is the
    identity of the runtime it ran on (``""``: fp32, no gradient accumulation;
    part of its key).
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
    curve: tuple[CurvePoint, ...] = field(default_factory=tuple, repr=False)
    metrics: Mapping[str, float] = field(default_factory=dict)
    source_id: int | None = None
    runtime: str = ""

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

        return TrialKey(self.task, self.spec, self.seed, self.steps, self.eval_every, self.runtime)

    @property
    def imported(self) -> bool:
        """Whether the trial came from another store (``source_id`` is set)."""
        return self.source_id is not None

    def result_dict(self) -> dict[str, object]:
        """The fields of a ``TrialResult`` (``TrialResult.from_dict`` accepts it).

        ``metrics`` is included when the trial was stored with it.
        """
        self._require_finished()
        data: dict[str, object] = {
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
            "runtime": self.runtime,
        }
        if self.metrics:
            data["metrics"] = dict(self.metrics)
        return data

    def to_result(self) -> TrialResult:
        """The stored :class:`~lrscope.engine.result.TrialResult` (finished trials only)."""
        from lrscope.engine.result import TrialResult

        return TrialResult.from_dict(self.result_dict())

    def to_dict(self) -> dict[str, object]:
        """Every field, JSON-ready apart from NaN (``print_json`` maps those to null)."""
        data: dict[str, object] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "curve"
        }
        for name in ("created_at", "started_at", "heartbeat_at", "finished_at"):
            value = getattr(self, name)
            data[name] = None if value is None else value.isoformat()
        data["curve"] = [dict(p) for p in self.curve]
        data["metrics"] = dict(self.metrics)
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
    params: Mapping[str, object]
    result: Mapping[str, object]
    library_version: str
    host: str | None
    created_at: datetime
    source_id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class InterpolationRecord:
    """A stored interpolation between two weight sets (``InterpolationResult.to_dict()``)."""

    id: int
    task: str
    data: Mapping[str, object]
    library_version: str
    host: str | None
    created_at: datetime
    source_id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class StoreInfo:
    """What :meth:`lrscope.store.Store.info` reports about a database.

    ``url`` has its credentials hidden; ``path`` is the SQLite file (None for
    PostgreSQL and memory); ``counts`` are rows per table, ``trials_by_status``
    trials per status, ``stale_running`` the running claims the next run may
    take over; ``imported`` counts the rows per table that came from other
    stores (``source_id`` set).
    """

    url: str
    dialect: str
    driver: str
    path: str | None
    readonly: bool
    schema_version: int | None
    supported_schema_version: int
    library_version: str
    created_at: str | None
    counts: Mapping[str, int]
    imported: Mapping[str, int]
    trials_by_status: Mapping[str, int]
    stale_running: int

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        for name in ("counts", "imported", "trials_by_status"):
            data[name] = dict(getattr(self, name))
        return data


@dataclass(frozen=True)
class SchemaUpgrade:
    """An upgrade done when the store was opened: versions, and the backup copy (SQLite)."""

    from_version: int
    to_version: int
    backup: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Conflict:
    """A record of an import that the store already holds differently: reported, not merged.

    ``record`` is the record type (``task`` or ``trial``), ``identity`` names
    it, ``line`` is its line in the file and ``reason`` says what differs and
    what was kept.
    """

    record: str
    identity: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ImportSummary:
    """What an import (or merge) did, per record type.

    ``added``: new rows (a trial the store held as ``failed`` and the file as
    finished is filled in and counted here); ``duplicates``: records the store
    already held the same; ``skipped``: records of a task in conflict;
    ``conflicts``: what differs (see :class:`Conflict`); ``sources``: the ids
    of the :class:`SourceRecord` rows created. ``dry_run``: nothing was written.
    """

    file: str
    kind: str
    added: Mapping[str, int]
    duplicates: Mapping[str, int]
    skipped: Mapping[str, int]
    conflicts: tuple[Conflict, ...]
    sources: tuple[int, ...]
    dry_run: bool = False

    @property
    def total_added(self) -> int:
        return sum(self.added.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "added": dict(self.added),
            "duplicates": dict(self.duplicates),
            "skipped": dict(self.skipped),
            "conflicts": [c.to_dict() for c in self.conflicts],
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the file, its size, whether gzip, the records per type.

    ``left_out``: damaged rows not written (each named to ``on_unreadable``).
    """

    path: str
    bytes: int
    compressed: bool
    records: Mapping[str, int]
    left_out: int = 0

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "records": dict(self.records)}
