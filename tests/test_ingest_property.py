"""Property: whatever damage a generated CSV or XLSX export carries (quotes left open, bare line breaks,
NUL bytes, encodings, bad dates, rows too wide or too short, blank lines), ingest raises nothing and
accounts for every record: records written = stored + quarantined, blank lines = blank, and every
record's id is among the stored cases or the quarantined rows (issue 12)."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from riskwatch import pipeline
from riskwatch.config import load_settings
from riskwatch.ingest.refs import build_refs
from riskwatch.store import make_engine, make_session
from riskwatch.store.engine import upgrade_database

SETTINGS = load_settings()
REFS = build_refs(SETTINGS)
NOW = datetime(2026, 12, 1, 9, 0)
HEADER = ["工单编号", "来电时间", "问题分类", "来电人", "诉求内容"]
WIDTH = len(HEADER)
GOOD_DATES = ["2024-03-05 14:30:00", "2024/3/5 9:05", "2024年3月5日 14时30分", "20240305", "2024.03.05"]
BAD_DATES = ["1899-12-31", "2099-01-01", "不详", ""]
TEXT = st.text(alphabet=st.sampled_from(list("反映拖欠工资噪音扰民请求处理，。abc 123") + [",", '"', "\n", "\t", "'"]),
               max_size=40)
COUNTER = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, Path]]:
    folder = tmp_path_factory.mktemp("prop")
    url = f"sqlite:///{folder}/rw.db"
    upgrade_database(url)
    engine = make_engine(url)
    session = make_session(engine)
    pipeline.prepare_store(session, SETTINGS)
    session.commit()
    try:
        yield session, folder
    finally:
        session.close()
        engine.dispose()


@dataclass
class Export:
    records: list[list[str]]  # what was meant, one list of cells per record
    blank_lines: int
    unclosed: set[int]  # indexes of records given a quote that never closes


@st.composite
def exports(draw: st.DrawFn, xlsx: bool) -> Export:
    n = draw(st.integers(1, 12))
    prefix = f"P{next(COUNTER):07d}-"  # unique in the store, of one length (draws must not depend on it)
    records = []
    for i in range(n):
        date = draw(st.sampled_from(GOOD_DATES + BAD_DATES))
        cells = [f"{prefix}{i}", date, draw(st.sampled_from(["欠薪", "噪音", "=1+2", ""])), draw(TEXT), draw(TEXT)]
        width = draw(st.sampled_from([WIDTH] * 6 + [WIDTH + 2, WIDTH - 1, 2]))
        cells = (cells + ["多余", "cells"])[:width] if width > WIDTH else cells[:width]
        records.append(cells)
    unclosed: set[int] = set()
    if not xlsx and n > 1 and draw(st.booleans()):
        # a quote left open in one record's last cell; the next record must look like one (id and date)
        k = draw(st.integers(0, n - 2))
        if len(records[k]) == WIDTH:
            records[k + 1][1] = GOOD_DATES[0]
            unclosed.add(k)
    return Export(records, draw(st.integers(0, 3)), unclosed)


def write_csv(path: Path, export: Export, encoding: str, delimiter: str, damage: st.DataObject) -> None:
    lines = [_line(HEADER, delimiter)]
    for i, cells in enumerate(export.records):
        line = _line(cells, delimiter)
        if i in export.unclosed:
            line = line.rstrip("\r\n") + delimiter + '"未闭合\r\n'
            export.records[i] = cells + ["未闭合"]
        elif damage.draw(st.integers(0, 5)) == 0 and len(cells) == WIDTH:
            # a bare line break inside the unquoted name cell (quoted cells would carry it as text)
            name = re.sub(r'[,"\n\t\r\'\s]', "", cells[3])
            cells[3] = name if len(name) >= 2 else "张三"  # broken after its first character
            line = _line(cells, delimiter).replace(delimiter + cells[3], delimiter + cells[3][:1] + "\r\n" + cells[3][1:], 1)
        if damage.draw(st.integers(0, 5)) == 0:
            at = damage.draw(st.integers(0, len(line) - 2))
            line = line[:at] + "\x00" + line[at:]
        lines.append(line)
    for _ in range(export.blank_lines):
        lines.insert(damage.draw(st.integers(1, len(lines))), damage.draw(st.sampled_from(["\r\n", "   \r\n"])))
    path.write_bytes("".join(lines).encode(encoding))


def _line(cells: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
    return buf.getvalue()


def write_xlsx(path: Path, export: Export, damage: st.DataObject) -> None:
    rows: list[list[str]] = [["12345热线工单明细"], HEADER] + [list(r) for r in export.records]
    for _ in range(export.blank_lines):  # between records: a sheet has no empty rows after its last
        rows.insert(damage.draw(st.integers(2, len(rows) - 1)), [])
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()


def _compact(value: object) -> str:
    return re.sub(r"\s", "", str(value))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(["utf-8-sig", "gb18030", "utf-16", "xlsx"]))
def test_every_record_is_stored_quarantined_or_blank(store: tuple[Session, Path], data: st.DataObject,
                                                      kind: str) -> None:
    session, folder = store
    export = data.draw(exports(kind == "xlsx"))
    n = next(COUNTER)
    if kind == "xlsx":
        path = folder / f"e{n}.xlsx"
        write_xlsx(path, export, data)
    else:
        path = folder / f"e{n}.csv"
        write_csv(path, export, kind, "\t" if kind == "utf-16" else data.draw(st.sampled_from([",", "\t"])), data)
    summary = pipeline.ingest_file(session, SETTINGS, path, NOW, "hotline_12345", REFS)
    session.commit()

    assert summary.read == len(export.records), ("records", summary)
    assert summary.blank == export.blank_lines, ("blank", summary)
    assert summary.read == (summary.new + summary.updated + summary.unchanged + summary.older
                            + summary.quarantined), summary
    ids = [r[0] for r in export.records]
    stored = pd.read_sql(text("SELECT source_id FROM cases WHERE source = 'hotline_12345'"), session.connection())
    quarantined = pd.read_sql(text("SELECT raw FROM quarantine WHERE file_name = :f"), session.connection(),
                              params={"f": path.name})
    found = set(stored["source_id"].map(_compact)) | {
        _compact(m) for raw in quarantined["raw"] for m in re.findall(r'"工单编号": "([^"]*)"', raw)}
    assert {_compact(i) for i in ids} <= found, ("ids", ids, found)
    unclosed_ids = {ids[k] for k in export.unclosed}
    assert unclosed_ids <= {_compact(m) for raw in quarantined["raw"]
                            for m in re.findall(r'"工单编号": "([^"]*)"', raw)}
