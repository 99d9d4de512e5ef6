"""File edge of ingest: open a CSV or XLSX export and stream it as chunks of raw text.

``read_table`` detects the encoding (UTF-8, UTF-8 with BOM, GB18030/GBK), the source mapping (when not
given), the header row (title rows above it skipped; a merged two-row header combined) and returns a
``RawTable`` whose ``chunks()`` yields DataFrames of text, never the whole file at once:

* one column per input column, named by the resolved header: the mapping's own spelling of a header it
  knows (``来电时间``, ``来电人信息-姓名``), else the header text as written, else ``_col<N>`` (1-based)
  for a column without a header; values are text or missing: pandas ``str`` (Arrow) columns with NaN for
  CSV, read by Arrow's streaming CSV reader; object columns with ``None`` for XLSX. Empty and
  whitespace-only cells are missing;
* ``row_number``: 1-based record number in the file, counting every record (title rows, header rows and
  blank lines included); for XLSX the sheet row number; for CSV the record number, which is the line
  number unless a quoted field spans several lines;
* ``is_total_row``: bool, ``合计``/``总计``/``小计`` in one of the first three cells (not a record: normalize
  quarantines it);
* ``extra_cells``: text of non-empty cells beyond the header's width (a structurally broken row), else
  ``None``.

Fully blank records after the header are skipped and counted in ``RawTable.blank_lines`` (final once
``chunks()`` has been consumed). XLSX dates/times become ISO text and integral numbers lose ``.0``, so
normalize only ever sees text; Excel serial dates in CSV files stay text.
"""

from __future__ import annotations

import codecs
import csv
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
import pyarrow.csv as pacsv

from riskwatch.config import SourceMapping
from riskwatch.schema import EXTRA_CELLS, IS_TOTAL_ROW, ROW_NUMBER, UnreadableFileError

TOTAL_MARKERS = ("合计", "总计", "小计")
HEADER_SCAN_ROWS = 15
SAMPLE_BYTES = 1 << 20
REQUIRED_FIELDS = ("source_id", "received_at")
META_COLUMNS = (ROW_NUMBER, IS_TOTAL_ROW, EXTRA_CELLS)

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
    encoding: str  # utf-8 | utf-8-sig | gb18030 | (charset-normalizer's name) | xlsx
    header_row: int  # 0-based index of the (upper) header record
    header_rows: int  # 1 or 2
    headers: list[str]  # resolved header names, one per input column
    chunk_rows: int
    kind: str  # csv | xlsx
    delimiter: str = ","
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
        if self.kind == "xlsx":
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
        """CSV through Arrow's streaming reader: cells arrive as Arrow strings, never as Python objects.

        Records whose cell count differs from the header's (short rows, rows with extra cells,
        whitespace-only lines) reach ``invalid_row_handler`` with their record number and text; they are
        parsed here with the csv module and put back in order.
        """
        first = self.header_row + self.header_rows
        width = len(self.headers)
        names = [f"c{i}" for i in range(width)]
        invalid: dict[int, str] = {}

        def keep_aside(row: Any) -> str:
            invalid[int(row.number)] = row.text
            return "skip"

        encoding = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(skip_rows=first, column_names=names, use_threads=False,
                                               block_size=4 << 20, encoding=encoding),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                 ignore_empty_lines=False, invalid_row_handler=keep_aside),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                     strings_can_be_null=True, quoted_strings_can_be_null=True),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise UnreadableFileError(str(self.path), f"broken CSV: {exc}") from exc
        next_number = first + 1
        pending: list[pd.DataFrame] = []
        pending_rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise UnreadableFileError(str(self.path), f"broken CSV after record {next_number - 1}: {exc}") from exc
            # valid records take the record numbers that were not reported invalid, in order
            numbers = np.empty(batch.num_rows, dtype="int64")
            k = 0
            while k < batch.num_rows:
                if next_number not in invalid:
                    numbers[k] = next_number
                    k += 1
                next_number += 1
            frame = batch.to_pandas()
            frame.columns = self.headers
            frame[ROW_NUMBER] = numbers
            aside = sorted(n for n in invalid if n < next_number)
            frame = self._with_invalid_rows(frame, [(n, invalid.pop(n)) for n in aside], width)
            pending.append(frame)
            pending_rows += len(frame)
            while pending_rows >= self.chunk_rows:
                whole = pd.concat(pending, ignore_index=True)
                yield self._finish_csv_frame(whole.iloc[: self.chunk_rows].reset_index(drop=True))
                rest = whole.iloc[self.chunk_rows:].reset_index(drop=True)
                pending, pending_rows = [rest], len(rest)
        tail = sorted(invalid.items())  # invalid records after the last valid one
        if tail:
            empty = pd.DataFrame({h: pd.Series(dtype="str") for h in self.headers})
            empty[ROW_NUMBER] = pd.Series(dtype="int64")
            pending.append(self._with_invalid_rows(empty, tail, width))
        if pending:
            whole = pd.concat(pending, ignore_index=True)
            for start in range(0, len(whole), self.chunk_rows):
                yield self._finish_csv_frame(whole.iloc[start:start + self.chunk_rows].reset_index(drop=True))

    def _with_invalid_rows(self, frame: pd.DataFrame, rows: list[tuple[int, str]], width: int) -> pd.DataFrame:
        """``frame`` plus the records Arrow set aside (parsed by the csv module), in record order;
        whitespace-only records are counted as blank lines."""
        frame[EXTRA_CELLS] = None
        if not rows:
            return frame
        parsed, numbers = [], []
        for number, text in rows:
            cells = next(csv.reader([text], delimiter=self.delimiter), [])
            if not "".join(cells).strip():
                self.blank_lines += 1
                continue
            parsed.append(cells)
            numbers.append(number)
        if not parsed:
            return frame
        extra = self._frame(parsed, numbers, width)
        extra = extra.drop(columns=[IS_TOTAL_ROW])
        out = pd.concat([frame.astype({h: object for h in self.headers}), extra], ignore_index=True)
        return out.sort_values(ROW_NUMBER, kind="stable").reset_index(drop=True)

    def _finish_csv_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
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
        self.rows_read += len(frame)
        return frame

    def _frame(self, rows: list[list[str | None]], numbers: list[int], width: int) -> pd.DataFrame:
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
        total = [any(c and c.startswith(TOTAL_MARKERS) for c in r[:3]) for r in rows]
        frame[IS_TOTAL_ROW] = pd.Series(total, dtype=bool)
        frame[EXTRA_CELLS] = pd.Series(extra, dtype=object)
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


# --- encodings and records ----------------------------------------------------------------------
def _is_xlsx(path: Path) -> bool:
    with path.open("rb") as fh:
        magic = fh.read(4)
    return magic == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xlsm")


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (UTF-8 with or without BOM), ``gb18030``, or charset-normalizer's guess.

    Tried strictly on the first MiB; raises ``UnreadableFileError`` for binary or undecodable files.
    """
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        at_end = not fh.read(1)
    if not sample:
        raise UnreadableFileError(str(path), "empty file")
    if b"\x00" in sample:
        raise UnreadableFileError(str(path), "binary content (NUL bytes): not a CSV text export")
    for enc in ("utf-8-sig", "gb18030"):
        dec = codecs.getincrementaldecoder(enc)("strict")
        try:
            dec.decode(sample, final=at_end)
            return enc
        except UnicodeDecodeError:
            continue
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


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        head = "".join(fh.readline() for _ in range(HEADER_SCAN_ROWS + 2))
    counts = {d: head.count(d) for d in (",", "\t")}
    return "\t" if counts["\t"] > counts[","] else ","


def _iter_records(path: Path, kind: str, encoding: str, delimiter: str) -> Iterator[Sequence[Any]]:
    if kind == "xlsx":
        yield from _iter_xlsx(path)
        return
    try:
        with path.open("r", encoding=encoding, errors="strict", newline="") as fh:
            yield from csv.reader(fh, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(str(path), f"undecodable bytes as {encoding} at byte {exc.start} of a block: {exc.reason}") from exc
    except csv.Error as exc:
        raise UnreadableFileError(str(path), f"broken CSV structure: {exc}") from exc


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


def _row_matches(cells: Sequence[str | None], known: Mapping[str, str]) -> int:
    return sum(1 for c in cells if c and header_key(c) in known)


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
    if _is_xlsx(path):
        kind, encoding, delimiter = "xlsx", "xlsx", ","
    else:
        kind = "csv"
        encoding = detect_encoding(path)
        delimiter = _sniff_delimiter(path, encoding)
    head: list[list[str | None]] = []
    for rec in _iter_records(path, kind, encoding, delimiter):
        head.append([_cell_text(c) for c in rec])
        if len(head) >= HEADER_SCAN_ROWS:
            break
    if not head:
        raise UnreadableFileError(str(path), "no rows")
    candidates = [mapping] if mapping is not None else list(mappings.values())
    if not candidates:
        raise UnreadableFileError(str(path), "no source mapping configured")
    found = [(m, _find_header(head, m)) for m in candidates]
    usable = [(m, h) for m, h in found if h is not None]
    if not usable:
        names = ", ".join(m.name for m in candidates)
        raise UnreadableFileError(str(path), f"no recognisable header row in the first {HEADER_SCAN_ROWS} rows "
                                             f"(tried mapping(s): {names})")
    chosen, hdr = min(usable, key=lambda mh: (len(mh[1].missing), -mh[1].score, mh[0].name))
    if hdr.missing:
        raise UnreadableFileError(str(path), f"header row {hdr.row + 1} lacks required field(s) "
                                             f"{', '.join(hdr.missing)} for mapping {chosen.name} "
                                             f"(expected one of: " + "; ".join(
                                                 f"{f}: {'/'.join(chosen.fields.get(f, ()))}" for f in hdr.missing) + ")")
    return RawTable(path=path, mapping=chosen, encoding=encoding, header_row=hdr.row, header_rows=hdr.rows,
                    headers=hdr.names, chunk_rows=max(1, int(chunk_rows)), kind=kind, delimiter=delimiter)

