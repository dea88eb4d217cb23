"""The export file format: names, limits, typed lines, and reading and writing lines.

An export is JSON Lines (UTF-8, one JSON object per line, gzip-compressed
when the file name ends in ``.gz``): a ``header`` line, then ``source``,
``task``, ``policy``, ``trial``, ``range_test`` and ``interpolation`` lines,
then an ``end`` line that counts them (a file cut short has none). The full
description, field by field, is ``docs/export-format.md``; this module
holds what the reader and the writer share.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Literal

from lrscope.errors import StoreError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "RECORD_TYPES",
    "DocumentLine",
    "ExportFormatError",
    "Header",
    "ParsedExport",
    "PolicyLine",
    "SourceLine",
    "TaskLine",
    "TrialLine",
    "open_lines",
]

FORMAT_NAME = "lrscope-export"
FORMAT_VERSION = 2
"""The version of the export format this lrscope writes (and the newest it
reads; files of a newer version are refused; see docs/export-format.md for
what changes it). Version 2 added the trials' ``runtime``; a version 1 file
has none (its trials ran in fp32 without gradient accumulation: ``""``)."""

RECORD_TYPES = ("source", "task", "policy", "trial", "range_test", "interpolation")
"""The record lines between the header and the end line, in the order they are written."""
SOURCE_KINDS = ("import", "merge")

# limits on untrusted input (an export file may come from anyone)
MAX_FILE_BYTES = 1 << 30
"""Bytes of JSON text a file may hold (after decompression): 1 GiB."""
MAX_LINE_BYTES = 64 << 20
"""Bytes one line may hold: 64 MiB (a range test of 100,000 steps is about 10 MiB)."""
MAX_DEPTH = 32
"""Nesting of lists and objects inside a record's JSON documents."""
MAX_CURVE_POINTS = 1_000_000
MAX_CURVE_FIELDS = 32
MAX_METRICS = 256
MAX_NAME_CHARS = 1_000  # task names (user tasks are file paths), metric and curve field names
MAX_SPEC_CHARS = 2_000
MAX_ERROR_CHARS = 20_000
MAX_URL_CHARS = 4_096
MAX_HOST_CHARS = 255
MAX_VERSION_CHARS = 64
MAX_INT = (1 << 63) - 1  # BIGINT columns
MAX_INT32 = (1 << 31) - 1  # INTEGER columns

_GZIP_MAGIC = b"\x1f\x8b"


class ExportFormatError(StoreError):
    """An export file (or a store being merged) holds something lrscope will not import.

    The message names the file, the line and the record; nothing was imported.
    """


@dataclass(frozen=True)
class Header:
    """The first line: what wrote the file, when, from which store."""

    format_version: int
    lrscope_version: str
    schema_version: int
    exported_at: datetime
    store: str
    host: str | None
    tasks: tuple[str, ...] | None
    since: datetime | None


@dataclass(frozen=True)
class SourceLine:
    """Where some of the exported records came from before they were in the exporting store."""

    line: int
    ref: int
    kind: str
    store: str
    host: str | None
    lrscope_version: str
    exported_at: datetime
    imported_at: datetime
    file: str | None


@dataclass(frozen=True)
class TaskLine:
    line: int
    name: str
    metadata: Mapping[str, object] | None
    fingerprint: str | None
    created_at: datetime
    source: int | None


@dataclass(frozen=True)
class PolicyLine:
    line: int
    spec: str
    name: str
    family: str | None
    n_params: int | None


@dataclass(frozen=True)
class TrialLine:
    """A trial: its key (``runtime`` included), status and (finished ones) result,
    metrics and curve."""

    line: int
    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    runtime: str
    status: str
    error: str | None
    result: Mapping[str, float | int | None] | None
    metrics: Mapping[str, float | None] | None
    curve: Sequence[Mapping[str, object]] | None
    lrscope_version: str
    host: str | None
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None
    source: int | None

    @property
    def key(self) -> tuple[str, str, int, int, int, str]:
        return (self.task, self.spec, self.seed, self.steps, self.eval_every, self.runtime)


@dataclass(frozen=True)
class DocumentLine:
    """A range test (``params`` and ``document`` = its result) or an interpolation."""

    line: int
    type: Literal["range_test", "interpolation"]
    task: str
    params: Mapping[str, object] | None
    document: Mapping[str, object]
    lrscope_version: str
    host: str | None
    created_at: datetime
    source: int | None


@dataclass(frozen=True)
class ParsedExport:
    """Every line of a valid file, typed (nothing of it is written yet)."""

    name: str
    header: Header
    sources: tuple[SourceLine, ...]
    tasks: tuple[TaskLine, ...]
    policies: tuple[PolicyLine, ...]
    trials: tuple[TrialLine, ...]
    documents: tuple[DocumentLine, ...]


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _open_binary(path: Path) -> io.BufferedIOBase:
    if _is_gzip(path):
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def open_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of the file (gunzipped when it starts as gzip does).

    Raises:
        ExportFormatError: a line longer than :data:`MAX_LINE_BYTES`, a file
            longer than :data:`MAX_FILE_BYTES`, a broken gzip stream.
        StoreError: the file cannot be read.
    """
    try:
        raw = _open_binary(path)
    except OSError as exc:
        raise StoreError(f"cannot read the export file {str(path)!r}: {exc}") from None
    total = 0
    with raw:
        number = 0
        while True:
            try:
                line = raw.readline(MAX_LINE_BYTES + 1)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise ExportFormatError(
                    f"invalid export file {path.name!r}: cannot read it after line "
                    f"{number} ({exc}); nothing was imported"
                ) from None
            if not line:
                return
            number += 1
            total += len(line)
            if len(line) > MAX_LINE_BYTES:
                raise ExportFormatError(
                    f"invalid export file {path.name!r}: line {number} is longer than "
                    f"{MAX_LINE_BYTES} bytes; nothing was imported"
                )
            if total > MAX_FILE_BYTES:
                raise ExportFormatError(
                    f"invalid export file {path.name!r}: it holds more than {MAX_FILE_BYTES} "
                    f"bytes of text (at line {number}); nothing was imported"
                )
            yield number, line


def lines_of_text(text: Sequence[str]) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of lines held in memory (a merge)."""
    for number, line in enumerate(text, start=1):
        yield number, line.encode("utf-8")


def open_output(path: Path, *, compress: bool) -> IO[str]:
    """A text stream writing ``path`` (truncated first), gzip-compressed when asked."""
    if compress:
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="\n")
    return path.open("w", encoding="utf-8", newline="\n")
