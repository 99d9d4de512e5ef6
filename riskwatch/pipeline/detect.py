"""Use case: detect — score the newest period of every series, update the signals, save the run; and the
standalone mode on one ``date,count`` file.

Functions here take an open session and never commit; time is an argument (``as_of``, ``now``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch.config import Settings
from riskwatch.deadlines import DUE
from riskwatch.export import write_csv
from riskwatch.pipeline.cases import add_due, cases_with_due
from riskwatch.pipeline.forecast import read_count_series, series_from_cases
from riskwatch.store import CaseHistory, load_case_history


def detect_file(in_path: Path, out_path: Path, freq: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The standalone detect mode: score every period of the ``date,count`` file ``in_path`` prospectively
    and write ``out_path`` (CSV ``date, count, expected, upper, score, alarm, detector, state``)."""
    import numpy as np

    from riskwatch.detect import combine as C

    regular = read_count_series(in_path, freq)
    y = np.where(regular.imputed, np.nan, regular.y)
    scores = C.score_periods(y, freq)
    out = pd.DataFrame({
        "date": regular.ds.strftime("%Y-%m-%d"), "count": scores[C.OBSERVED].to_numpy(),
        "expected": scores[C.EXPECTED].round(3).to_numpy(), "upper": scores[C.UPPER].round(3).to_numpy(),
        "score": scores[C.SCORE].round(4).to_numpy(), "alarm": scores[C.ALARM].astype(int).to_numpy(),
        "detector": scores[C.DETECTOR].to_numpy(), "state": scores[C.STATE].to_numpy(),
    })
    write_csv(out, out_path)
    notes = tuple(n.replace("filled by interpolation for fitting", "scored as missing") for n in regular.notes)
    return out, notes


@dataclass(frozen=True)
class DetectSummary:
    """What ``run_detect`` did: the run's key, the period scored, and the signals as they now stand."""

    run_id: int
    freq: str
    as_of: datetime
    period: datetime
    data_end: datetime | None
    series: int
    scored: int
    insufficient: int
    states: pd.DataFrame      # detect.lifecycle.STATE_COLUMNS


DETECT_CASE_COLUMNS = ("source", "source_id", "received_at", "registered_at", "due_at", "closed_at", "urgency",
                       "category_code", "region_code", "level", "satisfaction", "returned_count",
                       "handling_unit", "is_group", "headcount")
ARTIFACT_BASELINE_PERIODS = 8   # periods before the spike a series' usual mix of sources and units is read from


def detect_cases(session: Session, settings: Settings, end: pd.Timestamp) -> pd.DataFrame:
    """The cases a detect run as of ``end`` reads: received before ``end``, as known then
    (``store.load_cases_as_of``), with their deadline."""
    return cases_with_due(session, settings, end=end.to_pydatetime(), columns=DETECT_CASE_COLUMNS, as_of=end)


def detect_history(session: Session, end: pd.Timestamp, since: pd.Timestamp) -> CaseHistory:
    """The cases received before ``end`` with what it takes to read them as known at any time from ``since``
    on: one load for the runs of several consecutive periods (``run_detect(cases=...)``)."""
    return load_case_history(session, since.to_pydatetime(), end=end.to_pydatetime(), columns=DETECT_CASE_COLUMNS)


def run_detect(session: Session, settings: Settings, as_of: pd.Timestamp, now: datetime, freq: str = "W",
               cases: pd.DataFrame | CaseHistory | None = None) -> DetectSummary:
    """Score the last complete period of every series as known at ``as_of``, update the signals and store
    the run ``(freq, as_of)``. A re-run replaces it; a run continues from the run of the previous period
    (its signal states, recent scores and confirmed level shifts). By default the run loads the cases as
    known at ``as_of`` (``detect_cases``); ``cases`` may be a ``detect_history`` from ``as_of`` or earlier
    (runs over consecutive periods load the store once, each reads the cases as of its own time), or a
    frame of ``detect_cases`` columns with ``due``, read as it is (its rows received from ``as_of`` on
    dropped)."""
    from riskwatch.detect import combine as C
    from riskwatch.detect.case_signals import case_signals
    from riskwatch.detect.lifecycle import SILENCED, silence_reasons
    from riskwatch.detect.replay import observed_wide, score_last_period, step
    from riskwatch.detect.signals import FORECAST_UPPER
    from riskwatch.forecast.base import period_range
    from riskwatch.store import detect as store

    policy = settings.detect
    if cases is None:
        cases = detect_cases(session, settings, as_of)
    elif isinstance(cases, CaseHistory):
        cases = add_due(cases.at(as_of), settings)
        cases = cases.loc[cases["received_at"] < as_of].reset_index(drop=True)
    else:
        cases = cases.loc[cases["received_at"] < as_of].reset_index(drop=True)
    series, catalog, cutoff, data_end = series_from_cases(cases, settings, as_of, freq)
    if series.empty:
        raise ValueError(f"no cases received before {as_of}: nothing to detect")
    wide = observed_wide(series)
    period = pd.Timestamp(wide.index[-1])
    shifts = store.load_shifts(session, freq, period.to_pydatetime())
    stored_recent = store.load_recent_scores(session, freq, period.to_pydatetime(), policy.shift_window - 1)
    scored = score_last_period(wide, freq, shifts, stored_recent, settings.forecast.workers)
    scores = scored.scores
    scores[FORECAST_UPPER] = _forecast_upper(session, freq, period).reindex(scores["series_id"]).to_numpy()
    _, previous = store.load_states(session, freq, period_before=period.to_pydatetime())
    labels = {name: m.label or name for name, m in settings.mappings.items()}
    # case and group findings are those of the period scored, judged at its end, whatever the hour of the run
    period_end = period_range(period, 2, freq)[1]
    extra = case_signals(cases, cases[DUE], period_end, freq, settings.taxonomy, settings.regions, labels)
    for more in (_group_signals(session, settings, cases, period_end, freq),
                 _repeat_signals(session, settings, cases, period_end, freq)):
        if len(more):
            extra = pd.concat([extra, more], ignore_index=True) if len(extra) else more
    labeler = _artifact_labeler(cases, catalog, settings, wide.index, freq)
    result = step(scores, scored.recent, catalog, previous, period, policy, freq, scored.history, labeler, extra,
                  scored.confirmed)
    states = result.states
    scores["shift_start"] = scores["series_id"].map({k: v[0] for k, v in result.shifts.items()})
    scores["shift_ratio"] = scores["series_id"].map({k: v[1] for k, v in result.shifts.items()})
    states[SILENCED] = silence_reasons(states["signal_key"], store.load_silences(session), cutoff)
    run = store.DetectRunInfo(freq=freq, as_of=as_of.to_pydatetime(), period=period.to_pydatetime(),
                              started_at=now, finished_at=now)
    run_id = store.save_detect_run(session, run, scores, states)
    return DetectSummary(run_id=run_id, freq=freq, as_of=as_of.to_pydatetime(), period=period.to_pydatetime(),
                         data_end=data_end.to_pydatetime() if data_end is not None else None,
                         series=len(scores), scored=int((scores[C.STATE] == C.SCORED).sum()),
                         insufficient=int((scores[C.STATE] == C.INSUFFICIENT).sum()), states=states)


def _group_signals(session: Session, settings: Settings, cases: pd.DataFrame, cutoff: pd.Timestamp, freq: str
                   ) -> pd.DataFrame:
    """Findings on the groups the last persons run found (grown, spread to a new township, escalated)."""
    from riskwatch.persons.group_signals import GroupSignalOptions, group_findings
    from riskwatch.store.persons import load_groups

    groups, members, group_cases = load_groups(session)
    p = settings.persons
    options = GroupSignalOptions(growth_weeks=p.group_growth_weeks, growth_min_new=p.group_growth_min_new,
                                 growth_min_share=p.group_growth_min_share,
                                 escalation_min_level=p.group_escalation_level)
    return group_findings(groups, members, group_cases, cases, cutoff, freq, settings.regions, settings.taxonomy,
                          options)


def _repeat_signals(session: Session, settings: Settings, cases: pd.DataFrame, cutoff: pd.Timestamp, freq: str
                    ) -> pd.DataFrame:
    """Repeat petitions of the period on the matters the last persons run found."""
    from riskwatch.persons.repeat_signals import RepeatSignalOptions, repeat_findings
    from riskwatch.store.persons import load_matters

    p = settings.persons
    options = RepeatSignalOptions(min_earlier=p.repeat_signal_min_earlier, window_days=p.repeat_signal_days)
    return repeat_findings(load_matters(session), cases, cutoff, freq, settings.regions, settings.taxonomy, options)


def _forecast_upper(session: Session, freq: str, period: pd.Timestamp) -> pd.Series:
    """The 95% upper bound of ``period`` in the latest forecast run made before the period began
    (series_id -> bound; empty when there is none)."""
    from riskwatch.store.forecasts import load_forecast_run_before

    got = load_forecast_run_before(session, freq, period.to_pydatetime())
    if got is None:
        return pd.Series(dtype=float)
    values = got.loc[got["ds"] == period]
    return values.set_index("series_id")["yhat_upper_95"]


def _artifact_labeler(cases: pd.DataFrame, catalog: pd.DataFrame, settings: Settings, ds: pd.DatetimeIndex,
                      freq: str) -> Callable[[pd.DataFrame], dict[str, tuple[str, str]]]:
    """Labels the findings whose cases come from one source, one day's batch entry or one unit."""
    from riskwatch.detect.artifacts import label_artifact
    from riskwatch.forecast.base import period_start
    from riskwatch.forecast.series import CATEGORY, CATEGORY_LEVEL, REGION, REGION_LEVEL, cell_keys

    n = ARTIFACT_BASELINE_PERIODS
    first = ds[max(len(ds) - 1 - n, 0)]
    recent = cases.loc[cases["received_at"] >= first].copy()
    recent["_period"] = period_start(recent["received_at"], freq)
    keys = cell_keys(recent, settings.taxonomy, settings.regions)
    info = catalog.set_index("series_id")
    sources = {name: m.label or name for name, m in settings.mappings.items()}

    def label(findings: pd.DataFrame) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for sid, expected in zip(findings["subject"], findings["expected"], strict=True):
            row = info.loc[sid]
            mine = (keys.category[row[CATEGORY_LEVEL]] == row[CATEGORY]) & (keys.region[row[REGION_LEVEL]] == row[REGION])
            part = recent.loc[mine]
            now = part["_period"] == ds[-1]
            got = label_artifact(part.loc[now], part.loc[~now & (part["_period"] < ds[-1])], float(expected), n,
                                 source_labels=sources)
            if got.label:
                out[sid] = (got.label, got.note)
        return out

    return label
