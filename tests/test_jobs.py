"""The schedule holds the daily ingest, the Monday / 1st-of-month forecasts, the Monday detect run and the daily
ledger, in the city's time zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from jobs.schedule import build_scheduler
from riskwatch.config import load_settings


def test_schedule_has_ingest_and_forecast_jobs(tmp_path: Path) -> None:
    settings = load_settings()
    scheduler = build_scheduler(settings, f"sqlite:///{tmp_path}/j.db", tmp_path)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"ingest_inbox", "persons_daily", "persons_monthly_full", "forecast_weekly",
                         "forecast_monthly", "detect_weekly", "detect_monthly", "ledger_daily"}
    tz = ZoneInfo(settings.timezone)
    after = datetime(2026, 11, 24, 12, 0, tzinfo=tz)   # a Tuesday
    weekly = jobs["forecast_weekly"].trigger.get_next_fire_time(None, after)
    monthly = jobs["forecast_monthly"].trigger.get_next_fire_time(None, after)
    assert (weekly.weekday(), weekly.day, weekly.hour) == (0, 30, 3)
    assert (monthly.month, monthly.day) == (12, 1)
    detect = jobs["detect_weekly"].trigger.get_next_fire_time(None, after)
    assert (detect.weekday(), detect.day, detect.hour) == (0, 30, 4)   # after the weekly forecast
    persons = jobs["persons_daily"].trigger.get_next_fire_time(None, after)
    assert (persons.day, persons.hour) == (25, 2)   # every night, after the 01:30 ingest
    full = jobs["persons_monthly_full"].trigger.get_next_fire_time(None, after)
    assert (full.month, full.day, full.hour, full.minute) == (12, 1, 2, 30)
    monthly_detect = jobs["detect_monthly"].trigger.get_next_fire_time(None, after)
    assert (monthly_detect.day, monthly_detect.hour, monthly_detect.minute) == (1, 4, 30)
    ledger = jobs["ledger_daily"].trigger.get_next_fire_time(None, after)
    assert (ledger.day, ledger.hour) == (25, 5)   # every morning, after Monday's detect run


def test_the_monday_detect_job_stores_a_run_as_of_the_fire_day(tmp_path: Path, small_config: Path,
                                                                small_city: Path) -> None:
    from cli_helpers import ingest, table

    from jobs.schedule import detect_signals

    url = f"sqlite:///{tmp_path}/j.db"
    assert ingest(small_config, url, small_city).exit_code == 0
    detect_signals(load_settings(small_config), url, datetime(2025, 6, 9, 4, 0))
    runs = table(url, "detect_runs")
    assert runs["as_of"].tolist() == [pd.Timestamp("2025-06-09")]
    assert runs["period"].tolist() == [pd.Timestamp("2025-06-02")]
    assert len(table(url, "signals")) > 0
    from jobs.schedule import follow_ledger, resolve_persons

    resolve_persons(load_settings(small_config), url, datetime(2025, 6, 9, 2, 0))
    follow_ledger(load_settings(small_config), url, datetime(2025, 6, 9, 5, 0))
    follow_ledger(load_settings(small_config), url, datetime(2025, 6, 9, 5, 0))   # a re-run changes nothing
    assert table(url, "ledger_runs")["as_of"].tolist() == [pd.Timestamp("2025-06-09 05:00")]
    assert len(table(url, "risk_items")) > 0
