"""The report document: what a report says, independent of how it is printed.

A ``Document`` is a title, a period, an as-of date and ``Section`` s; a section holds blocks
(``Paragraph``, ``Table``, ``Figure``) and sub-sections. Renderers (``report.pdf`` for the printed A4 PDF,
``report.html_page`` for the HTML, ``report.annex`` for the XLSX annex) take a document and write files;
the monthly and weekly reports are built as documents and handed to all three, so the three say the same.

Traceability: a table ``Cell``, a ``Sentence`` and a ``Figure`` can carry a ``trace``, the case keys
``(source, source_id)`` behind what it shows. ``Cell.count(keys)`` makes a cell whose number *is* the
number of its cases. The HTML links each traced number to the list of its cases, the XLSX annex lists the
case ids behind each cell. What a list shows of each case comes from ``Document.cases`` (a
``CaseDetails``, built by ``case_details`` from a case frame: no free text, personal data masked).

Personal data: case ids are not personal data; names, ID numbers, phones and addresses are, and the
document only ever holds them masked (``Cell.person`` and ``case_details`` mask with ``riskwatch.identity``).
Whoever builds a document must not put unmasked names into free text (paragraphs, captions).

Blocks that a sentence refers to (``Sentence.ref``) carry an ``id`` (ASCII letters, digits, ``-``, ``_``);
``Document`` checks that ids are unique and references resolve. Tables and figures are numbered
(表 1, 图 1) in document order by ``block_labels``; section headings get 一、 / （一） / 1. by
``section_numbers``, so that every renderer numbers alike.

Pure: no files, no clock, no matplotlib (a figure is image bytes; ``charts.figure_image`` makes them).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.identity import mask_name, mask_series

EMPTY_DOCUMENT = "本期无数据，未生成报告内容。"
EMPTY_TABLE = "本期无数据。"
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
CHINESE_NUMERALS = "零一二三四五六七八九十"


class CaseKey(NamedTuple):
    """One case: the mapping that read it and that system's id of it."""

    source: str
    source_id: str


Trace = tuple[CaseKey, ...]


def trace_of(keys: Iterable[tuple[str, str]]) -> Trace:
    """A trace: the distinct case keys, sorted (the order they were found in does not matter)."""
    return tuple(sorted({CaseKey(str(s), str(i)) for s, i in keys}))


@dataclass(frozen=True)
class Cell:
    """A table cell: the ``text`` shown, the ``value`` a spreadsheet gets (a number, or None for text) and
    optionally the ``trace`` of the cases behind it."""

    text: str
    value: float | int | None = None
    trace: Trace | None = None

    @classmethod
    def of(cls, value: object, fmt: str = "{:,}") -> Cell:
        """A cell from a plain value: numbers (numpy's too) formatted with ``fmt``, dates as ``YYYY-MM-DD``
        (with ``HH:MM`` when not midnight), booleans as 是 / 否, None / NaN / NaT as an empty cell."""
        if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
            return cls("")
        if isinstance(value, bool | np.bool_):
            return cls("是" if value else "否")
        if isinstance(value, numbers.Integral):
            return cls(fmt.format(int(value)), int(value))
        if isinstance(value, numbers.Real):
            return cls(fmt.format(float(value)), float(value))
        if isinstance(value, datetime | date):
            ts = pd.Timestamp(value)
            return cls(f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}")
        return cls(str(value))

    @classmethod
    def count(cls, keys: Iterable[tuple[str, str]]) -> Cell:
        """A count whose number is the number of its distinct cases, traced to them."""
        trace = trace_of(keys)
        return cls(f"{len(trace):,}", len(trace), trace)

    @classmethod
    def person(cls, name: str | None) -> Cell:
        """A person's name, masked (``张*``)."""
        return cls(mask_name(name) or "（无名）")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a paragraph; ``ref`` names the block (table or figure id) it rests on, printed as
    （见表 3）; ``trace`` the cases behind the number it states."""

    text: str
    ref: str = ""
    trace: Trace | None = None


@dataclass(frozen=True)
class Paragraph:
    sentences: tuple[Sentence, ...]

    @classmethod
    def of(cls, *parts: str | Sentence) -> Paragraph:
        return cls(tuple(p if isinstance(p, Sentence) else Sentence(p) for p in parts))


@dataclass(frozen=True)
class Table:
    """A table: ``columns`` (Chinese headers) and ``rows`` of cells, as wide as the columns.

    ``widths``: relative column widths, 0 for a column as wide as its content (default: equal widths across
    the text width; give widths when one column holds sentences); ``numeric``: right-aligned columns
    (default: those whose cells all hold numbers); ``note``: printed under the table; ``empty``: the
    sentence printed instead of a table without rows; ``label_column``: the column that names a row (a case list
    is titled ``<that cell> · <column>``; give 1 when column 0 is a 序号).
    """

    id: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...] | None = None
    numeric: frozenset[int] | None = None
    note: str = ""
    empty: str = EMPTY_TABLE
    label_column: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.label_column < max(1, len(self.columns)):
            raise ValueError(f"Table {self.id!r}: label_column {self.label_column} outside its {len(self.columns)} columns")
        for n, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"Table {self.id!r}: row {n} has {len(row)} cells for {len(self.columns)} columns")
        if self.widths is not None and (len(self.widths) != len(self.columns) or min(self.widths, default=0) < 0
                                        or not any(self.widths)):
            raise ValueError(f"Table {self.id!r}: widths {self.widths} for {len(self.columns)} columns "
                             "(one per column, none negative, not all 0)")

    @classmethod
    def from_frame(cls, id: str, caption: str, frame: pd.DataFrame, **options: object) -> Table:
        """A table of plain values (no traces) from a frame: its columns are the headers."""
        rows = tuple(tuple(Cell.of(v) for v in row) for row in frame.itertuples(index=False))
        return cls(id, caption, tuple(str(c) for c in frame.columns), rows, **options)  # type: ignore[arg-type]

    def cell_title(self, row: int, col: int) -> str:
        """What a traced cell counts, in words: ``<the row's label> · <the column>``."""
        label = self.rows[row][self.label_column].text
        if col == self.label_column:
            return f"{self.columns[col]} · {label}"
        return f"{label} · {self.columns[col]}"

    @property
    def traced(self) -> bool:
        return any(c.trace is not None for row in self.rows for c in row)

    def right_aligned(self) -> frozenset[int]:
        if self.numeric is not None:
            return self.numeric
        return frozenset(j for j in range(len(self.columns))
                         if self.rows and all(r[j].value is not None or not r[j].text for r in self.rows)
                         and any(r[j].value is not None for r in self.rows))


@dataclass(frozen=True)
class Figure:
    """A chart as image bytes (``svg`` or ``png``), its caption and optionally the cases it shows.
    ``width``: the share of the text width it takes (1.0 = full width)."""

    id: str
    caption: str
    image: bytes
    format: Literal["svg", "png"] = "svg"
    width: float = 1.0
    trace: Trace | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.format not in ("svg", "png"):
            raise ValueError(f"Figure {self.id!r}: format {self.format!r}, expected svg or png")
        if not 0 < self.width <= 1:
            raise ValueError(f"Figure {self.id!r}: width {self.width} outside (0, 1]")


Block = Paragraph | Table | Figure


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class CaseDetails:
    """What a case list shows of each case: Chinese ``columns`` and, per case key, one text per column."""

    columns: tuple[str, ...]
    rows: Mapping[CaseKey, tuple[str, ...]]

    def row(self, key: CaseKey) -> tuple[str, ...]:
        return self.rows.get(key, ("",) * len(self.columns))


PERSONAL_COLUMNS = {S.NAME: "name", S.ID_NUMBER: "id", S.PHONE: "phone", S.ADDRESS: "address"}
FREE_TEXT_COLUMNS = frozenset({S.CONTENT, S.SUMMARY, S.REGION_RAW, S.CATEGORY_RAW})


def case_details(frame: pd.DataFrame, columns: Mapping[str, str]) -> CaseDetails:
    """The case details of a frame with ``source, source_id`` and the columns named in ``columns`` (frame
    column -> Chinese header). Names, ID numbers, phones and addresses are masked; free text (``content``,
    ``summary``, the raw labels) is refused: a citizen's words can hold names no mask finds. Dates print as
    ``YYYY-MM-DD HH:MM``, missing values as empty text."""
    S.require_columns(frame.columns, (S.SOURCE, S.SOURCE_ID, *columns), "case_details")
    refused = sorted(FREE_TEXT_COLUMNS & set(columns))
    if refused:
        raise ValueError(f"case_details: free text columns {', '.join(refused)} cannot be listed")
    shown: list[pd.Series] = []
    for col in columns:
        s = frame[col]
        if col in PERSONAL_COLUMNS:
            s = mask_series(s, PERSONAL_COLUMNS[col])
        elif pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d %H:%M")
        shown.append(s.astype(object).where(s.notna(), "").map(str))
    keys = (CaseKey(str(a), str(b)) for a, b in zip(frame[S.SOURCE], frame[S.SOURCE_ID], strict=True))
    rows = dict(zip(keys, zip(*shown, strict=True), strict=True)) if shown else {
        CaseKey(str(a), str(b)): () for a, b in zip(frame[S.SOURCE], frame[S.SOURCE_ID], strict=True)}
    return CaseDetails(tuple(columns.values()), rows)


@dataclass(frozen=True)
class Document:
    """A whole report. ``period``: what it covers, as printed (``2026年10月``); ``as_of``: the date its
    figures are as of (printed on the cover, and the PDF's creation date, so a re-run gives the same bytes);
    ``issuer``: who issues it; ``cases``: what the case lists show (case ids only when None); ``contents``:
    a table of contents on the first page, the body from the second (a two-page briefing goes without:
    its body follows the title)."""

    title: str
    period: str
    as_of: date
    sections: tuple[Section, ...] = ()
    issuer: str = ""
    cases: CaseDetails | None = None
    empty: str = EMPTY_DOCUMENT
    contents: bool = True

    def __post_init__(self) -> None:
        ids: set[str] = set()
        for block in self.blocks():
            if isinstance(block, Table | Figure):
                if not ID_PATTERN.match(block.id):
                    raise ValueError(f"Document: block id {block.id!r} is not [A-Za-z][A-Za-z0-9_-]*")
                if block.id in ids:
                    raise ValueError(f"Document: block id {block.id!r} used twice")
                ids.add(block.id)
        for block in self.blocks():
            if isinstance(block, Paragraph):
                for s in block.sentences:
                    if s.ref and s.ref not in ids:
                        raise ValueError(f"Document: sentence refers to {s.ref!r}, which no table or figure has")

    def blocks(self) -> Iterator[Block]:
        """Every block in reading order."""
        for _, section in walk(self.sections):
            yield from section.blocks

    @property
    def is_empty(self) -> bool:
        return not self.sections


def walk(sections: Sequence[Section], depth: int = 1) -> Iterator[tuple[int, Section]]:
    """``(depth, section)`` in reading order, depth 1 for the top sections."""
    for section in sections:
        yield depth, section
        yield from walk(section.sections, depth + 1)


def chinese_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, up to 99."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else CHINESE_NUMERALS[tens] + "十")
    return head + (CHINESE_NUMERALS[ones] if ones else "")


def section_numbers(document: Document) -> list[tuple[int, str, Section]]:
    """``(depth, number, section)`` in reading order: 一、 for the top level, （一） below it, then 1. ."""
    out: list[tuple[int, str, Section]] = []

    def visit(sections: Sequence[Section], depth: int) -> None:
        for n, section in enumerate(sections, start=1):
            number = (f"{chinese_number(n)}、" if depth == 1 else f"（{chinese_number(n)}）" if depth == 2
                      else f"{n}.")
            out.append((depth, number, section))
            visit(section.sections, depth + 1)

    visit(document.sections, 1)
    return out


def block_labels(document: Document) -> dict[str, str]:
    """Block id -> its label: 表 1, 表 2, ... and 图 1, ... in reading order."""
    labels: dict[str, str] = {}
    tables = figures = 0
    for block in document.blocks():
        if isinstance(block, Table):
            tables += 1
            labels[block.id] = f"表 {tables}"
        elif isinstance(block, Figure):
            figures += 1
            labels[block.id] = f"图 {figures}"
    return labels


def traces(document: Document) -> Iterator[tuple[str, Trace]]:
    """Every trace of the document with a stable anchor: ``<table id>-r<row>c<col>`` for cells,
    ``<figure id>`` for figures, ``s<n>`` for the n-th traced sentence (from 1)."""
    n = 0
    for block in document.blocks():
        if isinstance(block, Table):
            for i, row in enumerate(block.rows):
                for j, cell in enumerate(row):
                    if cell.trace is not None:
                        yield cell_anchor(block, i, j), cell.trace
        elif isinstance(block, Figure) and block.trace is not None:
            yield block.id, block.trace
        elif isinstance(block, Paragraph):
            for s in block.sentences:
                if s.trace is not None:
                    n += 1
                    yield f"s{n}", s.trace


def cell_anchor(table: Table, row: int, col: int) -> str:
    return f"{table.id}-r{row}c{col}"

