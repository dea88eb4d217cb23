"""The results store: tasks, policies, trials, range tests, interpolations.

SQLAlchemy 2 over SQLite (the default, ``sqlite:///lrscope.db``) or PostgreSQL
(``postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB``). Nothing here imports
torch; :meth:`TrialRecord.to_result` and :meth:`Store.done_keys` import
``lrscope.engine.result`` when called.

Tables (schema version 3, recorded in ``lrscope_meta``; Alembic revisions in
:mod:`lrscope.store.migrations`, version table ``lrscope_alembic_version``):

- ``tasks``: ``name`` (unique), ``metadata`` (JSON: ``TaskMetadata.to_dict()``),
  ``fingerprint`` (:func:`task_fingerprint` of the metadata: a name never
  holds two different problems), ``source_id``.
- ``policies``: ``spec`` (unique, as given by the caller: pass ``Policy.spec``),
  ``name``, ``family``, ``n_params`` (parsed from the spec when it parses).
- ``trials``: the key ``(task, spec, seed, steps, eval_every, runtime)``
  (unique; ``runtime`` is the runtime's identity, ``""`` for fp32 without
  gradient accumulation), the ``status`` (``running``, ``done``,
  ``diverged``, ``pruned``, ``failed`` with ``error``), every LRBench metric
  as a column (``top1, top5, best_top1, best_iter, ac, cd, cdac, ld,
  n_params, wall_s, steps_done, diverged_at``; NaN stored as NULL), every
  final metric by name (``metrics``, JSON), the ``curve`` (JSON), the
  lrscope version, the claim (``owner`` token, ``host``, ``boot_id``,
  ``pid``, ``pid_start``, ``attempts``) and the times ``created_at``,
  ``started_at``, ``heartbeat_at``, ``finished_at`` (UTC).
- ``range_tests``: ``task``, ``params`` and ``result`` (JSON), version, time.
- ``interpolations``: ``task``, ``data`` (JSON), version, time.

JSON has no NaN: non-finite floats are written as ``null`` (curve metrics read
back as NaN).

The claim protocol (no trial is stored twice, none is lost to a crash):

1. ``start_trial(key)`` runs in one write transaction (``BEGIN IMMEDIATE`` on
   SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL). The key has one row for
   its whole life, guarded by the unique index:

   - no row: insert it as ``running``, owned by this store -> its id;
   - ``done`` or ``diverged``: -> None (skip: already stored);
   - ``running`` and its owner alive (or unknown and its heartbeat younger
     than the lease, 900 s by default) -> None (skip: another runner has it);
   - ``failed``, or ``running`` with a dead owner or an expired lease:
     re-claim the same row (owner, times, ``attempts + 1``) -> its id.

   Two runners inserting the same new key at once: the unique index lets one
   insert win; the other's transaction fails and is retried, and then sees
   the row. So at most one runner holds a live claim on a key.
2. An owner is dead when provably so: same host and boot, and its pid does
   not exist, is a zombie, or belongs to a process started at another time
   (pid reuse). That is what ``kill -9``, a crash or a reboot leaves behind,
   and the next run of the plan re-claims those rows at once. Owners on other
   hosts are judged by their heartbeat: a runner calls ``heartbeat(trial_id)``
   while training (cheap; writes at most every ``min(60 s, lease / 4)``).
3. ``finish_trial(trial_id, result)`` updates that same row to ``done`` or
   ``diverged`` with the metrics, unless it is already finished (then it
   returns False and keeps the stored result: a key never gets two results).
   ``fail_trial(trial_id, error)`` marks it ``failed`` with the error text.
4. ``close()`` (and leaving ``with Store.open() as store``) marks this store's
   claims that are still ``running`` as ``failed`` ("released"), so an
   interrupted run (Ctrl-C) leaves nothing blocked.

Schema versions: a store of an older version is upgraded in place when opened
with write access (one transaction, under a lock so that two processes never
both upgrade it; a SQLite file is copied next to itself first); a newer one
is refused. ``Store.open(url, readonly=True)`` never writes anything.

Moving results between stores: :mod:`lrscope.store.exchange` (export files,
import, merge; the format is in ``docs/export-format.md``).

Errors: a bad URL, an unknown driver, an unreachable database, a database of a
newer schema version, a damaged one or one not made by lrscope raise
:class:`lrscope.errors.StoreError`, with the URL's credentials hidden
(:func:`hide_credentials`).
"""

from __future__ import annotations

from lrscope.store._db import ALLOWED_URLS
from lrscope.store._identity import task_fingerprint
from lrscope.store._read import UnreadableRowError
from lrscope.store._rows import KeyLike, SupportsToDict
from lrscope.store._schema import SCHEMA_VERSION, STATUSES
from lrscope.store._urls import hide_credentials
from lrscope.store.records import (
    Conflict,
    ExportSummary,
    ImportSummary,
    InterpolationRecord,
    PolicyRecord,
    RangeTestRecord,
    SchemaUpgrade,
    SourceRecord,
    StoreInfo,
    TaskRecord,
    TrialRecord,
)
from lrscope.store.store import (
    DEFAULT_DB_URL,
    DEFAULT_LEASE_S,
    Store,
    database_file,
    resolve_url,
)

hide_password = hide_credentials
"""The former name of :func:`hide_credentials` (the same function)."""

__all__ = [
    "ALLOWED_URLS",
    "DEFAULT_DB_URL",
    "DEFAULT_LEASE_S",
    "SCHEMA_VERSION",
    "STATUSES",
    "Conflict",
    "ExportSummary",
    "ImportSummary",
    "InterpolationRecord",
    "KeyLike",
    "PolicyRecord",
    "RangeTestRecord",
    "SchemaUpgrade",
    "SourceRecord",
    "Store",
    "StoreInfo",
    "SupportsToDict",
    "TaskRecord",
    "TrialRecord",
    "UnreadableRowError",
    "database_file",
    "hide_credentials",
    "hide_password",
    "resolve_url",
    "task_fingerprint",
]
