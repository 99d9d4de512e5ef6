"""One detection step, and the same step replayed over many periods (pure).

``observed_wide`` and ``score_last_period`` score the newest period of every series for ``riskwatch detect``
given what the store remembers (the level shifts confirmed before, the recent scores). ``step`` is what
``riskwatch detect`` does for one as-of once the period is scored: confirm level shifts,
pick the findings, describe them, and advance the signal states. ``replay`` runs the detectors and
``step`` period after period over a span of history, exactly as weekly runs would have (each period is
scored on the data before it, with only the level shifts confirmed before it): the benchmark and the
tests measure signals this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.detect import combine as C
from riskwatch.detect.lifecycle import (
    ONGOING,
    OPEN,
    STATUS,
    SignalPolicy,
    advance,
    empty_states,
    thread,
)
from riskwatch.detect.multiple import parents, same_event_family
from riskwatch.detect.signals import describe, shift_findings, volume_findings
from riskwatch.forecast.series import CATEGORY_LEVEL, CATEGORY_LEVELS, REGION_LEVEL, REGION_LEVELS
from riskwatch.schema import SignalKind

RECENT_COLUMNS: tuple[str, ...] = (S.SERIES_ID, S.DS, S.OBSERVED, S.EXPECTED, C.ALARM)
Labeler = Callable[[pd.DataFrame], Mapping[str, tuple[str, str]]]


@dataclass(frozen=True)
class PeriodScores:
    """The newest period of every series scored (``score_last_period``)."""

    scores: pd.DataFrame                      # series_id, ds + combine.SCORE_COLUMNS of the period
    recent: pd.DataFrame                      # RECENT_COLUMNS since each series' last confirmed shift, the period's too
    confirmed: dict[str, pd.Timestamp]        # series -> the period its last level shift was confirmed
    history: dict[str, pd.Series]             # the counts before the period of each series that alarms


def observed_wide(series: pd.DataFrame) -> pd.DataFrame:
    """A series frame (``series_id, ds, y_observed``) as periods x series ids of the counts as entered."""
    S.require_columns(series.columns, (S.SERIES_ID, S.DS, S.Y_OBSERVED), "observed_wide")
    return series.pivot(index=S.DS, columns=S.SERIES_ID, values=S.Y_OBSERVED).sort_index()


def score_last_period(wide: pd.DataFrame, freq: str, shifts: pd.DataFrame, stored_recent: pd.DataFrame,
                      workers: int = 1) -> PeriodScores:
    """Score the last period of ``wide`` (``observed_wide``) in every series, against the new level of the
    series whose level shifts were confirmed before it.

    ``shifts``: ``series_id, start, ratio, confirmed`` (the period that confirmed it), one row per series and
    start; ``stored_recent``: the scores of the periods before (``RECENT_COLUMNS``), to which the period's
    scored rows are added; the rows of a series up to its last confirmed shift are dropped (a shift is
    confirmed once).
    """
    S.require_columns(shifts.columns, (S.SERIES_ID, "start", "ratio", "confirmed"), "score_last_period(shifts)")
    S.require_columns(stored_recent.columns, RECENT_COLUMNS, "score_last_period(stored_recent)")
    ds = wide.index
    period = pd.Timestamp(ds[-1])
    confirmed: dict[str, pd.Timestamp] = shifts.groupby(S.SERIES_ID)["confirmed"].max().to_dict()
    positions: dict[str, list[tuple[int, float]]] = {}
    for sid, start, ratio in zip(shifts[S.SERIES_ID], shifts["start"], shifts["ratio"], strict=True):
        if start in ds:
            positions.setdefault(sid, []).append((int(ds.get_loc(start)), ratio))
    scores = C.score_series(wide, freq, len(ds) - 1, positions, workers).assign(**{S.DS: period})
    recent = pd.concat([stored_recent, scores.loc[scores[C.STATE] == C.SCORED, list(RECENT_COLUMNS)]],
                       ignore_index=True)
    after_shift = recent[S.DS] > pd.to_datetime(recent[S.SERIES_ID].map(confirmed))
    recent = recent.loc[~recent[S.SERIES_ID].isin(confirmed) | after_shift]
    history = {sid: wide[sid].iloc[:-1] for sid in scores.loc[scores[C.ALARM], S.SERIES_ID]}
    return PeriodScores(scores, recent, confirmed, history)


@dataclass
class StepResult:
    states: pd.DataFrame                      # lifecycle.STATE_COLUMNS after this period
    shifts: dict[str, tuple[pd.Timestamp, float]] = field(default_factory=dict)  # confirmed now


def step(scores: pd.DataFrame, recent: pd.DataFrame, catalog: pd.DataFrame, previous: pd.DataFrame,
         period: pd.Timestamp, policy: SignalPolicy, freq: str, history: Mapping[str, pd.Series] | None = None,
         labeler: Labeler | None = None, extra: pd.DataFrame | None = None,
         earlier_shifts: Mapping[str, pd.Timestamp] | None = None) -> StepResult:
    """Advance the signals by one period.

    ``scores``: this period's score of every series (``signals.WEEK_SCORE_COLUMNS``); ``recent``: each
    series' scored periods since its last confirmed shift (``RECENT_COLUMNS``, this period included);
    ``previous``: the states of the run before; ``labeler``: artifact labels of the findings (series ->
    (label, note)); ``extra``: other findings of the period (case signals), rows with ``SIGNAL_COLUMNS``;
    ``earlier_shifts``: series -> the period its last level shift was confirmed.
    """
    prev_open = previous.loc[previous[STATUS].isin([OPEN, ONGOING])] if len(previous) else empty_states()
    open_volume = set(prev_open.loc[thread(prev_open).str.startswith("volume:"), S.SUBJECT]) \
        if len(prev_open) else set()
    shifts_found, shifts = shift_findings(recent, catalog, policy, freq, set(earlier_shifts or {}))
    year = pd.Timedelta(days=366 if freq != "D" else 31)
    refined = {sid for sid, when in (earlier_shifts or {}).items() if period - when <= year}
    shifts_found = _one_per_event(shifts_found.loc[~shifts_found[S.SUBJECT].isin(refined)], prev_open, catalog)
    shifted = set(shifts)
    findings, support = volume_findings(scores.loc[~scores[S.SERIES_ID].isin(shifted)], catalog,
                                        open_volume - shifted, policy)
    labels = labeler(findings) if labeler is not None and len(findings) else {}
    findings = describe(findings, catalog, freq, history, labels)
    support = describe(support, catalog, freq, history)
    new = [f for f in (findings, shifts_found, extra) if f is not None and len(f)]
    all_findings = pd.concat(new, ignore_index=True) if new else findings
    close = {f"volume:{sid}": SignalKind.LEVEL_SHIFT.value for sid in shifted}
    return StepResult(advance(previous, all_findings, support, period, policy, close), shifts)


def _one_per_event(found: pd.DataFrame, prev_open: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Level shifts confirmed now that belong to a level-shift signal already open, or to a broader one
    confirmed now (``multiple.same_event_family``), join it: the baseline of each series adapts, but one
    signal tells the event. The joined series are listed in the broader signal's evidence. (A second shift
    of a series within a year of its first only corrects the first estimate: ``step`` drops it.)"""
    if found.empty:
        return found
    up = parents(catalog)
    depth = catalog.set_index(S.SERIES_ID)[[REGION_LEVEL, CATEGORY_LEVEL]].apply(
        lambda r: (REGION_LEVELS.index(r.iloc[0]), CATEGORY_LEVELS.index(r.iloc[1])), axis=1)
    hosts = list(prev_open.loc[prev_open[S.KIND] == SignalKind.LEVEL_SHIFT.value, S.SUBJECT]) \
        if len(prev_open) else []
    keep: list[int] = []
    joined: dict[str, list[str]] = {}
    order = sorted(found.index, key=lambda i: (depth.get(found.at[i, S.SUBJECT], (9, 9)), found.at[i, S.SUBJECT]))
    for i in order:
        sid = found.at[i, S.SUBJECT]
        host = next((h for h in hosts if same_event_family(sid, h, up)), None)
        if host is None:
            hosts.append(sid)
            keep.append(i)
        else:
            joined.setdefault(host, []).append(sid)
    out = found.loc[sorted(keep)].copy()
    out[S.EVIDENCE] = [{**ev, "joined": sorted(joined.get(sid, []))}
                       for ev, sid in zip(out[S.EVIDENCE], out[S.SUBJECT], strict=True)]
    return out


def replay(wide: pd.DataFrame, catalog: pd.DataFrame, freq: str, positions: range, policy: SignalPolicy,
           progress: Callable[[int], None] | None = None) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Weekly runs over ``positions`` of ``wide`` (periods x series counts, NaN = missing).

    Returns the states after each period and every score (``series_id, ds`` + ``SCORE_COLUMNS``, as
    scored at the time: after a confirmed shift the later periods are rescored against the new level).
    """
    ds = wide.index
    pos = np.asarray(list(positions))
    scored = {sid: C.score_periods(wide[sid].to_numpy(), freq, pos).set_axis(ds[pos])
              for sid in wide.columns}
    applied: dict[str, list[tuple[int, float]]] = {}
    since: dict[str, pd.Timestamp] = {}   # periods before this do not count towards a new shift
    states = empty_states()
    out: list[pd.DataFrame] = []
    for i, t in enumerate(pos):
        period = ds[t]
        week = pd.DataFrame([f.loc[period] for f in scored.values()]).assign(
            **{S.SERIES_ID: list(scored), S.DS: period})
        recent = _recent(scored, period, since, policy.shift_window)
        history = {sid: wide[sid].iloc[:t] for sid in week.loc[week[C.ALARM], S.SERIES_ID]}
        res = step(week, recent, catalog, states, period, policy, freq, history,
                   earlier_shifts={sid: when - pd.Timedelta(days=1) for sid, when in since.items()})
        states = res.states
        out.append(states.assign(**{S.DS: period}))
        for sid, (start, ratio) in res.shifts.items():
            applied.setdefault(sid, []).append((int(ds.get_loc(start)), ratio))
            since[sid] = period + pd.Timedelta(days=1)
            later = pos[pos > t]
            if len(later):
                redo = C.score_periods(wide[sid].to_numpy(), freq, later, applied[sid]).set_axis(ds[later])
                scored[sid] = pd.concat([scored[sid].loc[scored[sid].index <= period], redo])
        if progress:
            progress(i + 1)
    scores = pd.concat([f.assign(**{S.SERIES_ID: sid, S.DS: f.index}) for sid, f in scored.items()],
                       ignore_index=True)
    return out, scores


def _recent(scored: Mapping[str, pd.DataFrame], period: pd.Timestamp, since: Mapping[str, pd.Timestamp],
            window: int) -> pd.DataFrame:
    """The last ``window`` scored periods up to ``period`` of the series that could confirm a shift now
    (alarming this period, or adapted to an earlier shift), since their last shift."""
    parts = []
    for sid, f in scored.items():
        if not bool(f.at[period, C.ALARM]) and sid not in since:
            continue
        lo = since.get(sid, pd.Timestamp.min)
        part = f.loc[(f.index <= period) & (f.index >= lo) & (f[C.STATE] == C.SCORED)].tail(window)
        parts.append(pd.DataFrame({S.SERIES_ID: sid, S.DS: part.index, S.OBSERVED: part[S.OBSERVED].to_numpy(),
                                   S.EXPECTED: part[S.EXPECTED].to_numpy(), C.ALARM: part[C.ALARM].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(RECENT_COLUMNS))
