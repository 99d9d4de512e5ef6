"""Read a party file for ``riskwatch persons resolve``: CSV (UTF-8 or GB18030) or XLSX.

Columns ``record_id, name, id_number, phone, address`` (headers case-insensitive; the usual Chinese headers
姓名 / 身份证号 / 联系电话 / 地址 are accepted too); optional ``district`` (or a region code, whose first six
digits are the district), ``received_at``, ``category``; other columns are ignored. Identity fields may be
blank: a caller often gives no ID number. A row without a record id, or a record id used twice, cannot be
answered, so the file is refused with every such row named (file, row, field), as the other standalone
modes do; rows count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskwatch.ingest.count_file import MAX_LISTED
from riskwatch.ingest.readers import detect_encoding, header_key
from riskwatch.schema import PARTY_FILE_COLUMNS, RowProblem, UnreadableFileError

REQUIRED: tuple[str, ...] = PARTY_FILE_COLUMNS
OPTIONAL: tuple[str, ...] = ("district", "received_at", "category")
ALIASES: dict[str, str] = {
    "id": "record_id", "记录编号": "record_id", "编号": "record_id",
    "姓名": "name", "信访人": "name", "诉求人": "name", "来电人": "name",
    "身份证号": "id_number", "身份证号码": "id_number", "证件号码": "id_number",
    "电话": "phone", "联系电话": "phone", "手机": "phone", "手机号": "phone",
    "地址": "address", "住址": "address", "联系地址": "address",
    "区县": "district", "region_code": "district", "区域": "district",
    "受理时间": "received_at", "登记时间": "received_at", "类别": "category", "category_code": "category",
}


def read_party_file(path: Path) -> pd.DataFrame:
    """``REQUIRED`` and the ``OPTIONAL`` columns present, as text (``None`` where blank), in file order;
    ``district`` reduced to its first six characters when it is a longer region code."""
    raw = _read(path)
    raw.columns = [ALIASES.get(header_key(c).lower(), header_key(c).lower()) for c in raw.columns]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise UnreadableFileError(str(path), f"missing column(s) {', '.join(missing)} (found: "
                                             f"{', '.join(map(str, raw.columns))}); expected {','.join(REQUIRED)}")
    keep = [c for c in (*REQUIRED, *OPTIONAL) if c in raw.columns]
    out = raw.loc[:, ~raw.columns.duplicated()][keep].copy()
    for col in keep:
        text = out[col].astype(object).where(out[col].notna(), "").astype(str).str.strip()
        out[col] = pd.Series([v if v else None for v in text], index=out.index, dtype=object)
    problems: list[RowProblem] = []
    ids = out["record_id"]
    for i in ids.index[ids.isna()]:
        problems.append(RowProblem(str(path), int(i) + 2, "record_id", "record id missing"))
    dup = ids.notna() & ids.duplicated(keep="first")
    first_row = {v: int(i) + 2 for i, v in ids[ids.notna() & ~dup].items()}
    for i in ids.index[dup]:
        problems.append(RowProblem(str(path), int(i) + 2, "record_id",
                                   f"record id {ids[i]!r} already used on row {first_row[ids[i]]}"))
    if problems:
        raise UnreadableFileError.for_rows(str(path), problems, MAX_LISTED)
    if "district" in out.columns:
        out["district"] = pd.Series([v[:6] if isinstance(v, str) else None for v in out["district"]], dtype=object)
    return out.reset_index(drop=True)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UnreadableFileError(str(path), "file not found")
    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, dtype=str)
        return pd.read_csv(path, dtype=str, encoding=detect_encoding(path), skip_blank_lines=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFileError(str(path), f"cannot read: {exc}") from exc
