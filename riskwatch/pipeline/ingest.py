"""Use case: ingest — read an export, normalize it chunk by chunk, save every row (or quarantine it).

Functions here take an open session and never commit: the caller (CLI command, job) owns the
transaction. Time is an argument (``now``); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch.config import Settings
from riskwatch.ingest.background import in_background
from riskwatch.ingest.normalize import NormalizedChunk, normalize_chunk
from riskwatch.ingest.readers import read_table
from riskwatch.ingest.refs import Refs, build_refs
from riskwatch.schema import RowProblem, UnreadableFileError
from riskwatch.store import (
    finish_batch,
    prepare_versions,
    save_cases,
    save_notes,
    save_quarantine,
    start_batch,
    sync_reference,
)

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls", ".txt")
BACKGROUND_MIN_BYTES = 8 << 20  # below this, forking a reader process costs more than it saves
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class FileSummary:
    """What ingest did with one file. ``read`` = new + updated + unchanged + older + quarantined."""

    file: str
    source: str = ""
    encoding: str = ""
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    quarantined: int = 0
    blank: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)  # the first quarantined rows, as examples

    MAX_PROBLEMS = 5


SPREADSHEET_SUFFIXES = (".xlsb", ".ods", ".et")  # tables riskwatch cannot read (yet)


@dataclass(frozen=True)
class InputFiles:
    """What a list of paths holds: the files to read, in a stable order, and every file under a folder
    that is not read, with why (none is skipped without a word)."""

    files: list[Path]
    ignored: list[tuple[Path, str]]      # hidden files and Office lock files: said, not an error
    unreadable: list[tuple[Path, str]]   # tables in a format riskwatch does not read: an error
    other: list[tuple[Path, str]]        # anything else found in a folder: said, not an error


def expand_paths(paths: Iterable[Path]) -> InputFiles:
    """Files given, and the input files under directories given, in a stable order; the files under the
    directories that are not read are listed with the reason."""
    out = InputFiles([], [], [], [])
    for p in paths:
        if not p.is_dir():
            out.files.append(p)
            continue
        for f in sorted(f for f in p.rglob("*") if f.is_file()):
            rel = f.relative_to(p)
            if any(part.startswith(".") for part in rel.parts):
                out.ignored.append((f, "hidden file"))
            elif f.name.startswith("~$"):
                out.ignored.append((f, "Office lock file of an open workbook"))
            elif f.suffix.lower() in INPUT_SUFFIXES:
                out.files.append(f)
            elif f.suffix.lower() in SPREADSHEET_SUFFIXES:
                out.unreadable.append((f, f"{f.suffix.lower()} workbooks are not read: save it as .xlsx or CSV"))
            else:
                out.other.append((f, f"not an export ({f.suffix or 'no extension'})"))
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_store(session: Session, settings: Settings) -> None:
    """Write the configured regions, categories and staff into the store (idempotent)."""
    sync_reference(session, settings)


def ingest_file(session: Session, settings: Settings, path: Path, now: datetime,
                source: str | None = None, refs: Refs | None = None) -> FileSummary:
    """Read one export, normalize it chunk by chunk and upsert it; every row is stored or quarantined.

    Files of ``BACKGROUND_MIN_BYTES`` or more are read and normalized in a child process while this
    one writes. Raises ``UnreadableFileError`` when the file cannot be read at all.
    """
    mapping = None
    if source is not None:
        if source not in settings.mappings:
            raise UnreadableFileError(str(path), f"unknown source {source!r} (known: {', '.join(settings.mappings)})")
        mapping = settings.mappings[source]
    table = read_table(path, mapping, settings.mappings, settings.ingest.chunk_rows)
    refs = refs or build_refs(settings)
    summary = FileSummary(file=str(path), source=table.mapping.name, encoding=table.encoding)
    batch_id = start_batch(session, table.mapping.name, path.name, file_sha256(path), now, table.encoding)
    latest = pd.Timestamp(now) + pd.Timedelta(days=1)   # a day's grace for the clocks of other systems

    def produce() -> Iterator[tuple[int, NormalizedChunk]]:
        for raw in table.chunks():
            chunk = normalize_chunk(raw, table.mapping, refs, str(path), latest)
            cases, parties = prepare_versions(chunk.cases, chunk.parties)
            yield len(raw), replace(chunk, cases=cases, parties=parties)

    def blank_lines() -> int:
        return table.blank_lines

    if path.stat().st_size >= BACKGROUND_MIN_BYTES:
        chunks = in_background(produce, blank_lines)
    else:
        chunks = _then(produce(), blank_lines)
    while True:
        try:
            rows, chunk = next(chunks)
        except StopIteration as stop:
            summary.blank = stop.value
            break
        counts = save_cases(session, batch_id, chunk.cases, chunk.parties)
        save_quarantine(session, batch_id, path.name, chunk.quarantine)
        save_notes(session, batch_id, chunk.notes)
        summary.read += rows
        summary.new += counts.new
        summary.updated += counts.updated
        summary.unchanged += counts.unchanged
        summary.older += counts.older
        summary.quarantined += len(chunk.quarantine)
        for q in chunk.quarantine.head(FileSummary.MAX_PROBLEMS - len(summary.problems)).itertuples():
            summary.problems.append(RowProblem(path.name, int(q.row_number), str(q.field), str(q.reason)))
        summary.notes.update(_note_kinds(chunk.notes))
    finish_batch(session, batch_id, rows_read=summary.read, rows_new=summary.new,
                 rows_updated=summary.updated, rows_unchanged=summary.unchanged, rows_older=summary.older,
                 rows_quarantined=summary.quarantined, rows_blank=summary.blank, finished_at=now)
    log.info("ingested %s: %s", path.name, summary)
    return summary


def _then(items: Iterator[T], finish: Callable[[], R]) -> Generator[T, None, R]:
    """``items``, then ``finish()`` as the generator's return value (the in-process twin of
    ``in_background``)."""
    yield from items
    return finish()


def _note_kinds(notes: pd.DataFrame) -> Counter[str]:
    if notes.empty:
        return Counter()
    return Counter(notes["field"].astype(str) + ": " + notes["note"].astype(str).str.split(":").str[0])
