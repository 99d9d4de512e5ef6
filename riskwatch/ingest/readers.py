"""File edge of ingest: open a CSV, XLSX or XLS export and stream it as chunks of raw text.

``read_table`` detects the kind by content (a zip: XLSX; an OLE2 file: old Excel ``.xls``, read by xlrd;
else text), the encoding of text (UTF-8 with or without BOM, GB18030/GBK, UTF-16 with or without BOM as
Excel's "Unicode text"), the delimiter (comma, tab, semicolon or bar: the one whose records show a header),
the source mapping (when not given) and the header row, looking at records, not lines (title rows above it
skipped; a merged two-row header combined), and returns a ``RawTable`` whose ``chunks()`` yields DataFrames
of text, never the whole file at once:

* one column per input column, named by the resolved header: the mapping's own spelling of a header it
  knows (``来电时间``, ``来电人信息-姓名``), else the header text as written, else ``_col<N>`` (1-based)
  for a column without a header; values are text or missing (``str`` or object columns, NaN/``None``).
  Empty and whitespace-only cells are missing;
* ``row_number``: 1-based record number in the file, counting every record (title rows, header rows and
  blank lines included); for XLSX/XLS the sheet row number; for CSV the record number, which is the line
  number unless a quoted field spans several lines;
* ``is_total_row``: bool, ``合计``/``总计``/``小计`` in one of the first three cells (not a record: normalize
  quarantines it);
* ``extra_cells``: text of non-empty cells beyond the header's width (a structurally broken row), else
  ``None``;
* ``read_problem``: why the record cannot be taken as it stands (normalize quarantines it with this
  reason), else ``None``: a quote left open that ran on into later records, or to the end of the file;
* ``read_note``: what the reader repaired (normalize notes it on field ``row``), else ``None``: NUL bytes
  removed, undecodable bytes replaced, a record split by a bare line break joined, a short record.

CSV is read by Arrow's streaming reader while the file is clean, and by the careful reader (the csv module,
line by line) from a record Arrow cannot be trusted with until ``RESUME_AFTER`` sound records have passed
(``RawTable._arrow_frames``, ``RawTable._careful_frames``). Every record read is in exactly one chunk row
or counted in ``RawTable.blank_lines`` (fully blank records after the header; final once ``chunks()`` has
been consumed). XLSX dates/times become ISO text and integral numbers lose ``.0``, so normalize only ever
sees text; Excel serial dates in CSV files stay text.
"""

from __future__ import annotations

import codecs
import csv
import mmap
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from riskwatch.config import SourceMapping
from riskwatch.schema import (
    EXTRA_CELLS,
    IS_TOTAL_ROW,
    READ_NOTE,
    READ_PROBLEM,
    ROW_NUMBER,
    UnreadableFileError,
)

TOTAL_MARKERS = ("合计", "总计", "小计")
HEADER_SCAN_ROWS = 15
SAMPLE_BYTES = 1 << 20
REQUIRED_FIELDS = ("source_id", "received_at")
# a receipt time as exports write it: 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 20240305
DATE_LIKE = re.compile(r"\s*['\"=]*(?:19|20)\d{2}(?:\s*[-/.年]\s*\d{1,2}|\d{4}(?!\d))")

csv.field_size_limit(1 << 30)


def header_key(text: object) -> str:
    """Comparable form of a header: NFKC (full-width folded), whitespace removed."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split())


def known_headers(mapping: SourceMapping) -> dict[str, str]:
    """``header_key`` -> the mapping's spelling, for every header of every field (case and party)."""
    out: dict[str, str] = {}
    for table in (mapping.fields, mapping.party):
        for headers in table.values():
            for h in headers:
                out.setdefault(header_key(h), h)
    return out


def header_fields(mapping: SourceMapping) -> dict[str, str]:
    """The mapping's header spelling -> canonical field (first field listing it wins)."""
    out: dict[str, str] = {}
    for table in (mapping.fields, mapping.party):
        for fld, headers in table.items():
            for h in headers:
                out.setdefault(h, fld)
    return out


@dataclass
class RawTable:
    """An opened export: what was detected, and a chunk iterator over its data rows."""

    path: Path
    mapping: SourceMapping
    encoding: str  # utf-8-sig | gb18030 | utf-16[-le|-be] | (charset-normalizer's name) | xlsx | xls
    header_row: int  # 0-based index of the (upper) header record
    header_rows: int  # 1 or 2
    headers: list[str]  # resolved header names, one per input column
    chunk_rows: int
    kind: str  # csv | xlsx | xls
    delimiter: str = ","
    careful_from: int | None = None  # CSV: the record from which the careful reader reads (None: Arrow first)
    has_nul: bool = False  # CSV: the file holds NUL bytes (their records are read carefully, and noted)
    blank_lines: int = 0
    rows_read: int = 0
    _consumed: bool = field(default=False, repr=False)

    @property
    def fields(self) -> dict[str, str]:
        """Canonical field -> resolved header, for the fields present."""
        hf = header_fields(self.mapping)
        out: dict[str, str] = {}
        for h in self.headers:
            if h in hf:
                out.setdefault(hf[h], h)
        return out

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Data rows in frames of at most ``chunk_rows`` rows (see the module docstring)."""
        self.blank_lines = 0
        self.rows_read = 0
        if self.kind in ("xlsx", "xls"):
            yield from self._xlsx_chunks()
        else:
            yield from self._csv_chunks()
        self._consumed = True

    def _xlsx_chunks(self) -> Iterator[pd.DataFrame]:
        first = self.header_row + self.header_rows
        width = len(self.headers)
        buf: list[list[str | None]] = []
        numbers: list[int] = []
        for i, rec in enumerate(_iter_records(self.path, self.kind, self.encoding, self.delimiter)):
            if i < first:
                continue
            cells = [_cell_text(c) for c in rec]
            if not any(cells):
                self.blank_lines += 1
                continue
            buf.append(cells)
            numbers.append(i + 1)
            if len(buf) >= self.chunk_rows:
                self.rows_read += len(buf)
                yield self._frame(buf, numbers, width)
                buf, numbers = [], []
        if buf:
            self.rows_read += len(buf)
            yield self._frame(buf, numbers, width)

    def _csv_chunks(self) -> Iterator[pd.DataFrame]:
        """CSV records in chunks of ``chunk_rows``: Arrow's fast reader while the file is clean, the careful
        reader from a record that needs it until the file is clean again (see ``_arrow_frames`` and
        ``_careful_frames``)."""
        pending: list[pd.DataFrame] = []
        pending_rows = 0
        frames = (self._careful_frames(self.careful_from, _At(0, 0)) if self.careful_from is not None
                  else self._arrow_frames(_At(0, 0)))
        for frame in frames:
            pending.append(frame)
            pending_rows += len(frame)
            while pending_rows >= self.chunk_rows:
                whole = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                yield self._counted(whole.iloc[: self.chunk_rows].reset_index(drop=True))
                rest = whole.iloc[self.chunk_rows:].reset_index(drop=True)
                pending, pending_rows = [rest], len(rest)
        if pending_rows:
            yield self._counted(pd.concat(pending, ignore_index=True))

    def _counted(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.rows_read += len(frame)
        return frame

    def _arrow_frames(self, at: _At) -> Iterator[pd.DataFrame]:
        """Records from ``at`` through Arrow's streaming reader (cells arrive as Arrow strings, never Python
        objects), until a record needs the careful reader: one whose cell count differs from the header's,
        one with a cell that swallowed what look like later records (an unclosed quote), a quote open at the
        end of the file, or a block Arrow cannot parse or decode. From that record, ``_careful_frames``
        reads on."""
        first = self.header_row + self.header_rows if at.offset == 0 else 0
        width = len(self.headers)
        names = [f"c{i}" for i in range(width)]
        invalid: dict[int, str] = {}
        next_number = at.number + first + 1

        def keep_aside(row: Any) -> str:
            invalid[at.number + int(row.number)] = row.text
            return "skip"

        encoding = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        with self.path.open("rb") as fh:
            fh.seek(at.offset)
            try:
                reader = pacsv.open_csv(
                    fh,
                    read_options=pacsv.ReadOptions(skip_rows=first, column_names=names, use_threads=False,
                                                   block_size=4 << 20, encoding=encoding),
                    parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                     ignore_empty_lines=False, invalid_row_handler=keep_aside),
                    convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                         strings_can_be_null=True, quoted_strings_can_be_null=True),
                )
            except (pa.ArrowInvalid, UnicodeDecodeError):
                reader = None
            held: pd.DataFrame | None = None  # the last batch, held back: its last record may be the file's last
            careful: int | None = next_number if reader is None else None
            while reader is not None:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError):
                    careful = next_number
                    break
                # valid records take the record numbers that were not reported invalid, in order
                numbers = np.empty(batch.num_rows, dtype="int64")
                k = 0
                while k < batch.num_rows:
                    if next_number not in invalid:
                        numbers[k] = next_number
                        k += 1
                    next_number += 1
                aside = sorted(n for n in invalid if n < next_number)
                broken = [n for n in aside if invalid[n].strip(" \t\r\n" + self.delimiter)]
                careful = min(broken[:1] + self._damaged_rows(batch, numbers)[:1], default=None)
                self.blank_lines += sum(1 for n in aside if careful is None or n < careful)  # the rest: blank
                for n in aside:
                    del invalid[n]
                if held is not None and len(held):
                    yield self._finish_arrow_frame(held)
                frame = batch.to_pandas()
                frame.columns = self.headers
                frame[ROW_NUMBER] = numbers
                held = frame[numbers < careful] if careful is not None else frame
                if careful is not None:
                    break
            if careful is None:  # the end of the file: records Arrow set aside after its last valid one
                tail = sorted(invalid)
                broken = [n for n in tail if invalid[n].strip(" \t\r\n" + self.delimiter)]
                if broken:
                    careful = broken[0]
                elif held is not None and len(held) and self._open_at_end(held.iloc[-1]):
                    careful = int(held[ROW_NUMBER].iloc[-1])
                    held = held[held[ROW_NUMBER] < careful]
                self.blank_lines += sum(1 for n in tail if careful is None or n < careful)
        if held is not None and len(held):
            yield self._finish_arrow_frame(held.reset_index(drop=True))
        if careful is not None:
            yield from self._careful_frames(careful, at)

    def _open_at_end(self, last: pd.Series) -> bool:
        """Whether the file's last record ends inside a quote (the file ends with ``"`` and the text of its
        last cell, as Arrow takes a quote left open to the end of the file)."""
        cells = [c for c in last[self.headers] if isinstance(c, str) and c]
        if not cells or any(w in self.encoding for w in ("16", "32")):
            return False
        enc = "utf-8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        try:
            end = ('"' + cells[-1]).encode(enc)
        except (UnicodeEncodeError, LookupError):
            return False
        with self.path.open("rb") as fh:
            fh.seek(max(0, self.path.stat().st_size - len(end)))
            return fh.read() == end

    def _damaged_rows(self, batch: pa.RecordBatch, numbers: np.ndarray) -> list[int]:
        """Record numbers (ascending) of rows the careful reader must read: a cell holding a NUL byte (when
        the file has any), or a line that looks like a record of its own (an unclosed quote has swallowed
        the records after it)."""
        hit = np.zeros(batch.num_rows, dtype=bool)
        cols = []
        for i in range(batch.num_columns):
            if self.has_nul:
                hit |= pc.match_substring(batch.column(i), "\x00").fill_null(False).to_numpy(zero_copy_only=False)
            has_break = pc.match_substring(batch.column(i), "\n").fill_null(False).to_numpy(zero_copy_only=False)
            if has_break.any():
                cols.append((i, has_break))
        for i, has_break in cols:
            texts = batch.column(i)
            for r in np.flatnonzero(has_break & ~hit):
                if any(self._looks_like_record(line) for line in str(texts[int(r)]).splitlines()[1:]):
                    hit[r] = True
        return [int(n) for n in numbers[hit]]

    def _finish_arrow_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Drop blank records (counted), mark total rows, blank cells -> missing."""
        cells = frame[self.headers]
        present = pd.DataFrame({h: cells[h].str.strip().fillna("") != "" for h in self.headers})
        blank = ~present.any(axis=1).to_numpy()
        if blank.any():
            self.blank_lines += int(blank.sum())
            frame = frame[~blank].reset_index(drop=True)
            present = present[~blank].reset_index(drop=True)
        for h in self.headers:  # empty or whitespace-only cells are missing, as for XLSX
            frame[h] = frame[h].where(present[h].to_numpy())
        total = np.zeros(len(frame), dtype=bool)
        for h in self.headers[:3]:
            total |= frame[h].str.strip().str.startswith(TOTAL_MARKERS).fillna(False).to_numpy(dtype=bool)
        frame[IS_TOTAL_ROW] = total
        frame[ROW_NUMBER] = frame[ROW_NUMBER].astype("int64")
        for c in (EXTRA_CELLS, READ_PROBLEM, READ_NOTE):
            frame[c] = None
        return frame

    # --- the careful reader -------------------------------------------------------------------
    def _looks_like_record(self, line: str) -> bool:
        """A physical line that reads as a record of this file on its own: an id where the id column is and
        a date where the receipt time is. Text inside a cell does not look like that."""
        cells = next(csv.reader([line.rstrip("\r\n")], delimiter=self.delimiter), [])
        sid, rec = self._key_columns
        return (sid < len(cells) and rec < len(cells) and bool(cells[sid].strip())
                and DATE_LIKE.match(cells[rec]) is not None)

    def _starts_record(self, part: _Record, first: _Record) -> bool:
        """Whether ``part`` starts a record rather than continuing ``first``: an id of the same shape as
        ``first``'s where the id column is (ids of one export share a format), or a line that looks like a
        record (``_looks_like_record``)."""
        sid, _ = self._key_columns
        ids = [r.cells[sid].strip() if sid < len(r.cells) else "" for r in (part, first)]
        if ids[0] and _id_shape(ids[0]) == _id_shape(ids[1]):
            return True
        return self._looks_like_record(part.raw)

    @property
    def _key_columns(self) -> tuple[int, int]:
        f = self.fields
        return self.headers.index(f["source_id"]), self.headers.index(f["received_at"])

    def _careful_frames(self, start: int, at: _At) -> Iterator[pd.DataFrame]:
        """Records ``start`` onwards through ``_careful_records`` (read from ``at``), in frames of
        ``chunk_rows``; after ``RESUME_AFTER`` sound records in a row, Arrow reads on."""
        width = len(self.headers)
        buf: list[list[str | None]] = []
        numbers: list[int] = []
        problems: list[str | None] = []
        notes: list[str | None] = []
        lines = _Lines(self.path, self.encoding, self._looks_like_record, at)
        resume: _At | None = None
        try:
            sound = 0
            for rec in self._joined(self._careful_records(lines, start, at.number), width):
                cells: list[str | None] = [c if c and not c.isspace() else None for c in rec.cells]
                if rec.problem is None and not any(cells):
                    self.blank_lines += 1
                    continue
                note = rec.note
                if rec.problem is None and len(cells) < width and not _is_total(cells):
                    note = _join_notes(note, f"short record: {len(cells)} of {width} cells, the rest left blank")
                buf.append(cells)
                numbers.append(rec.number)
                problems.append(rec.problem)
                notes.append(note)
                sound = sound + 1 if rec.problem is None and note is None and len(cells) == width else 0
                if len(buf) >= self.chunk_rows:
                    yield self._frame(buf, numbers, width, problems, notes)
                    buf, numbers, problems, notes = [], [], [], []
                if sound >= RESUME_AFTER and lines.at_boundary:
                    resume = _At(lines.offset, rec.number)
                    break
        finally:
            lines.close()
        if buf:
            yield self._frame(buf, numbers, width, problems, notes)
        if resume is not None:
            yield from self._arrow_frames(resume)

    def _careful_records(self, lines: _Lines, start: int, number: int) -> Iterator[_Record]:
        """The records of ``lines`` from record ``start`` (1-based; ``number`` records come before
        ``lines``), read line by line so that damage is caught where it is:

        * a quote left open: when a record's quoted cell runs on into a line that looks like a record of
          its own (``_looks_like_record``), the record is cut before that line and quarantined, and reading
          goes on from that line; a quote still open at the end of the file quarantines its record too;
        * NUL bytes are removed and undecodable bytes replaced (``\ufffd``), each with a note on the record.
        """
        while True:
            reader = csv.reader(lines, delimiter=self.delimiter)
            lines.watch = number + 1 >= start
            try:
                for cells in reader:
                    number += 1
                    raw, note = lines.take()
                    lines.watch = number + 1 >= start
                    if number < start:
                        continue
                    problem = None
                    if lines.at_end and raw.count('"') % 2:  # the reader ran out of lines inside a quote
                        raw = self._without_trailing_blank_lines(raw)
                        cells = next(csv.reader([raw.rstrip("\r\n") + '"'], delimiter=self.delimiter), [])
                        if "\n" in raw.rstrip("\r\n"):
                            problem = "unclosed quote: the record runs on to the end of the file"
                        else:
                            note = _join_notes(note, "unclosed quote at the end of the file")
                    yield _Record(number, cells, problem, note, raw)
                return
            except _RecordStart:
                number += 1
                raw, note = lines.take()
                raw = self._without_trailing_blank_lines(raw)
                cells = next(csv.reader([raw.rstrip("\r\n") + '"'], delimiter=self.delimiter), [])
                if number >= start:
                    yield _Record(number, cells, f"unclosed quote: the record runs on into the next line "
                                                 f"({lines.held_preview}), which is read as record {number + 1}",
                                  note, raw)

    def _without_trailing_blank_lines(self, raw: str) -> str:
        """A broken record's text without the blank lines it swallowed at its end (counted blank)."""
        lines = raw.splitlines(keepends=True)
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
            self.blank_lines += 1
        return "".join(lines)

    def _joined(self, records: Iterator[_Record], width: int) -> Iterator[_Record]:
        """Records split by a bare line break inside an unquoted cell joined again: consecutive short records
        whose cells add up to the header's width (the split cell counted once), none of the later parts
        starting a record of its own (``_starts_record``); the joined record keeps the first number and
        says so."""
        held: list[_Record] = []

        def cells_of(parts: list[_Record]) -> int:
            return sum(len(p.cells) for p in parts) - (len(parts) - 1)

        for rec in records:
            if not held and len(rec.cells) >= width:
                yield rec
                continue
            if not "".join(rec.cells).strip():  # a blank line is no part of a record
                yield from held
                held = []
                yield rec
                continue
            short = rec.problem is None and 0 < len(rec.cells) < width
            if held and short and cells_of(held + [rec]) <= width and not self._starts_record(rec, held[0]):
                held.append(rec)
                if cells_of(held) == width:
                    yield _join(held)
                    held = []
                continue
            yield from held
            held = [rec] if short else []
            if not short:
                yield rec
        yield from held

    def _frame(self, rows: list[list[str | None]], numbers: list[int], width: int,
               problems: list[str | None] | None = None, notes: list[str | None] | None = None) -> pd.DataFrame:
        extra: list[str | None] = [None] * len(rows)
        fixed: list[list[str | None]] = []
        for k, r in enumerate(rows):
            if len(r) > width:
                tail = [c for c in r[width:] if c]
                if tail:
                    extra[k] = "|".join(tail)
                r = r[:width]
            elif len(r) < width:
                r = r + [None] * (width - len(r))
            fixed.append(r)
        frame = pd.DataFrame(fixed, columns=self.headers, dtype=object)
        total = np.zeros(len(frame), dtype=bool)
        for h in self.headers[:3]:
            total |= frame[h].str.strip().str.startswith(TOTAL_MARKERS).fillna(False).to_numpy(dtype=bool)
        frame[IS_TOTAL_ROW] = total
        frame[EXTRA_CELLS] = pd.Series(extra, dtype=object)
        frame[READ_PROBLEM] = pd.Series(problems if problems is not None else [None] * len(rows), dtype=object)
        frame[READ_NOTE] = pd.Series(notes if notes is not None else [None] * len(rows), dtype=object)
        frame[ROW_NUMBER] = pd.Series(numbers, dtype="int64")
        return frame


# --- cells --------------------------------------------------------------------------------------
def _cell_text(value: Any) -> str | None:
    """Text of one cell: ``None`` for empty/blank; XLSX values converted (datetime ISO, 3.0 -> ``3``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


def _id_shape(text: str) -> str:
    """An id's format: runs of digits as ``0``, runs of ASCII letters as ``A`` (``12345-20240305-0001`` ->
    ``0-0-0``, ``XF2024001`` -> ``A0``); anything else as it is."""
    return re.sub(r"[A-Za-z]+", "A", re.sub(r"\d+", "0", text))


def _is_total(cells: Sequence[str | None]) -> bool:
    return any(c and c.strip().startswith(TOTAL_MARKERS) for c in cells[:3])


def _join_notes(*notes: str | None) -> str | None:
    text = "; ".join(n for n in notes if n)
    return text or None


# --- the careful reader's records and lines ----------------------------------------------------------
@dataclass(frozen=True)
class _At:
    """A record boundary in a CSV file: its byte offset and the number of records before it."""

    offset: int
    number: int


@dataclass(slots=True)
class _Record:
    number: int  # 1-based record number
    cells: list[str]
    problem: str | None  # why it is quarantined as it stands
    note: str | None  # what was repaired
    raw: str  # the record's text as read (NULs removed)


def _join(parts: list[_Record]) -> _Record:
    cells = list(parts[0].cells)
    for p in parts[1:]:
        cells[-1] = f"{cells[-1]}\n{p.cells[0]}"
        cells.extend(p.cells[1:])
    span = f"records {parts[0].number}-{parts[-1].number}" if len(parts) > 2 else \
        f"records {parts[0].number} and {parts[-1].number}"
    note = _join_notes(*(p.note for p in parts), f"line break inside an unquoted cell: {span} joined")
    return _Record(parts[0].number, cells, None, note, "".join(p.raw for p in parts))


class _RecordStart(Exception):
    """Raised into the csv module when a record's quoted cell runs on into a line that is a record."""


class _Lines:
    """The file's physical lines for ``csv.reader``, one record's lines remembered at a time.

    Bytes are decoded line by line (ASCII-compatible encodings), so that a NUL byte or an undecodable
    byte costs its record a note, not the file its reading. While ``watch`` is set, a line asked for to
    continue a record (a quoted cell still open) that ``looks_like_record`` is held back and
    ``_RecordStart`` raised instead; the next reader gets it first.
    """

    def __init__(self, path: Path, encoding: str, looks_like_record: Any, at: _At) -> None:
        self.path = path
        self.encoding = encoding
        self.codec = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        self.text_mode = any(w in encoding.replace("_", "-").lower() for w in ("utf-16", "utf-32"))
        self.fh: Any = path.open("r", encoding=encoding, newline="") if self.text_mode else path.open("rb")
        if at.offset:
            self.fh.seek(at.offset)
        self.offset = at.offset  # bytes read (binary mode)
        self.looks_like_record = looks_like_record
        self.watch = False
        self.at_end = False
        self.held: str | None = None
        self.current: list[str] = []
        self.notes: list[str] = []

    @property
    def at_boundary(self) -> bool:
        """Between two records, at a byte offset Arrow can start from."""
        return not self.text_mode and self.held is None and not self.current

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.held is not None:
            line, self.held = self.held, None
        else:
            try:
                got = next(self.fh)
            except StopIteration:
                self.at_end = True
                raise
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(str(self.path), f"undecodable text as {self.encoding}: {exc.reason}") from exc
            line = self._decode(got)
            if self.current and self.watch and self.looks_like_record(line):
                self.held = line
                raise _RecordStart
        self.current.append(line)
        return line

    def _decode(self, got: str | bytes) -> str:
        if isinstance(got, str):
            if "\x00" in got:
                self.notes.append("NUL characters removed")
                got = got.replace("\x00", "")
            return got
        size = len(got)
        if self.offset == 0 and got.startswith(codecs.BOM_UTF8):
            got = got[len(codecs.BOM_UTF8):]
        self.offset += size
        if b"\x00" in got:
            self.notes.append("NUL bytes removed")
            got = got.replace(b"\x00", b"")
        try:
            return got.decode(self.codec)
        except UnicodeDecodeError:
            self.notes.append(f"undecodable bytes as {self.encoding} replaced by \ufffd")
            return got.decode(self.codec, errors="replace")

    @property
    def held_preview(self) -> str:
        text = (self.held or "").rstrip("\r\n")
        return text[:30] + ("…" if len(text) > 30 else "")

    def close(self) -> None:
        self.fh.close()

    def take(self) -> tuple[str, str | None]:
        """The text and notes of the record just read; the next record starts afresh."""
        raw = self.current[0] if len(self.current) == 1 else "".join(self.current)
        self.current = []
        if not self.notes:
            return raw, None
        note, self.notes = _join_notes(*self.notes), []
        return raw, note


# --- encodings and records ----------------------------------------------------------------------
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Excel (.xls) workbooks
BINARY_NUL_SHARE = 0.1  # more NUL bytes than this in the first MiB (and not UTF-16): not a text export
DELIMITERS = (",", "\t", ";", "|")
RESUME_AFTER = 1000  # sound records in a row after which the careful reader hands back to Arrow


def file_kind(path: Path) -> str:
    """``xlsx`` (a zip: .xlsx/.xlsm), ``xls`` (an OLE2 workbook) or ``csv`` (text), by content; a file named
    .xlsx that is no zip is ``xlsx`` too, and is refused as a workbook."""
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return "xlsx"
    if magic == OLE2_MAGIC:
        return "xls"
    return "csv"


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when most odd (even) bytes are NUL, as in UTF-16 text without a BOM."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def detect_encoding(path: Path) -> str:
    """``utf-16`` (with a BOM, as Excel's "Unicode text"), ``utf-16-le``/``-be`` (without), ``utf-8-sig``
    (UTF-8 with or without BOM), ``gb18030``, or charset-normalizer's guess.

    Tried strictly on the first MiB, NUL bytes aside (the reader removes them and notes their records);
    raises ``UnreadableFileError`` for binary or undecodable files.
    """
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        at_end = not fh.read(1)
    if not sample:
        raise UnreadableFileError(str(path), "empty file")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return utf16
    if sample.count(0) > BINARY_NUL_SHARE * len(sample):
        raise UnreadableFileError(str(path), "binary content (NUL bytes): not a CSV text export")
    sample = sample.replace(b"\x00", b"")
    tolerated = max(2, len(sample) // 20_000)  # a few bad bytes cost their records a note, not the file
    for enc in ("utf-8-sig", "gb18030"):
        if _decode_errors(sample, enc, at_end, tolerated) <= tolerated:
            return enc
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover
        best = None
    else:
        best = from_bytes(sample).best()
    if best is not None and best.encoding:
        enc = str(best.encoding)
        try:
            codecs.getincrementaldecoder(enc)("strict").decode(sample, final=at_end)
            text = sample.decode(enc, errors="ignore")
            if sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.98 * max(1, len(text)):
                return enc
        except (UnicodeDecodeError, LookupError):
            pass
    raise UnreadableFileError(str(path), "encoding is neither UTF-8 nor GB18030/GBK (undecodable text)")


def _decode_errors(data: bytes, encoding: str, final: bool, limit: int) -> int:
    """Undecodable byte sequences in ``data`` as ``encoding``, counted up to ``limit + 1``."""
    errors, pos = 0, 0
    dec = codecs.getincrementaldecoder(encoding)("strict")
    while errors <= limit:
        try:
            dec.decode(data[pos:], final=final)
            return errors
        except UnicodeDecodeError as exc:
            errors += 1
            pos += exc.end
            dec.reset()
    return errors


def _has_nul(path: Path) -> bool:
    """Whether the file holds a NUL byte anywhere (memchr over a memory map: fast on any size)."""
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b"\x00") != -1


def _iter_records(path: Path, kind: str, encoding: str, delimiter: str) -> Iterator[Sequence[Any]]:
    if kind == "xlsx":
        yield from _iter_xlsx(path)
        return
    if kind == "xls":
        yield from _iter_xls(path)
        return
    try:  # the records above the data: a bad byte here is the data reader's to note
        with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
            for rec in csv.reader(fh, delimiter=delimiter):
                yield [c.replace("\x00", "") for c in rec]
    except csv.Error as exc:
        raise UnreadableFileError(str(path), f"broken CSV structure: {exc}") from exc


def _iter_xls(path: Path) -> Iterator[list[Any]]:
    """Rows of an old Excel workbook's first sheet (xlrd): dates as ``datetime``, numbers as ``float``."""
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
        sheet = book.sheet_by_index(0)
    except Exception as exc:  # xlrd raises its own errors and plain ones (struct, index) on damaged files
        raise UnreadableFileError(str(path), f"not a readable .xls workbook: {type(exc).__name__}: {exc}") from exc
    try:
        for i in range(sheet.nrows):
            row: list[Any] = []
            for cell in sheet.row(i):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                    except (xlrd.xldate.XLDateError, ValueError, OverflowError):
                        row.append(cell.value)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    row.append(None)
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    row.append(bool(cell.value))
                else:
                    row.append(cell.value)
            yield row
    finally:
        book.release_resources()


def _iter_xlsx(path: Path) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFileError(str(path), f"not a readable XLSX workbook: {exc}") from exc
    try:
        ws = wb.worksheets[0]
        yield from ws.iter_rows(values_only=True)
    finally:
        wb.close()


# --- header detection -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    row: int
    rows: int
    names: list[str]
    score: int  # distinct canonical fields resolved
    missing: tuple[str, ...]


MAX_HEADER_CHARS = 200  # a longer cell is no header (and an open quote can make one the size of the file)


def _row_matches(cells: Sequence[str | None], known: Mapping[str, str]) -> int:
    return sum(1 for c in cells if c and len(c) <= MAX_HEADER_CHARS and header_key(c) in known)


def _resolve_names(upper: Sequence[str | None], lower: Sequence[str | None] | None,
                   known: Mapping[str, str]) -> list[str]:
    width = max(len(upper), len(lower) if lower is not None else 0)
    up = list(upper) + [None] * (width - len(upper))
    names: list[str] = []
    if lower is None:
        for i, c in enumerate(up):
            k = header_key(c)
            names.append(known.get(k, str(c).strip()) if k else f"_col{i + 1}")
        return _dedupe(names)
    low = list(lower) + [None] * (width - len(lower))
    filled: list[str] = []
    prev = ""
    for u, lo in zip(up, low, strict=True):
        ku = header_key(u)
        if ku:
            prev = ku
        # forward-fill a merged upper cell to the right only under a lower cell with text
        filled.append(ku or (prev if header_key(lo) else ""))
    for i, (u, lo) in enumerate(zip(filled, low, strict=True)):
        kl = header_key(lo)
        candidates = [f"{u}-{kl}" if u and kl else "", kl, u]
        name = next((known[c] for c in candidates if c and c in known), None)
        if name is None:
            text = "-".join(x for x in (u, kl) if x)
            name = text or f"_col{i + 1}"
        names.append(name)
    return _dedupe(names)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}#{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


def _find_header(head: list[list[str | None]], mapping: SourceMapping) -> _Header | None:
    known = known_headers(mapping)
    hf = header_fields(mapping)
    scores = [_row_matches(r, known) for r in head]
    if not scores or max(scores) == 0:
        return None
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))

    def resolved(names: list[str]) -> int:
        return len({hf[n] for n in names if n in hf})

    # single row, or a two-row header (merged cells) when the second row resolves more fields
    options: list[tuple[int, int | None]] = [(best, None)]
    if best > 0:
        options.append((best - 1, best))
    if best + 1 < len(head):
        options.append((best, best + 1))
    named = [(u, lo, _resolve_names(head[u], head[lo] if lo is not None else None, known)) for u, lo in options]
    upper, lower, names = max(named, key=lambda x: resolved(x[2]))  # first (single row) wins ties
    fields = {hf[n] for n in names if n in hf}
    missing = tuple(f for f in REQUIRED_FIELDS if f not in fields)
    return _Header(upper, 2 if lower is not None else 1, names, len(fields), missing)


def read_table(path: Path, mapping: SourceMapping | None, mappings: Mapping[str, SourceMapping],
               chunk_rows: int) -> RawTable:
    """Open an export (CSV/TXT or XLSX) and detect its encoding, source mapping and header.

    Parameters
    ----------
    path
        The file.
    mapping
        The source's mapping, or ``None`` to pick among ``mappings`` the one whose headers match most
        fields (ties: fewest missing required fields, then mapping name).
    chunk_rows
        Rows per chunk yielded by ``RawTable.chunks()``.

    Raises
    ------
    UnreadableFileError
        Undecodable or binary file, not a workbook, no recognisable header, or no ``source_id`` /
        ``received_at`` column (the reason names the missing fields and the mapping).
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(str(path), "file not found")
    kind = file_kind(path)
    encoding = "xlsx" if kind == "xlsx" else "xls" if kind == "xls" else detect_encoding(path)
    candidates = [mapping] if mapping is not None else list(mappings.values())
    if not candidates:
        raise UnreadableFileError(str(path), "no source mapping configured")
    options = []  # (delimiter, head records, [(mapping, header)])
    for delimiter in (DELIMITERS if kind == "csv" else (",",)):
        head = _head(path, kind, encoding, delimiter)
        if not head:
            raise UnreadableFileError(str(path), "no rows")
        found = [(m, h) for m in candidates if (h := _find_header(head, m)) is not None]
        options.append((delimiter, head, found))
        if found and min(len(h.missing) for _, h in found) == 0 and delimiter == ",":
            break  # the common case: a comma-separated export whose header has what is required
    usable = [(d, hd, m, h) for d, hd, found in options for m, h in found]
    if not usable:
        names = ", ".join(m.name for m in candidates)
        raise UnreadableFileError(str(path), f"no recognisable header row in the first {HEADER_SCAN_ROWS} records "
                                             f"(tried mapping(s): {names})")
    delimiter, head, chosen, hdr = min(
        usable, key=lambda x: (len(x[3].missing), -x[3].score, x[2].name, DELIMITERS.index(x[0])))
    if hdr.missing:
        raise UnreadableFileError(str(path), f"header row {hdr.row + 1} lacks required field(s) "
                                             f"{', '.join(hdr.missing)} for mapping {chosen.name} "
                                             f"(expected one of: " + "; ".join(
                                                 f"{f}: {'/'.join(chosen.fields.get(f, ()))}" for f in hdr.missing) + ")")
    careful_from, has_nul = None, False
    if kind == "csv":
        first = hdr.row + hdr.rows
        if any("\n" in (c or "") or "\r" in (c or "") for rec in head[:first] for c in rec):
            careful_from = first + 1  # Arrow skips physical lines, not records, above the data
        has_nul = encoding.startswith("utf-16") or _has_nul(path)  # UTF-16: NUL characters looked for per batch
    return RawTable(path=path, mapping=chosen, encoding=encoding, header_row=hdr.row, header_rows=hdr.rows,
                    headers=hdr.names, chunk_rows=max(1, int(chunk_rows)), kind=kind, delimiter=delimiter,
                    careful_from=careful_from, has_nul=has_nul)


def _head(path: Path, kind: str, encoding: str, delimiter: str) -> list[list[str | None]]:
    """The first ``HEADER_SCAN_ROWS`` records (records, not lines: a quoted cell may span lines)."""
    head: list[list[str | None]] = []
    for rec in _iter_records(path, kind, encoding, delimiter):
        head.append([_cell_text(c) for c in rec])
        if len(head) >= HEADER_SCAN_ROWS:
            break
    return head

