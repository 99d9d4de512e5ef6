"""Damaged exports: every record is stored, quarantined with its reason, or counted blank (issue 12, items
1-3, 5 and 6), through the reader and through ``riskwatch ingest``."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from riskwatch.cli import cli
from riskwatch.config import load_settings
from riskwatch.ingest import readers
from riskwatch.ingest.readers import read_table
from riskwatch.schema import READ_NOTE, READ_PROBLEM, ROW_NUMBER
from tests.cli_helpers import table

MAPPINGS = load_settings().mappings
HEADER = ["工单编号", "来电时间", "问题分类", "来电人", "诉求内容"]


def rows_of(path: Path, chunk_rows: int = 100) -> tuple[pd.DataFrame, readers.RawTable]:
    t = read_table(path, None, MAPPINGS, chunk_rows)
    chunks = list(t.chunks())
    return (pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()), t


def record(i: int, text: str = "拖欠工资") -> list[str]:
    return [f"W{i:06d}", f"2024-03-{1 + i % 28:02d} {8 + i % 10:02d}:{i % 60:02d}", "劳动社保-欠薪", f"张{i % 7}", text]


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def ingest(tmp_path: Path, *files: Path) -> tuple[str, str]:
    db = f"sqlite:///{tmp_path}/rw.db"
    result = CliRunner().invoke(cli, ["--db", db, "ingest", *map(str, files)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.output, db


def counts(out: str, name: str) -> dict[str, int]:
    line = next(line for line in out.splitlines() if line.startswith(name))
    return {k: int(v) for k, v in re.findall(r"(read|new|updated|unchanged|older|quarantined|blank) (\d+)", line)}


# --- item 1: an unclosed quote -----------------------------------------------------------------------
ISSUE_Q_CSV = ('工单编号,来电时间,诉求内容\nA1,2024-03-05 10:00,ok\nA2,2024-03-05 11:00,"unclosed\n'
               'A3,2024-03-05 12:00,lost\nA4,2024-03-05 13:00,lost\n')


def test_the_issue_s_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(ISSUE_Q_CSV, encoding="utf-8")
    df, t = rows_of(path)
    assert df["工单编号"].tolist() == ["A1", "A2", "A3", "A4"]
    assert df[ROW_NUMBER].tolist() == [2, 3, 4, 5]
    assert df[READ_PROBLEM].notna().tolist() == [False, True, False, False]
    assert "unclosed quote" in df[READ_PROBLEM].iloc[1] and "A3" in df[READ_PROBLEM].iloc[1]
    out, db = ingest(tmp_path, path)
    assert counts(out, "q.csv") == {"read": 4, "new": 3, "updated": 0, "unchanged": 0, "older": 0,
                                    "quarantined": 1, "blank": 0}
    q = table(db, "quarantine")
    assert q["row_number"].tolist() == [3] and "unclosed quote" in q["reason"].iloc[0]
    assert sorted(table(db, "cases")["source_id"]) == ["A1", "A3", "A4"]


@pytest.mark.parametrize("where", [5, 1_500, 2_990])
def test_an_unclosed_quote_anywhere_in_a_larger_file(tmp_path: Path, where: int) -> None:
    """Near the start, the careful reader hands back to Arrow after RESUME_AFTER sound records; near the end
    it reads on to the end. Either way each record is there once, in order."""
    n = 3_000
    rows = [HEADER] + [record(i, f"第{i}件 反映拖欠工资, 请求处理") for i in range(n)]
    text = csv_text(rows)
    lines = text.split("\r\n")
    lines[where] = lines[where].replace('"第', '"未闭合的引号 第').replace('处理"', "处理")
    path = tmp_path / "big.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    df, t = rows_of(path, chunk_rows=700)
    assert len(df) == n and t.blank_lines == 0
    assert df[ROW_NUMBER].tolist() == list(range(2, n + 2))
    assert df["工单编号"].tolist() == [f"W{i:06d}" for i in range(n)]
    assert df.loc[df[READ_PROBLEM].notna(), ROW_NUMBER].tolist() == [where + 1]
    assert df.loc[df[READ_PROBLEM].isna(), "诉求内容"].str.startswith("第").all()


def test_a_quote_open_to_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "eof.csv"
    path.write_text(csv_text([HEADER, record(1)]) + 'W9,2024-03-05 10:00,欠薪,张三,"拖欠\n工资\n', encoding="utf-8")
    df, _ = rows_of(path)
    assert df[READ_PROBLEM].notna().tolist() == [False, True]
    assert "end of the file" in df[READ_PROBLEM].iloc[1]
    path.write_text(csv_text([HEADER, record(1)]) + 'W9,2024-03-05 10:00,欠薪,张三,"拖欠', encoding="utf-8")
    df, _ = rows_of(path)
    assert df[READ_PROBLEM].isna().all() and "unclosed quote" in df[READ_NOTE].iloc[1]


# --- item 2: a bare line break -------------------------------------------------------------------
def test_a_record_broken_by_a_bare_line_break_is_joined_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "br.csv"
    path.write_text("工单编号,来电时间,问题分类,来电人,诉求内容\n"
                    "C1,2024-03-05 10:00,欠薪,张\n三,拖欠工资\n"        # broken inside 来电人
                    "C2,2024-03-05 11:00,欠薪,李四,好\n"
                    "C3,2024-03-05 12:00\n,欠薪,王五,好\n"              # broken at a delimiter
                    "C4,2024-03-05 13:00,欠薪\n", encoding="utf-8")     # short, nothing follows: stored, noted
    df, t = rows_of(path)
    assert df["工单编号"].tolist() == ["C1", "C2", "C3", "C4"]
    assert df[ROW_NUMBER].tolist() == [2, 4, 5, 7]
    assert df["来电人"].tolist()[:3] == ["张\n三", "李四", "王五"]
    assert df["诉求内容"].tolist()[:3] == ["拖欠工资", "好", "好"]
    assert "records 2 and 3 joined" in df[READ_NOTE].iloc[0]
    assert "short record: 3 of 5 cells" in df[READ_NOTE].iloc[3]
    out, db = ingest(tmp_path, path)
    assert counts(out, "br.csv")["new"] == 4
    notes = table(db, "ingest_notes")
    assert set(notes.loc[notes["field"] == "row", "row_number"]) == {2, 5, 7}


# --- item 3: line breaks and tabs inside quoted cells ---------------------------------------------
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_multi_paragraph_cells_with_tabs_in_a_gb18030_export(tmp_path: Path, delimiter: str) -> None:
    text = "第一段\t缩进\n\t第二段，含逗号, 和\t制表符\r\n第三段"
    rows = [HEADER] + [record(i, text) for i in range(20)]
    path = tmp_path / "ml.csv"
    path.write_bytes(csv_text(rows, delimiter).encode("gb18030"))
    df, t = rows_of(path)
    assert t.delimiter == delimiter and t.header_row == 0 and t.encoding == "gb18030"
    assert len(df) == 20 and (df["诉求内容"] == text).all() and df[READ_PROBLEM].isna().all()
    assert df[ROW_NUMBER].tolist() == list(range(2, 22))


def test_a_title_record_spanning_lines_above_the_header(tmp_path: Path) -> None:
    rows = [["临海市12345热线\n工单明细"], HEADER, record(1), record(2)]
    path = tmp_path / "t.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    df, t = rows_of(path)
    assert t.header_row == 1 and df["工单编号"].tolist() == ["W000001", "W000002"]
    assert df[ROW_NUMBER].tolist() == [3, 4]


# --- item 5: old Excel and UTF-16 ----------------------------------------------------------------
def test_an_old_excel_workbook_is_read(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("工单")
    dates = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    for c, h in enumerate(["12345热线工单"]):
        sheet.write(0, c, h)
    for c, h in enumerate(HEADER):
        sheet.write(1, c, h)
    sheet.write(2, 0, "X1")
    sheet.write(2, 1, datetime(2024, 3, 5, 14, 30), dates)
    sheet.write(2, 2, "欠薪")
    sheet.write(2, 3, "张三")
    sheet.write(2, 4, "拖欠")
    sheet.write(3, 0, 20240306)      # a number where text was meant
    sheet.write(3, 1, "2024/3/6 9:00")
    path = tmp_path / "旧格式.xls"
    book.save(str(path))
    df, t = rows_of(path)
    assert t.kind == "xls" and t.header_row == 1
    assert df["工单编号"].tolist() == ["X1", "20240306"]
    assert df["来电时间"].tolist() == ["2024-03-05 14:30:00", "2024/3/6 9:00"]
    out, db = ingest(tmp_path, path)
    assert counts(out, "旧格式.xls")["new"] == 2


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_unicode_text_is_read(tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode text" is UTF-16 with a BOM, tab-separated; some systems write it without a BOM."""
    path = tmp_path / "unicode.txt"
    path.write_bytes(csv_text([HEADER, record(1), record(2)], "\t").encode(encoding))
    df, t = rows_of(path)
    assert t.encoding.startswith("utf-16") and t.delimiter == "\t"
    assert df["工单编号"].tolist() == ["W000001", "W000002"] and df["来电人"].tolist() == ["张1", "张2"]


def test_a_folder_reads_xls_and_lists_what_it_cannot_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text(csv_text([HEADER, record(1)]), encoding="utf-8")
    (inbox / "坏的.xls").write_bytes(readers.OLE2_MAGIC + b"\x00" * 600)
    (inbox / "b.xlsb").write_bytes(b"PK\x03\x04")
    out, _ = ingest(tmp_path, inbox)
    assert any("坏的.xls" in line and "not a readable .xls workbook" in line for line in out.splitlines()), out
    assert any("b.xlsb" in line and "cannot read" in line for line in out.splitlines()), out


# --- item 6: NUL bytes ---------------------------------------------------------------------------
@pytest.mark.parametrize("at", [1, 40_000])
def test_nul_bytes_are_removed_and_noted_wherever_they_are(tmp_path: Path, at: int) -> None:
    """Before this, one NUL in the first MiB refused the file and one beyond it was stored as it was."""
    rows = [HEADER] + [record(i, "反映" + "拖欠工资" * 8) for i in range(at + 10)]
    lines = csv_text(rows).split("\r\n")
    lines[at] = lines[at].replace("反映", "反\x00映")
    path = tmp_path / "nul.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    assert (path.stat().st_size > readers.SAMPLE_BYTES) == (at > 1)
    df, t = rows_of(path, chunk_rows=5_000)
    assert len(df) == at + 10
    noted = df.loc[df[READ_NOTE].notna()]
    assert noted[ROW_NUMBER].tolist() == [at + 1] and "NUL" in noted[READ_NOTE].iloc[0]
    assert not df["诉求内容"].str.contains("\x00").any()


def test_a_binary_file_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    out, _ = ingest(tmp_path, path)
    assert "cannot read" in out and "image.csv" in out


def test_undecodable_bytes_in_one_record_cost_a_note_not_the_file(tmp_path: Path) -> None:
    rows = [HEADER] + [record(i) for i in range(5)]
    data = csv_text(rows).encode("gb18030").split(b"\r\n")
    data[3] = data[3].replace("张".encode("gb18030"), b"\x81\x20")  # an invalid GB18030 pair
    path = tmp_path / "gb.csv"
    path.write_bytes(b"\r\n".join(data))
    df, _ = rows_of(path)
    assert len(df) == 5
    assert df.loc[df[READ_NOTE].notna(), ROW_NUMBER].tolist() == [4]
