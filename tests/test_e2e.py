"""End to end through the CLI on a temporary database (SQLite and PostgreSQL): a small synthetic city
and hand-made malformed files. Nothing is lost, re-runs change nothing, order does not matter."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from riskwatch.cli import cli
from riskwatch.config import load_settings
from riskwatch.store import dump_database, load_cases, load_quarantine, make_engine, make_session
from riskwatch.synth import generate_city

SOURCES = ("hotline_12345", "hotline_12328", "petition_register", "updates")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(load_settings(), out, years=2, seed=11, end=date(2025, 6, 30), scale=0.04)
    return out


def run(db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)
    return result


def batches(db_url: str) -> pd.DataFrame:
    engine = make_engine(db_url)
    try:
        return pd.read_sql_table("ingest_batches", engine)
    finally:
        engine.dispose()


def dump(db_url: str) -> dict[str, pd.DataFrame]:
    engine = make_engine(db_url)
    try:
        with make_session(engine) as session:
            return dump_database(session)
    finally:
        engine.dispose()


def test_every_row_is_stored_or_quarantined_and_rerun_changes_nothing(db_url: str, city: Path) -> None:
    paths = [str(city / s) for s in SOURCES if (city / s).is_dir()]
    first = run(db_url, "ingest", *paths)
    assert first.exit_code == 0, first.output
    b = batches(db_url)
    assert (b.rows_read == b.rows_new + b.rows_updated + b.rows_unchanged + b.rows_older
            + b.rows_quarantined).all()

    truth = pd.read_csv(city / "truth" / "cases.csv", dtype=str)
    bad = pd.read_csv(city / "truth" / "bad_rows.csv", dtype=str)
    engine = make_engine(db_url)
    with make_session(engine) as session:
        stored = load_cases(session)
        quarantined = load_quarantine(session)
    engine.dispose()
    # every true case is stored once, except the deliberately broken rows, which are quarantined
    stored_keys = set(zip(stored.source, stored.source_id, strict=True))
    truth_keys = set(zip(truth.source, truth.source_id, strict=True))
    assert len(stored) == len(stored_keys)
    missing = {i for _, i in truth_keys - stored_keys}
    assert missing <= set(bad.source_id)
    data_quarantine = quarantined[~quarantined.reason.str.contains("合计")]
    assert len(data_quarantine) == len(bad)
    # each at the row a person opening the file would find it
    expected_rows = set(zip(bad.file.str.split("/").str[-1], bad.row_number.astype(int), strict=True))
    assert set(zip(data_quarantine.file_name, data_quarantine.row_number, strict=True)) == expected_rows
    assert set(data_quarantine.field) <= {"source_id", "received_at"}

    before = dump(db_url)
    second = run(db_url, "ingest", *paths)
    assert second.exit_code == 0
    total = second.output.strip().splitlines()
    assert any("new 0  updated 0" in line for line in total if line.startswith("合计")), second.output
    after = dump(db_url)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], obj=table)


def test_order_of_files_does_not_matter(tmp_path: Path, city: Path) -> None:
    files = sorted(p for s in SOURCES if (city / s).is_dir() for p in (city / s).iterdir())
    a, b = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    assert run(a, "ingest", *map(str, files)).exit_code == 0
    for f in reversed(files):
        assert run(b, "ingest", str(f)).exit_code == 0
    da, db = dump(a), dump(b)
    for table in da:
        pd.testing.assert_frame_equal(da[table], db[table], obj=table)


MESSY = (
    "临海市12345热线工单明细表\n"
    "导出时间：2024-04-01 09:00:00\n"
    "工单编号,来电时间,问题分类,所属区县,所属街道,来电人,证件号码,联系电话,诉求内容,工单状态,退单次数,,\n"
    "A1,2024-03-05 14:30:00,劳动社保-欠薪,东湖区,,张三,339902199001011234,138 0000 0000,工地欠薪,办理中,1,,\n"
    "\n"
    "A2,2024/3/5 14:30,欠薪,东湖区,,李四,３３９９０２１９９００１０１１２３ｘ,+86 138-0000-0001,"
    "=cmd|' /C calc'!A0,已办结, 2 ,,\n"
    "A3,2024年3月5日 14:30,不存在的分类,某某区,,,,,"
    + "很长" * 15000 + ",,,,\n"
    "A4,2024-02-30 10:00,欠薪,东湖区,,,,,坏日期,,,,\n"
    ",2024-03-06 10:00,欠薪,东湖区,,,,,没有编号,,,,\n"
    "A1,2024-03-07 10:00,劳动社保-欠薪,东湖区,,张三,339902199001011234,13800000000,工地欠薪,已办结,1,,\n"
    "A5,45356.6041666667,欠薪,东湖区,,,,,Excel 序列号日期,,,,\n"
    "合计,共7条,,,,,,,,,,,\n"
)


def test_malformed_rows_are_quarantined_with_file_row_field(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text(MESSY, encoding="utf-8-sig")
    result = run(db_url, "ingest", str(path), "--source", "hotline_12345")
    assert result.exit_code == 0, result.output
    b = batches(db_url).iloc[0]
    # 8 data rows (the blank line is not a row): A1 twice, A2, A3, A5 stored; A4, no id, 合计 quarantined
    assert b.rows_read == 8 and b.rows_quarantined == 3
    assert b.rows_new + b.rows_updated + b.rows_unchanged + b.rows_older == 5
    engine = make_engine(db_url)
    with make_session(engine) as session:
        q = load_quarantine(session).sort_values("row_number")
        cases = load_cases(session).set_index("source_id")
    engine.dispose()
    assert set(q.field) == {"received_at", "source_id"}
    assert q[q.field == "received_at"].row_number.tolist() == [8]
    assert "坏日期" in q[q.field == "received_at"].raw.iloc[0]
    assert cases.loc["A1", "status"] == "closed"  # the later version of A1 wins
    assert cases.loc["A2", "returned_count"] == 2
    assert cases.loc["A2", "content"].startswith("=cmd")  # kept verbatim as text
    assert cases.loc["A3", "category_code"] == "99"
    assert cases.loc["A5", "received_at"] == pd.Timestamp("2024-03-05 14:30")
    assert "messy.csv: row 8: received_at: received_at unparseable" in result.output
    assert "messy.csv: row 9: source_id" in result.output


def test_unreadable_file_fails_alone_and_is_named(db_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 40)
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("来电时间,诉求内容\n2024-03-05,x\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("工单编号,来电时间,诉求内容\nG1,2024-03-05,x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", db_url, "ingest", str(junk), str(no_id), str(good)])
    assert result.exit_code == 1
    assert "junk.csv" in result.output and "no_id.csv" in result.output
    assert "source_id" in result.output
    assert batches(db_url).rows_new.sum() == 1


def test_stats_and_quarantine_commands(tmp_path: Path, city: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    assert run(url, "ingest", *[str(city / s) for s in SOURCES if (city / s).is_dir()]).exit_code == 0
    out = run(url, "stats", "--month", "2025-05")
    assert out.exit_code == 0, out.output
    for word in ("受理量", "同比", "环比", "按期办结率", "群体访", "到达层级", "退单", "逾期", "12345热线"):
        assert word in out.output
    q = run(url, "quarantine")
    assert q.exit_code == 0 and "row" in q.output


def test_demo_command_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--years", "1", "--scale", "0.02"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "受理量" in result.output
    assert "未来 4 周受理量预测" in result.output and "forecast run" in result.output
    assert "重复信访人" in result.output and "最大的群体" in result.output   # persons, masked
    assert "6/8 detecting" in result.output and "预警信号（" in result.output   # the latest week's signals
    assert "7/8 the risk ledger" in result.output and "risk items from" in result.output
    assert "8/8 the monthly report" in result.output
    pdfs = sorted((tmp_path / "reports").glob("*.pdf"))
    assert [p.name.split("_")[0] for p in pdfs] == ["周风险研判简报", "月度风险预警报告"]
    assert all(str(p.resolve()) in result.output for p in pdfs)
    lists = list((tmp_path / "reports" / "lists").rglob("*.xlsx"))
    assert f"{len(lists)} case-assignment lists" in result.output
    assert (tmp_path / "var" / "riskwatch.db").exists()
    shutil.rmtree(tmp_path / "var")
