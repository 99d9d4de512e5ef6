"""Reproducible as of any date (issue 14): a past month's figures, and the series a forecast reads, are the
same before and after later exports change its cases — end to end through the CLI on a temporary database.

What a later export may still change, by design (``store.history``): a case received and entered before the
as-of that no earlier export showed enters its month's figures when it arrives (a late record of the past,
not a later change; one entered after the as-of stays out); the same command with the same as-of on the
same store gives the same result again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from cli_helpers import ingest, run

from riskwatch import pipeline
from riskwatch.config import load_settings
from riskwatch.pipeline.ledger import LEDGER_CASE_COLUMNS
from riskwatch.store import load_cases, make_engine, make_session

FIRST_YEAR = ("hotline_12345/12345工单_2023.csv", "hotline_12328/12328工单_2023.csv",
              "petition_register/信访登记_2023.xlsx")
MONTHS = ("2023-08", "2023-10", "2023-12")
AS_OF = pd.Timestamp("2024-01-01")


def stats_outputs(config: Path, url: str) -> dict[tuple[str, ...], str]:
    out = {}
    for month in MONTHS:
        for args in (("--month", month, "--level", "2"), ("--month", month, "--as-of", "2023-12-20")):
            result = run(config, url, "stats", *args)
            assert result.exit_code == 0, result.output
            out[args] = result.output
    return out


def readings(config: Path, url: str) -> dict[str, pd.DataFrame]:
    """What the forecast, detect and the ledger read as of AS_OF."""
    settings = load_settings(config)
    engine = make_engine(url)
    with make_session(engine) as session:
        series, catalog, _, _ = pipeline.build_store_series(session, settings, AS_OF, "W")
        monthly, _, _, _ = pipeline.build_store_series(session, settings, AS_OF, "M")
        detect = pipeline.detect_cases(session, settings, AS_OF)
        ledger = pipeline.cases_with_due(session, settings, start=AS_OF - pd.Timedelta(days=100),
                                         end=AS_OF + pd.Timedelta(days=1), columns=LEDGER_CASE_COLUMNS, as_of=AS_OF)
        latest = load_cases(session, end=AS_OF)
    engine.dispose()
    return {"series": series, "catalog": catalog, "monthly": monthly, "detect": detect, "ledger": ledger,
            "latest": latest}


def test_a_past_month_is_reproduced_after_later_exports_change_its_cases(
        tmp_path: Path, small_config: Path, small_city: Path) -> None:
    """The first year's exports, then everything after (later years and the updates that close, return
    and escalate its open cases): the year's figures and series as of its end do not move."""
    url = f"sqlite:///{tmp_path}/r.db"
    result = run(small_config, url, "ingest", *[str(small_city / f) for f in FIRST_YEAR])
    assert result.exit_code == 0, result.output
    before, read_before = stats_outputs(small_config, url), readings(small_config, url)
    assert "受理量 0 件" not in before[("--month", "2023-10", "--level", "2")]
    report = ("report", "monthly", "--month", "2023-10", "--out")
    assert run(small_config, url, *report, str(tmp_path / "before")).exit_code == 0

    assert ingest(small_config, url, small_city).exit_code == 0   # later years and updates/
    after, read_after = stats_outputs(small_config, url), readings(small_config, url)
    assert after == before
    # the month's report itself, run again later on the same store: the same pages, the same case lists
    assert run(small_config, url, *report, str(tmp_path / "after")).exit_code == 0
    for ext in ("pdf", "html", "xlsx"):
        name = f"月度风险预警报告_2023-10.{ext}"
        assert (tmp_path / "after" / name).read_bytes() == (tmp_path / "before" / name).read_bytes(), name
    lists = sorted(p.relative_to(tmp_path / "before") for p in (tmp_path / "before").rglob("*.html"))
    assert len(lists) > 5 and all((tmp_path / "before" / p).read_bytes() == (tmp_path / "after" / p).read_bytes()
                                  for p in lists)
    for name in ("series", "catalog", "monthly", "detect", "ledger"):
        pd.testing.assert_frame_equal(read_after[name], read_before[name], obj=name)
    # not vacuous: the later exports did change these cases' latest state
    old, new = read_before["latest"].set_index("source_id"), read_after["latest"].set_index("source_id")
    changed = (old["closed_at"] != new.loc[old.index, "closed_at"]) | (old["level"] != new.loc[old.index, "level"])
    assert changed.sum() > 10


HEADER = "工单编号,来电时间,派单时间,办结时间,最后更新时间,二级分类,区划代码,诉求层级,工单状态,是否解决,满意度,退单次数,诉求内容"


def export(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_hand_made_exports_close_escalate_return_reclassify(tmp_path: Path, small_config: Path) -> None:
    """A March export, then a May export that closes, escalates, returns, reclassifies and re-rates March's
    cases in April: March's figures are unchanged; a case of March first exported in May joins them."""
    url = f"sqlite:///{tmp_path}/h.db"
    march = export(
        tmp_path / "12345工单_0401.csv",
        "A1,2024-03-04 09:00,2024-03-04 10:00,,2024-03-04 10:00,欠薪,339902001,区级,办理中,,,0,工资",
        "A2,2024-03-05 09:00,2024-03-05 10:00,,2024-03-05 10:00,物业管理,339902001,区级,办理中,,,0,物业",
        "A3,2024-03-06 09:00,2024-03-06 10:00,,2024-03-06 10:00,欠薪,339902001,区级,办理中,,,0,工资",
        "A4,2024-03-07 09:00,2024-03-07 10:00,2024-03-20 09:00,2024-03-20 09:00,公交服务,339902001,区级,已办结,是,满意,0,公交",
    )
    may = export(
        tmp_path / "12345工单_0510.csv",
        "A1,2024-03-04 09:00,2024-03-04 10:00,2024-04-10 09:00,2024-04-10 09:00,欠薪,339902001,区级,已办结,否,不满意,0,工资",
        "A2,2024-03-05 09:00,2024-03-05 10:00,,2024-04-20 09:00,物业管理,339902001,市级,已退单,,,2,物业",
        "A3,2024-03-06 09:00,2024-03-06 10:00,,2024-04-05 09:00,问题楼盘,339901001,区级,办理中,,,0,工资",
        "A4,2024-03-07 09:00,2024-03-07 10:00,2024-03-20 09:00,2024-04-02 09:00,公交服务,339902001,区级,已办结,否,不满意,0,公交",
    )
    late = export(
        tmp_path / "12345工单_0520.csv",
        "A5,2024-03-08 09:00,2024-03-08 10:00,2024-04-01 09:00,2024-04-01 09:00,欠薪,339902001,省级,已办结,是,满意,1,迟到",
        "A6,2024-03-09 09:00,2024-04-02 10:00,,2024-04-02 10:00,欠薪,339902001,区级,办理中,,,0,补录",
    )
    args = ("stats", "--month", "2024-03", "--level", "2")
    assert run(small_config, url, "ingest", str(march), "--source", "hotline_12345").exit_code == 0
    first = run(small_config, url, *args).output
    assert "受理量 4 件" in first and "到达层级：区 4，市 0" in first and "群众满意率 100.0%（1/1）" in first

    assert run(small_config, url, "ingest", str(may), "--source", "hotline_12345").exit_code == 0
    assert run(small_config, url, *args).output == first
    as_of_april = run(small_config, url, "stats", "--month", "2024-03", "--as-of", "2024-04-30").output
    assert "到达层级：区 3，市 1" in as_of_april and "退单工单 1 件（退单 2 次）" in as_of_april

    assert run(small_config, url, "ingest", str(late), "--source", "hotline_12345").exit_code == 0
    with_late = run(small_config, url, *args).output
    assert "受理量 5 件" in with_late and "省 1" in with_late  # the late record, as it was first exported
    assert "群众满意率 100.0%（1/1）" in with_late           # closed in April: open at March's end
    # A6, received in March but entered in April, was in no export of March: not known at its end
    assert "受理量 6 件" in run(small_config, url, "stats", "--month", "2024-03", "--as-of", "2024-04-30").output
    assert run(small_config, url, *args).output == with_late   # the same store: the same figures
