"""Read a ``date,count`` file (the standalone forecast and detect modes): CSV or XLSX, any encoding.

Every bad row is named (file, row, field); a file with bad rows is refused as a whole rather than
forecast from part of its data. Blank counts are kept as missing (NaN), never read as zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskwatch.ingest.dates import parse_datetimes
from riskwatch.schema import COUNT, DATE, RowProblem, UnreadableFileError

MAX_LISTED = 10


def read_count_file(path: Path) -> pd.DataFrame:
    """Columns ``date`` (datetime64, day) and ``count`` (float, NaN where blank), in file order.

    Raises ``UnreadableFileError`` naming the file and the first bad rows (row numbers count the header
    as row 1, as a spreadsheet shows them).
    """
    try:
        if path.suffix.lower() == ".xlsx":
            raw = pd.read_excel(path, dtype=str)
        else:
            raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", skip_blank_lines=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFileError(str(path), f"cannot read: {exc}") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in (DATE, COUNT) if c not in raw.columns]
    if missing:
        raise UnreadableFileError(str(path), f"missing column(s) {', '.join(missing)} "
                                             f"(found: {', '.join(raw.columns)}); expected date,count")
    text_date = raw[DATE].fillna("").str.strip()
    text_count = raw[COUNT].fillna("").str.strip()
    dates, _ = parse_datetimes(text_date.replace("", np.nan))
    counts = pd.to_numeric(text_count.replace("", np.nan), errors="coerce")
    problems: list[RowProblem] = []
    for i in np.flatnonzero(dates.isna().to_numpy()):
        reason = "date missing" if not text_date.iloc[i] else f"unparseable date {text_date.iloc[i]!r}"
        problems.append(RowProblem(str(path), int(i) + 2, DATE, reason))
    bad = (counts.isna() & (text_count != "")) | (counts < 0) | (counts.notna() & ~np.isfinite(counts))
    for i in np.flatnonzero(bad.to_numpy()):
        problems.append(RowProblem(str(path), int(i) + 2, COUNT,
                                   f"{text_count.iloc[i]!r} is not a count (a number >= 0)"))
    if problems:
        raise UnreadableFileError.for_rows(str(path), problems, MAX_LISTED)
    return pd.DataFrame({DATE: pd.DatetimeIndex(dates).normalize(), COUNT: counts.astype(float)})
