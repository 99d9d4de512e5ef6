"""Deadlines and the monthly indicators on tiny hand-made frames."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from riskwatch import schema as S
from riskwatch.config import load_settings
from riskwatch.deadlines import DUE, add_working_days, effective_due
from riskwatch.indicators import compute_month_stats

T = pd.Timestamp


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {S.SOURCE: "petition_register", S.SOURCE_ID: "x", S.CHANNEL: "letter", S.REGISTERED_AT: pd.NaT,
            S.DUE_AT: pd.NaT, S.CLOSED_AT: pd.NaT, S.URGENCY: None, S.CATEGORY_CODE: "0101",
            S.LEVEL: "district", S.IS_GROUP: False, S.HEADCOUNT: 1, S.STATUS: "received", S.RESOLVED: None,
            S.SATISFACTION: "none", S.RETURNED_COUNT: 0}
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in (S.RECEIVED_AT, S.REGISTERED_AT, S.DUE_AT, S.CLOSED_AT):
        df[c] = pd.to_datetime(df[c], format="ISO8601")
    return df


def weekdays(start: date, n: int) -> list[date]:
    return [start + timedelta(i) for i in range(n) if (start + timedelta(i)).weekday() < 5]


def test_working_days_skip_weekends_and_keep_the_clock() -> None:
    start = pd.Series([T("2024-03-08 10:00"), T("2024-03-09 09:00"), pd.NaT])  # Fri, Sat
    out = add_working_days(start, 3, weekdays(date(2024, 3, 1), 60))
    assert out[0] == T("2024-03-13 10:00")  # Fri + 3 working days = Wed
    assert out[1] == T("2024-03-14 09:00")  # Sat counts from Mon: Mon + 3 = Thu
    assert pd.isna(out[2])


def test_effective_due_prefers_the_recorded_deadline_then_the_rule() -> None:
    d = load_settings().deadlines
    cases = frame([
        {S.RECEIVED_AT: "2024-01-02", S.REGISTERED_AT: "2024-01-05"},
        {S.RECEIVED_AT: "2024-01-02"},
        {S.RECEIVED_AT: "2024-01-02", S.DUE_AT: "2024-01-20"},
        {S.SOURCE: "hotline_12345", S.RECEIVED_AT: "2024-01-02 08:00", S.URGENCY: "紧急"},
        {S.SOURCE: "hotline_12345", S.RECEIVED_AT: "2024-01-05 08:00", S.URGENCY: None},
    ])
    kinds = {"petition_register": "petition", "hotline_12345": "hotline"}
    due = effective_due(cases, d, kinds, weekdays(date(2024, 1, 1), 40))
    assert due[0] == T("2024-01-05") + pd.Timedelta(days=60)
    assert due[1] == T("2024-01-02") + pd.Timedelta(days=15 + 60)
    assert due[2] == T("2024-01-20")
    assert due[3] == T("2024-01-02 10:00")
    assert due[4] == T("2024-01-10 08:00")  # Friday + 3 working days


def test_month_stats_counts_yoy_mom_and_rates() -> None:
    rows = (
        [{S.RECEIVED_AT: "2024-03-10", S.CHANNEL: "visit"}] * 6
        + [{S.RECEIVED_AT: "2024-02-10", S.CHANNEL: "visit"}] * 3
        + [{S.RECEIVED_AT: "2023-03-10", S.CHANNEL: "visit"}] * 4
        + [{S.RECEIVED_AT: "2024-03-11", S.LEVEL: "province", S.IS_GROUP: True, S.HEADCOUNT: 12}]
        + [{S.RECEIVED_AT: "2024-01-05", S.CLOSED_AT: "2024-03-01", S.RESOLVED: True,
            S.SATISFACTION: "dissatisfied", S.RETURNED_COUNT: 0}]
        + [{S.RECEIVED_AT: "2024-03-01", S.RETURNED_COUNT: 2}]
        + [{S.RECEIVED_AT: "2024-03-20", S.CLOSED_AT: "2024-05-01"}]  # closed after as_of: still open
    )
    cases = frame(rows)
    cases[DUE] = cases[S.RECEIVED_AT] + pd.Timedelta(days=40)
    st = compute_month_stats(cases, pd.Period("2024-03", "M"), T("2024-03-31 23:59:59"))
    visit = st.by_channel.set_index("key").loc["visit"]
    assert (visit["count"], visit["prev_month"], visit["prev_year"]) == (6, 3, 4)
    assert visit["mom"] == pytest.approx(1.0) and visit["yoy"] == pytest.approx(0.5)
    assert st.total == 9
    assert st.group_cases == 1 and st.group_headcount == 12
    assert st.escalations.set_index("level").loc["province", "cases"] == 1
    assert st.returned_orders == 1 and st.returns == 2
    # the January case closed 2024-03-01, 16 days after its deadline (2024-02-14)
    assert (st.resolved.numerator, st.resolved.denominator) == (1, 1)
    assert (st.satisfied.numerator, st.satisfied.denominator) == (0, 1)
    assert st.overdue_closed == 1
    # deadlines in March: the 3 February cases (2024-03-21) — none concluded
    assert (st.on_time.numerator, st.on_time.denominator) == (0, 3)


def test_month_stats_ignores_what_was_not_yet_received() -> None:
    cases = frame([{S.RECEIVED_AT: "2024-03-10"}, {S.RECEIVED_AT: "2024-03-25"}])
    cases[DUE] = cases[S.RECEIVED_AT] + pd.Timedelta(days=60)
    st = compute_month_stats(cases, pd.Period("2024-03", "M"), T("2024-03-15"))
    assert st.total == 1


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="compute_month_stats: missing column.*due"):
        compute_month_stats(frame([{S.RECEIVED_AT: "2024-03-10"}]), pd.Period("2024-03", "M"), T("2024-04-01"))


def test_repeat_share_counts_the_months_repeat_cases_over_all_its_cases() -> None:
    cases = frame([{S.RECEIVED_AT: "2024-03-01"}, {S.RECEIVED_AT: "2024-03-05"}, {S.RECEIVED_AT: "2024-03-09"},
                   {S.RECEIVED_AT: "2024-02-01"}])
    cases[DUE] = cases[S.RECEIVED_AT] + pd.Timedelta(days=60)
    assert compute_month_stats(cases, pd.Period("2024-03", "M"), T("2024-03-31")).repeats is None
    cases["is_repeat"] = [False, True, True, True]   # the February repeat is not March's
    st = compute_month_stats(cases, pd.Period("2024-03", "M"), T("2024-03-31"))
    assert st.repeats is not None and (st.repeats.numerator, st.repeats.denominator) == (2, 3)
