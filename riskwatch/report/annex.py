"""The report's XLSX annex: every table of a ``Document`` as a sheet, and the case ids behind its numbers.

Sheets, in order: ``目录`` (each table's label, caption and the sheets that hold it); per table
``表 N <caption>`` (the table as printed: numbers as numbers, the rest as text); per traced table
``表 N 案件``: one row per case behind each traced number, columns ``数字`` (``<row> · <column>（n 件）``:
filter on it and n rows remain), ``来源``, ``案件编号``; ``正文案件`` the same for traced sentences and
figures; ``案件明细``, each case of any list once with what ``Document.cases`` shows of it (a case counted in
a row, its column's total and the grand total is described once, not three times). A month of about 4,000
cases traced through three tables with their previous periods is some 75,000 listed cases.

Written through ``riskwatch.export.write_xlsx`` (formula-like text neutralized, header frozen and repeated
when printed, A4; the long lists without cell borders, which costs half the writing time). A document
without tables gets one sheet saying so.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from riskwatch.export import SheetLayout, write_xlsx
from riskwatch.report.document import (
    CaseDetails,
    Document,
    Figure,
    Paragraph,
    Table,
    Trace,
    block_labels,
    traces,
)

INDEX_SHEET = "目录"
TEXT_SHEET = "正文案件"
CASES_SHEET = "案件明细"
TRACE_COLUMNS = ("数字", "来源", "案件编号")
NO_TABLES = "本期报告无数据表。"
MAX_WIDTH = 48
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def write_annex(document: Document, path: Path) -> Path:
    """Write the annex of ``document`` to ``path`` (the folder is created); returns ``path``."""
    labels = block_labels(document)
    tables = [b for b in document.blocks() if isinstance(b, Table)]
    sheets: dict[str, pd.DataFrame] = {}
    layouts: dict[str, SheetLayout] = {}
    index = []
    for table in tables:
        label = labels[table.id]
        name = _sheet_name(f"{label} {table.caption}", sheets)
        frame = _table_frame(table)
        sheets[name] = frame
        layouts[name] = _layout(f"{label}　{table.caption}", frame)
        traced_name = ""
        if table.traced:
            traced_name = _sheet_name(f"{label} 案件", sheets)
            cases = _trace_frame(_cell_traces(table))
            sheets[traced_name] = cases
            layouts[traced_name] = _layout(f"{label}　{table.caption}：各数字对应的案件", cases, grid=False)
        index.append({"编号": label, "标题": table.caption, "工作表": name, "案件清单": traced_name})
    text_traces = _text_traces(document, labels)
    if text_traces:
        cases = _trace_frame(text_traces)
        sheets[TEXT_SHEET] = cases
        layouts[TEXT_SHEET] = _layout("正文与图中数字对应的案件", cases, grid=False)
        index.append({"编号": "", "标题": "正文与图中数字对应的案件", "工作表": TEXT_SHEET, "案件清单": TEXT_SHEET})
    if document.cases is not None and any(traces(document)):
        details = _details_frame(document)
        sheets[CASES_SHEET] = details
        layouts[CASES_SHEET] = _layout("案件明细（各清单所列案件）", details, grid=False)
        index.append({"编号": "", "标题": "案件明细", "工作表": CASES_SHEET, "案件清单": ""})
    title = f"{document.title}（{document.period}）附表"
    if index:
        head = pd.DataFrame(index, columns=["编号", "标题", "工作表", "案件清单"])
    else:
        head = pd.DataFrame({"说明": [document.empty if document.is_empty else NO_TABLES]})
    ordered = {INDEX_SHEET: head, **sheets}
    layouts[INDEX_SHEET] = _layout(title, head)
    as_of = document.as_of
    created = as_of if isinstance(as_of, datetime) else datetime.combine(as_of, datetime.min.time())
    write_xlsx(ordered, Path(path), layouts, created=created)
    return Path(path)


def _table_frame(table: Table) -> pd.DataFrame:
    columns = _unique(table.columns)
    if not table.rows:
        return pd.DataFrame({"说明": [table.empty]})
    rows = [[c.value if c.value is not None else c.text for c in row] for row in table.rows]
    return pd.DataFrame(rows, columns=columns)


def _cell_traces(table: Table) -> list[tuple[str, Trace]]:
    out = []
    for i, row in enumerate(table.rows):
        for j, cell in enumerate(row):
            if cell.trace is not None:
                out.append((table.cell_title(i, j), cell.trace))
    return out


def _text_traces(document: Document, labels: dict[str, str]) -> list[tuple[str, Trace]]:
    out = []
    for block in document.blocks():
        if isinstance(block, Figure) and block.trace is not None:
            out.append((f"{labels[block.id]} {block.caption}", block.trace))
        elif isinstance(block, Paragraph):
            out.extend((s.text, s.trace) for s in block.sentences if s.trace is not None)
    return out


def _trace_frame(entries: list[tuple[str, Trace]]) -> pd.DataFrame:
    numbers, sources, ids = [], [], []
    for what, trace in entries:
        numbers += [f"{what}（{len(trace):,} 件）"] * len(trace)
        sources += [k.source for k in trace]
        ids += [k.source_id for k in trace]
    return pd.DataFrame({TRACE_COLUMNS[0]: numbers, TRACE_COLUMNS[1]: sources, TRACE_COLUMNS[2]: ids}, dtype=object)


def _details_frame(document: Document) -> pd.DataFrame:
    details: CaseDetails = document.cases  # type: ignore[assignment]
    keys = sorted({key for _, trace in traces(document) for key in trace})
    rows = [[key.source, key.source_id, *details.row(key)] for key in keys]
    return pd.DataFrame(rows, columns=_unique(["来源", "案件编号", *details.columns]), dtype=object)


def _layout(title: str, frame: pd.DataFrame, grid: bool = True) -> SheetLayout:
    widths, wrap = {}, set()
    for col in frame.columns:
        texts = [str(col)] + [str(v) for v in frame[col].head(200) if v is not None and v == v]
        longest = max(_width(t) for t in texts) + 2
        widths[str(col)] = float(min(max(longest, 6), MAX_WIDTH))
        if longest > MAX_WIDTH:
            wrap.add(str(col))
    return SheetLayout(title=title, widths=widths, wrap=frozenset(wrap) if grid else frozenset(),
                       landscape=len(frame.columns) > 6, grid=grid)


def _width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a CJK character counts two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet_name(wanted: str, taken: dict[str, pd.DataFrame]) -> str:
    """A valid, unused sheet name: no ``[]:*?/\\``, at most 31 characters, not 目录 / 正文案件."""
    base = _BAD_SHEET_CHARS.sub("_", wanted).strip("' ")[:31] or "表"
    name, n = base, 2
    while name in taken or name in (INDEX_SHEET, TEXT_SHEET):
        suffix = f"_{n}"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    return name


def _unique(columns: tuple[str, ...] | list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c}（{seen[c]}）")
    return out
