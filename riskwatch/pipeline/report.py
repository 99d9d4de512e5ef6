"""Use case: the monthly report and the weekly briefing — load what the period needs as of a date, build the
document (``report.monthly`` / ``report.weekly``, pure), write PDF + HTML + XLSX (``report.output``).

Every read of the cases goes through ``pipeline.cases.cases_with_due`` (the month's figures through
``pipeline.stats.load_month_cases``), so the figures are those ``riskwatch stats`` gives for the same as-of.
Stored runs are taken as they were at the as-of: the latest forecast run and the detect runs made by then, the
ledger replayed from its events (``assign.ledger_as_of``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.assign import ledger_as_of
from riskwatch.config import Settings
from riskwatch.pipeline.cases import cases_with_due, received_since
from riskwatch.pipeline.stats import load_month_cases
from riskwatch.report.inputs import ReportInputs
from riskwatch.report.output import ReportFiles
from riskwatch.report.sections import VOLUME_KINDS

REPORT_COLUMNS = (S.REGION_CODE,)
SIGNAL_HISTORY_WEEKS = 30


def default_as_of(period: pd.Period) -> pd.Timestamp:
    """What a report shows unless asked otherwise: a month as it stood at its end (the report is issued on
    the 1st, with that night's forecast and ledger); a week as it stood at the end of the Monday after it,
    the day of the risk review meeting the briefing is for (with that Monday's detect run and ledger)."""
    if period.freqstr.startswith("W"):
        return (period.end_time + pd.Timedelta(days=1)).floor("s")
    return period.end_time.floor("s")


def knowledge_cutoff(as_of: pd.Timestamp) -> pd.Timestamp:
    """Stored runs made up to the end of the as-of's day count as known then (a run "as of 12-01 00:00" is
    the knowledge of the end of 11-30)."""
    return as_of.normalize() + pd.Timedelta(days=1)


def monthly_inputs(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp) -> ReportInputs:
    cases = load_month_cases(session, settings, month, as_of, extra_columns=REPORT_COLUMNS)
    return _inputs(session, settings, month, as_of, cases)


def weekly_inputs(session: Session, settings: Settings, week: pd.Period, as_of: pd.Timestamp) -> ReportInputs:
    start = week.start_time - pd.Timedelta(weeks=SIGNAL_HISTORY_WEEKS)
    from riskwatch.deadlines import DUE, DUE_NEEDED
    from riskwatch.indicators import NEEDED

    columns = dict.fromkeys([*(c for c in NEEDED if c != DUE), S.SOURCE_ID, S.REGION_CODE, *DUE_NEEDED])
    cases = cases_with_due(session, settings, end=as_of, columns=list(columns), start=start, as_of=as_of)
    return _inputs(session, settings, week, as_of, cases, with_persons=False)


def _inputs(session: Session, settings: Settings, period: pd.Period, as_of: pd.Timestamp,
            cases: pd.DataFrame, with_persons: bool = True) -> ReportInputs:
    """What a report reads besides the cases; ``with_persons=False`` (the briefing, which shows no persons
    or groups of their own) skips the person records and the groups, the slowest reads."""
    from riskwatch.persons.profile import display_name
    from riskwatch.report.monthly import top_persons
    from riskwatch.store import detect as detect_store
    from riskwatch.store import ledger as ledger_store
    from riskwatch.store import persons as persons_store

    known = knowledge_cutoff(as_of)
    forecast = _forecast_run(session, known)
    signals = _volume_signals(session, period, known)
    shifts = detect_store.load_shifts(session, "W", period.end_time)
    # the petitioners of the cases read
    person_cases = persons_store.load_case_persons(session, received_since(cases)) if with_persons and len(cases) else \
        pd.DataFrame(columns=["person_id", S.SOURCE, S.SOURCE_ID])
    groups, members, group_cases = persons_store.load_groups(session) if with_persons else \
        (pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    events = ledger_store.load_events(session, until=known.to_pydatetime())
    items = ledger_store.load_items(session)
    ledger = ledger_as_of(events, known) if len(events) else pd.DataFrame()
    wanted = list(top_persons(person_cases, cases, as_of)["person_id"])
    if len(items):
        wanted += items.loc[items["subject_kind"] == "person", "subject_id"].astype(str).tolist()
    names = persons_store.load_person_names(session, sorted(set(wanted)))
    masked = {p: display_name(g["name"]) for p, g in names.groupby("person_id")}
    years = range(period.start_time.year - 1, period.end_time.year + 2)
    return ReportInputs(
        period=period, as_of=as_of, city=settings.city_name, taxonomy=settings.taxonomy, regions=settings.regions,
        staff=settings.staff, cases=cases,
        forecast_series=forecast[0] if forecast else pd.DataFrame(),
        forecast_values=forecast[1] if forecast else pd.DataFrame(),
        forecast_as_of=forecast[2] if forecast else None,
        signals=signals, shifts=shifts, person_cases=person_cases, person_names=masked,
        groups=groups, members=members, group_cases=group_cases, items=items, ledger=ledger, events=events,
        windows=cal.sensitive_windows(settings.periods, years), holidays=cal.official_holidays(years),
        issuer=f"{settings.city_name}信访风险研判（riskwatch）")


def _forecast_run(session: Session, known: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp] | None:
    """The weekly forecast run made last by ``known``: (series, values, its as-of)."""
    from sqlalchemy import select

    from riskwatch.store.forecasts import forecast_runs_table, load_forecast_run

    t = forecast_runs_table.c
    as_of = session.connection().execute(
        select(t.as_of).where(t.freq == "W", t.as_of <= known.to_pydatetime()).order_by(t.as_of.desc()).limit(1)
    ).scalar_one_or_none()
    if as_of is None:
        return None
    got = load_forecast_run(session, "W", as_of)
    if got is None:
        return None
    return got[1], got[2], pd.Timestamp(as_of)


def _volume_signals(session: Session, period: pd.Period, known: pd.Timestamp) -> pd.DataFrame:
    """The volume signals (spike, rise, level shift) of the weekly detect runs that scored a week starting in
    the period and were made by ``known``: each signal's state in the last such run that had it."""
    from sqlalchemy import select

    from riskwatch.store.detect import detect_runs_table, load_states

    r = detect_runs_table.c
    runs = session.connection().execute(
        select(r.period).where(r.freq == "W", r.period >= period.start_time.to_pydatetime(),
                               r.period <= period.end_time.to_pydatetime(), r.as_of <= known.to_pydatetime())
        .order_by(r.period)).scalars().all()
    frames = []
    for week in sorted(set(runs)):
        _, states = load_states(session, "W", period_before=pd.Timestamp(week) + pd.Timedelta(days=1))
        got = states[states[S.KIND].isin(VOLUME_KINDS) & (states[S.PERIOD] == pd.Timestamp(week))]
        frames.append(got)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(S.PERIOD).drop_duplicates(S.SIGNAL_KEY, keep="last").reset_index(drop=True)


def write_monthly_report(session: Session, settings: Settings, month: pd.Period, as_of: pd.Timestamp,
                         folder: Path) -> ReportFiles:
    """The month's report as of ``as_of``, written as ``<folder>/月度风险预警报告_<YYYY-MM>.{pdf,html,xlsx}``."""
    from riskwatch.report.monthly import build_monthly
    from riskwatch.report.output import write_document

    document = build_monthly(monthly_inputs(session, settings, month, as_of))
    return write_document(document, folder, f"月度风险预警报告_{month.year}-{month.month:02d}")


def write_weekly_briefing(session: Session, settings: Settings, week: pd.Period, as_of: pd.Timestamp,
                          folder: Path) -> ReportFiles:
    """The week's briefing as of ``as_of``, written as ``<folder>/周风险研判简报_<YYYY>-W<ww>.{pdf,html,xlsx}``."""
    from riskwatch.report.output import write_document
    from riskwatch.report.weekly import build_weekly

    document = build_weekly(weekly_inputs(session, settings, week, as_of))
    iso = week.start_time.isocalendar()
    return write_document(document, folder, f"周风险研判简报_{iso.year}-W{iso.week:02d}")
