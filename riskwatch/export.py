"""Files riskwatch writes for people to open in a spreadsheet: CSV and XLSX, with formula injection
neutralized in one place.

Complaint texts, names and record ids come from outside (a citizen's message, a clerk's typing, another
system's export). A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run
as a formula by Excel, WPS and LibreOffice when the file is opened (``=HYPERLINK(...)``, ``+cmd|' /C
calc'!A0``, ``@SUM(...)``). Following OWASP's CSV-injection rule, such text is written with a leading
apostrophe, which spreadsheets show as text. Numbers stay numbers: only text cells are touched. Every CSV
and XLSX writer of the project goes through ``write_csv`` or ``write_xlsx``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are neutralized."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(neutralize, na_action="ignore")
    out.columns = [neutralize(str(c)) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    """Write ``frame`` (no index) to ``path`` with text cells neutralized; creates the folder. Lines end
    in CRLF (RFC 4180), so that a cell holding a bare carriage return is quoted, not split."""
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralize_frame(frame).to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")


@dataclass(frozen=True)
class SheetLayout:
    """How a sheet prints: a title above the header, column widths (characters), wrapped columns, A4
    landscape fitted to the page width, the header row frozen and repeated on every printed page."""

    title: str = ""
    widths: Mapping[str, float] = field(default_factory=dict)
    wrap: frozenset[str] = frozenset()
    landscape: bool = True
    footer: str = "第 &P 页，共 &N 页"
    grid: bool = True  # data cells boxed (and wrapped); False: plain cells, empty ones not written at all


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path,
               layouts: Mapping[str, SheetLayout] | None = None, created: datetime | None = None) -> None:
    """Write one sheet per frame (name -> frame, names cut to Excel's 31 characters) with XlsxWriter;
    text cells neutralized and always written as text, never as formulas, numbers or links. A sheet with a
    ``SheetLayout`` (by the same name) is laid out to be printed. ``created``: the workbook's creation date
    (default now); a report gives its as-of, so that a re-run writes the same bytes."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False,
                                         "default_date_format": "yyyy-mm-dd hh:mm:ss", "nan_inf_to_errors": True})
    if created is not None:
        wb.set_properties({"created": created})
    try:
        for name, frame in sheets.items():
            ws = wb.add_worksheet(str(name)[:31])
            safe = neutralize_frame(frame)
            layout = (layouts or {}).get(name)
            top = 0
            if layout is not None:
                top = _lay_out(wb, ws, safe, layout)
            head = wb.add_format({"bold": True, "border": 1, "bg_color": "#D9D9D9", "text_wrap": True,
                                  "valign": "vcenter", "align": "center"}) if layout is not None else None
            ws.write_row(top, 0, list(safe.columns), head)
            wrap = (wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
                    if layout is not None and layout.grid else None)
            # Columns as Python lists first: iterating Arrow-backed string columns cell by cell is slow.
            columns = [safe[c].tolist() for c in safe.columns]
            if layout is not None and not layout.grid:  # column by column, trailing blanks never visited
                for j, values in enumerate(columns):
                    while values and _cell(values[-1]) is None:
                        values.pop()
                    ws.write_column(top + 1, j, [_cell(v) for v in values])
                continue
            for i, row in enumerate(zip(*columns, strict=True), start=top + 1):
                ws.write_row(i, 0, [_cell(v) for v in row], wrap)
                if layout is not None and layout.wrap:  # spreadsheets do not grow a row for wrapped text
                    lines = _lines(row, list(safe.columns), layout)
                    if lines > 1:
                        ws.set_row(i, 15 * (lines + 1))
    finally:
        wb.close()


def _lines(row: tuple[Any, ...], columns: list[str], layout: SheetLayout) -> int:
    """Printed lines of a row: its wrapped cells' text over their widths (a CJK character counts two)."""
    most = 1
    for col, value in zip(columns, row, strict=True):
        name = str(col).lstrip("'")
        if name not in layout.wrap or not isinstance(value, str):
            continue
        width = max(1.0, float(layout.widths.get(name, 12)) - 1)
        for part in value.split("\n"):
            size = sum(2 if ord(ch) > 0x2E80 else 1 for ch in part)
            most_here = int(-(-size // width)) or 1
            most = max(most, most_here + value.count("\n"))
    return most


def _lay_out(wb: Any, ws: Any, frame: pd.DataFrame, layout: SheetLayout) -> int:
    """Title, widths, paper and frozen header of a printed sheet; returns the header's row."""
    top = 0
    if layout.title:
        title = wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
        if len(frame.columns) > 1:
            ws.merge_range(0, 0, 0, len(frame.columns) - 1, neutralize(layout.title), title)
        else:
            ws.write(0, 0, neutralize(layout.title), title)
        ws.set_row(0, 28)
        top = 1
    for j, col in enumerate(frame.columns):
        ws.set_column(j, j, layout.widths.get(str(col).lstrip("'"), 12))
    ws.freeze_panes(top + 1, 0)
    ws.repeat_rows(0, top)
    ws.set_paper(9)  # A4
    if layout.landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    if layout.footer:
        ws.set_footer(f"&C{layout.footer}")
    return top


def _cell(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
