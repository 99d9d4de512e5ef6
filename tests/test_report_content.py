"""The monthly report and the weekly briefing (issue 14): a period without data says so; through the CLI on a
small synthetic city the files are written, the structure holds (section titles, table ids), a sample of
figures adds up to the cases listed behind them and agrees with ``riskwatch stats``, and the same command gives
the same bytes. Fonts and glyphs of the PDF are checked once, in test_report_document.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskwatch.config import load_settings
from riskwatch.report.document import Table, section_numbers
from riskwatch.report.inputs import ReportInputs
from riskwatch.report.monthly import build_monthly
from riskwatch.report.output import write_document
from riskwatch.report.weekly import build_weekly
from tests.cli_helpers import ingest, run

MONTHLY_SECTIONS = ["总体情况", "下月受理量预测", "本月预警信号", "重复信访与群体", "风险台账", "下月敏感节点", "工作建议"]
WEEKLY_SECTIONS = ["本周概况", "新增及升级的红黄事项", "本周预警信号", "未来几周预测", "近期敏感节点"]


def _empty_inputs(period: pd.Period) -> ReportInputs:
    settings = load_settings()
    cases = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c.endswith("_at") or c == "due" else object)
                          for c in ("source", "source_id", "received_at", "closed_at", "channel", "category_code",
                                    "region_code", "level", "status", "is_group", "headcount", "resolved",
                                    "satisfaction", "returned_count", "due")})
    return ReportInputs(period, period.end_time.floor("s"), settings.city_name, settings.taxonomy, settings.regions,
                        settings.staff, cases)


def test_a_period_without_data_gives_a_report_that_says_so(tmp_path: Path) -> None:
    for doc in (build_monthly(_empty_inputs(pd.Period("2019-03", "M"))),
                build_weekly(_empty_inputs(pd.Period("2019-03-04", "W-SUN")))):
        assert doc.is_empty and "无受理记录" in doc.empty
        files = write_document(doc, tmp_path, doc.title)
        assert files.pdf.stat().st_size > 0 and "无受理记录" in files.html.read_text(encoding="utf-8")


def _cells(table: Table, column: str) -> list[int]:
    j = table.columns.index(column)
    return [r[j].value for r in table.rows if r[j].trace is not None]  # type: ignore[misc]


@pytest.mark.slow
def test_reports_through_the_cli_structure_traces_and_same_bytes(db_url: str, small_config: Path, small_city: Path,
                                                                 tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the documents; the reads are the stats' and the ledger's")
    assert ingest(small_config, db_url, small_city).exit_code == 0
    assert run(small_config, db_url, "persons").exit_code == 0
    assert run(small_config, db_url, "detect", "--as-of", "2025-06-09").exit_code == 0
    assert run(small_config, db_url, "ledger", "--as-of", "2025-06-09 08:00").exit_code == 0

    out = tmp_path / "reports"
    monthly = run(small_config, db_url, "report", "monthly", "--month", "2025-05", "--out", str(out))
    assert monthly.exit_code == 0, monthly.output
    weekly = run(small_config, db_url, "report", "weekly", "--week", "2025-W23", "--out", str(out))
    assert weekly.exit_code == 0, weekly.output
    for name in ("月度风险预警报告_2025-05", "周风险研判简报_2025-W23"):
        for ext in ("pdf", "html", "xlsx"):
            assert (out / f"{name}.{ext}").stat().st_size > 0
            assert str(out / f"{name}.{ext}") in (monthly.output + weekly.output).replace("\n  ", "\n")
    first = (out / "周风险研判简报_2025-W23.pdf").read_bytes()
    assert run(small_config, db_url, "report", "weekly", "--week", "2025-W23", "--out", str(out)).exit_code == 0
    assert (out / "周风险研判简报_2025-W23.pdf").read_bytes() == first
    assert run(small_config, db_url, "report", "weekly", "--week", "2025-23").exit_code == 2

    from riskwatch.pipeline.report import default_as_of, monthly_inputs, weekly_inputs
    from riskwatch.pipeline.stats import month_stats
    from riskwatch.store import make_engine, make_session

    settings = load_settings(small_config)
    month, week = pd.Period("2025-05", "M"), pd.Period("2025-06-02", "W-SUN")
    engine = make_engine(db_url)
    session = make_session(engine)
    try:
        doc = build_monthly(monthly_inputs(session, settings, month, default_as_of(month)))
        brief = build_weekly(weekly_inputs(session, settings, week, default_as_of(week)))
        stats = month_stats(session, settings, month, default_as_of(month), 1)
    finally:
        session.close()
        engine.dispose()

    assert [s.heading for d, _, s in section_numbers(doc) if d == 1] == MONTHLY_SECTIONS
    assert [s.heading for d, _, s in section_numbers(brief) if d == 1] == WEEKLY_SECTIONS
    assert not brief.contents
    tables = {b.id: b for b in doc.blocks() if isinstance(b, Table)}
    assert {"m-channel", "m-category", "m-indicators", "m-levels", "m-persons", "m-groups"} <= set(tables)
    # the ledger was first run on 06-09: as of May's end it did not exist yet, and the report says so
    ledger = next(s for _, _, s in section_numbers(doc) if s.heading == "风险台账")
    assert "m-ledger" not in tables and "尚未运行" in ledger.blocks[0].sentences[0].text  # type: ignore[union-attr]
    # every traced number is the count of the cases listed behind it
    for block in [*doc.blocks(), *brief.blocks()]:
        if isinstance(block, Table):
            for row in block.rows:
                for cell in row:
                    if cell.trace is not None:
                        assert cell.value == len(cell.trace) == len(set(cell.trace)), (block.id, cell)
    # a sample of figures adds up, and agrees with `riskwatch stats`
    for tid in ("m-channel", "m-category"):
        rows = tables[tid].rows
        assert sum(_cells(tables[tid], "本月")) == rows[-1][1].value == stats.total
        listed = {k for r in rows[:-1] for k in r[1].trace}  # type: ignore[union-attr]
        assert len(listed) == stats.total                     # each case of the month listed once
    ind = {r[0].text: r for r in tables["m-indicators"].rows}
    assert (ind["按期办结率"][1].value, ind["按期办结率"][2].value) == (stats.on_time.numerator, stats.on_time.denominator)
    assert ind["逾期未办结"][1].value == stats.overdue_open and ind["群体访"][1].value == stats.group_cases
    assert sum(_cells(tables["m-levels"], "件数")) == stats.total
    volume = next(b for b in brief.blocks() if isinstance(b, Table) and b.id == "w-volume")
    this_week = _cells(volume, "本周")
    assert sum(this_week[:-1]) == this_week[-1] > 0
