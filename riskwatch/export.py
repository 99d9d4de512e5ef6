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


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path) -> None:
    """Write one sheet per frame (name -> frame, names cut to Excel's 31 characters) with XlsxWriter;
    text cells neutralized and always written as text, never as formulas, numbers or links."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False,
                                         "default_date_format": "yyyy-mm-dd hh:mm:ss", "nan_inf_to_errors": True})
    try:
        for name, frame in sheets.items():
            ws = wb.add_worksheet(str(name)[:31])
            safe = neutralize_frame(frame)
            ws.write_row(0, 0, list(safe.columns))
            for i, row in enumerate(safe.itertuples(index=False), start=1):
                ws.write_row(i, 0, [_cell(v) for v in row])
    finally:
        wb.close()


def _cell(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
