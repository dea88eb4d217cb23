"""What identifies a stored task: a fingerprint of the metadata that defines the problem.

Two tasks are the same problem when they train on the same data with the same
kind of model, input and batch: the fingerprint is the SHA-256 of the
canonical JSON (sorted keys, no spaces) of the metadata fields
:data:`IDENTITY_FIELDS` that are present and not None:

- ``dataset``, ``model_family``, ``input_shape``, ``train_size``,
  ``num_classes``, ``batch_size`` (:class:`lrscope.tasks.TaskMetadata`);
- ``metrics`` and ``primary_metric``, the task's metric definitions, when the
  metadata carries them.

Descriptive fields (``extra``) are not part of it. A task name stored with one
fingerprint never takes results of another (:meth:`lrscope.store.Store.put_task`
refuses, an import reports a conflict). The definition is part of the schema:
changing it needs a migration that recomputes every stored fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from lrscope.errors import StoreError

__all__ = ["IDENTITY_FIELDS", "describe_differences", "task_fingerprint", "task_identity"]

IDENTITY_FIELDS = (
    "dataset",
    "model_family",
    "input_shape",
    "train_size",
    "num_classes",
    "batch_size",
    "metrics",
    "primary_metric",
)
_MAX_SHOWN = 80  # characters of a differing value quoted in a message


def task_identity(metadata: Mapping[str, object]) -> dict[str, object]:
    """The identifying fields of ``metadata`` (those of :data:`IDENTITY_FIELDS` not None)."""
    return {name: metadata[name] for name in IDENTITY_FIELDS if metadata.get(name) is not None}


def task_fingerprint(metadata: Mapping[str, object] | None) -> str | None:
    """SHA-256 (64 hex digits) of the identifying metadata; None without metadata.

    Raises:
        StoreError: an identifying field holds something JSON cannot hold.
    """
    if metadata is None:
        return None
    try:
        text = json.dumps(
            task_identity(metadata), sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot fingerprint task metadata {dict(metadata)!r}: {exc}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _shown(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def describe_differences(
    stored: Mapping[str, object] | None, given: Mapping[str, object] | None
) -> str:
    """The identifying fields that differ, as ``field stored X, given Y; ...``."""
    a = task_identity(stored or {})
    b = task_identity(given or {})
    parts = [
        f"{name} stored {_shown(a.get(name))}, given {_shown(b.get(name))}"
        for name in IDENTITY_FIELDS
        if a.get(name) != b.get(name)
    ]
    return "; ".join(parts) or "the fingerprints differ"
