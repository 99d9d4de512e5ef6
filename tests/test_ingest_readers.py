"""Reading exports: encodings, header detection, merged headers, totals, blank lines, XLSX cells."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from riskwatch.config import load_settings
from riskwatch.ingest.readers import read_table
from riskwatch.schema import EXTRA_CELLS, IS_TOTAL_ROW, UnreadableFileError

SETTINGS = load_settings()
MAPPINGS = SETTINGS.mappings
HOTLINE = MAPPINGS["hotline_12345"]
PETITION = MAPPINGS["petition_register"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def all_rows(table) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    chunks = list(table.chunks())
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


HEADER = ["工单编号", "来电时间", "问题分类", "来电人", "联系电话", "诉求内容"]
ROW1 = ["A001", "2024-03-05 14:30:00", "劳动社保-欠薪", "张三", "13812345678", "拖欠工资三个月"]
ROW2 = ["A002", "2024/3/6 9:00", "欠薪", "李四", "", "同上"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "a.csv", [HEADER, ROW1, ROW2], encoding)
    t = read_table(path, None, MAPPINGS, 100)
    assert t.mapping.name == "hotline_12345"
    assert t.encoding in ("utf-8-sig", "gb18030")
    df = all_rows(t)
    assert list(df["工单编号"]) == ["A001", "A002"]
    assert df["来电人"].tolist() == ["张三", "李四"]
    assert pd.isna(df["联系电话"].iloc[1])  # empty -> missing
    assert df["row_number"].tolist() == [2, 3]
    assert "\ufeff" not in "".join(t.headers)


def test_undecodable_and_binary_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\xfa\xfb" * 100 + b"\x81\x20" * 50)
    with pytest.raises(UnreadableFileError) as exc:
        read_table(bad, None, MAPPINGS, 100)
    assert "bad.csv" in str(exc.value)
    binary = tmp_path / "img.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(UnreadableFileError):
        read_table(binary, None, MAPPINGS, 100)


def test_title_rows_total_row_blank_lines_trailing_columns(tmp_path: Path) -> None:
    rows = [["临海市12345热线工单明细表"], ["导出时间：2024-04-01 08:00:00"], HEADER + ["", ""],
            ROW1 + ["", ""], ["", "", "", "", "", "", "", ""], [], ROW2 + ["", ""],
            ["合计", "共2条", "", "", "", "", "", ""]]
    path = write_csv(tmp_path / "t.csv", rows)
    t = read_table(path, None, MAPPINGS, 100)
    assert t.header_row == 2 and t.header_rows == 1
    df = all_rows(t)
    assert t.blank_lines == 2
    assert df["row_number"].tolist() == [4, 7, 8]
    assert df[IS_TOTAL_ROW].tolist() == [False, False, True]
    assert df[EXTRA_CELLS].isna().all()
    assert t.fields["source_id"] == "工单编号" and t.fields["received_at"] == "来电时间"


def test_row_with_more_cells_than_headers_is_flagged(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [HEADER, ROW1, ROW2[:3] + ["a", "b", "c", "garbage", "more"]])
    df = all_rows(read_table(path, None, MAPPINGS, 100))
    assert df[EXTRA_CELLS].tolist() == [None, "garbage|more"]


def test_merged_two_row_header_csv(tmp_path: Path) -> None:
    top = ["工单号", "受理时间", "问题分类", "", "所属区域", "", "来电人信息", "", ""]
    low = ["", "", "一级分类", "二级分类", "区县", "街镇", "姓名", "证件号码", "联系电话"]
    data = ["B1", "2024-01-02 10:00:00", "劳动社保", "欠薪", "东湖区", "康明街道", "王五", "11010519491231002X", "13812345678"]
    path = write_csv(tmp_path / "m.csv", [["标题"], top, low, data], "gb18030")
    t = read_table(path, None, MAPPINGS, 100)
    assert t.mapping.name == "hotline_12345" and t.header_row == 1 and t.header_rows == 2
    assert t.headers == ["工单号", "受理时间", "问题分类-一级分类", "问题分类-二级分类", "所属区域-区县",
                         "所属区域-街镇", "来电人信息-姓名", "来电人信息-证件号码", "来电人信息-联系电话"]
    df = all_rows(t)
    assert df["row_number"].tolist() == [4]
    assert df["问题分类-二级分类"].iloc[0] == "欠薪"


def test_petition_mapping_autodetected(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [["信访件编号", "信访日期", "信访形式", "信访人姓名", "联名人"],
                                          ["X1", "2024年3月5日", "来访", "赵六", "钱七|||"]])
    t = read_table(path, None, MAPPINGS, 100)
    assert t.mapping.name == "petition_register"


def test_missing_required_column_names_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "n.csv", [["工单编号", "问题分类", "来电人"], ["A1", "欠薪", "张三"]])
    with pytest.raises(UnreadableFileError) as exc:
        read_table(path, None, MAPPINGS, 100)
    assert "received_at" in str(exc.value) and "n.csv" in str(exc.value)
    path = write_csv(tmp_path / "none.csv", [["a", "b"], ["1", "2"]])
    with pytest.raises(UnreadableFileError, match="no recognisable header"):
        read_table(path, None, MAPPINGS, 100)


def test_explicit_mapping_is_used(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [HEADER, ROW1])
    with pytest.raises(UnreadableFileError):
        read_table(path, PETITION, MAPPINGS, 100)  # petition headers do not fit
    assert read_table(path, HOTLINE, MAPPINGS, 100).mapping is HOTLINE


def test_chunks_are_bounded(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [HEADER] + [[f"A{i}", "2024-03-05", "", "", "", ""] for i in range(25)])
    sizes = [len(c) for c in read_table(path, None, MAPPINGS, 10).chunks()]
    assert sizes == [10, 10, 5]


def test_xlsx_merged_header_and_cell_types(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["临海市12345热线工单明细表"])
    ws.append(["工单号", "受理时间", "诉求人数", "来电人信息", None, "诉求内容", None])
    ws.append([None, None, None, "姓名", "联系电话", None, None])
    ws.merge_cells("D2:E2")
    ws.merge_cells("A2:A3")
    ws.append([20240305001, datetime(2024, 3, 5, 14, 30), 3.0, "张三", 13812345678, "=cmd|' /C calc'!A0", None])
    ws.append([None, None, None, None, None, None, None])
    ws.append([20240305002, datetime(2024, 3, 6), 2.5, "李四", None, "正常", None])
    ws.append(["合计", None, 5, None, None, None, None])
    ws["F4"].data_type = "s"  # a text cell holding formula-like text, as an export writes it
    path = tmp_path / "w.xlsx"
    wb.save(path)
    t = read_table(path, None, MAPPINGS, 100)
    assert t.encoding == "xlsx" and t.header_row == 1 and t.header_rows == 2
    assert t.headers[:6] == ["工单号", "受理时间", "诉求人数", "来电人信息-姓名", "来电人信息-联系电话", "诉求内容"]
    df = all_rows(t)
    assert t.blank_lines == 1
    assert df["工单号"].tolist() == ["20240305001", "20240305002", "合计"]
    assert df["受理时间"].tolist()[:2] == ["2024-03-05 14:30:00", "2024-03-06"]
    assert df["诉求人数"].tolist() == ["3", "2.5", "5"]
    assert df["来电人信息-联系电话"].iloc[0] == "13812345678"
    assert df["诉求内容"].iloc[0] == "=cmd|' /C calc'!A0"
    assert df["row_number"].tolist() == [4, 6, 7]
    assert df[IS_TOTAL_ROW].tolist() == [False, False, True]
