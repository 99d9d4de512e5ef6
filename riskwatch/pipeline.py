"""One function per use case: store -> core -> store / report. The CLI and the jobs call these.

Functions here take an open session and never commit: the caller (CLI command, job) owns the
transaction. Time is an argument (``now`` / ``as_of``); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.deadlines import DUE, effective_due
from riskwatch.indicators import MonthStats, compute_month_stats
from riskwatch.ingest.background import in_background
from riskwatch.ingest.normalize import NormalizedChunk, normalize_chunk
from riskwatch.ingest.readers import read_table
from riskwatch.ingest.refs import Refs, build_refs
from riskwatch.schema import RowProblem, UnreadableFileError
from riskwatch.store import (
    finish_batch,
    load_cases,
    prepare_versions,
    save_cases,
    save_notes,
    save_quarantine,
    start_batch,
    sync_reference,
)

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".csv", ".xlsx", ".txt")
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


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files given, and the input files under directories given, in a stable order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in INPUT_SUFFIXES))
        else:
            out.append(p)
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

    def produce() -> Iterator[tuple[int, NormalizedChunk]]:
        for raw in table.chunks():
            chunk = normalize_chunk(raw, table.mapping, refs, str(path))
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


def working_dates(start: date, end: date) -> list[date]:
    """The official working days between two dates (holidays and adjusted working days applied)."""
    days = (end - start).days + 1
    return [d for d in (start + timedelta(i) for i in range(days)) if cal.is_working_day(d)]


def cases_with_due(session: Session, settings: Settings, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The stored cases (received up to ``end``) with their effective deadline in ``due``."""
    cases = load_cases(session, end=end)
    if cases.empty:
        cases[DUE] = pd.Series(dtype="datetime64[ns]")
        return cases
    lo = cases["received_at"].min().date()
    hi = max(cases["received_at"].max().date(), lo) + timedelta(days=60)
    kinds = {name: m.kind for name, m in settings.mappings.items()}
    cases[DUE] = effective_due(cases, settings.deadlines, kinds, working_dates(lo, hi))
    return cases


def month_stats(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp,
                category_level: int = 2) -> MonthStats:
    """Indicators of one month as known at ``as_of`` (see ``indicators.compute_month_stats``)."""
    cases = cases_with_due(session, settings, end=as_of)
    return compute_month_stats(cases, month, as_of, category_level)

