"""Case-level signals of one run (pure): escalated, overdue, repeatedly returned and dissatisfied cases.

Volume detectors see counts; these rules see single cases an analyst must know about this week whatever
the counts do (DOMAIN.md: a province or national visit is a strong risk signal; 逾期, 退单 and 满意度 are
the indicators the offices are judged on). As of ``as_of`` (exclusive, the start of the day after the
period), over cases received before it:

- escalation: level province or national (a group case: city and above), and open at ``as_of`` or
  received within the period (a single petitioner at the city level is routine: about 40 a week in the
  demo city);
- overdue: open at ``as_of`` with its effective deadline before ``as_of``;
- returned: returned twice or more and open at ``as_of``;
- dissatisfied: evaluated "dissatisfied" and closed within the period.

A case is open at ``as_of`` when ``closed_at`` is null or not before ``as_of``. ``signal_key`` is
``<kind>:<source>:<source_id>``: the same across weekly runs, so a lifecycle layer can tell opened,
ongoing and closed signals. Sentences and evidence name cases by source id, category and region only: no
personal data (parties, content, summary) is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import RegionTree, Taxonomy
from riskwatch.detect.lifecycle import findings_frame
from riskwatch.detect.sentences import day_text
from riskwatch.forecast.base import last_period_start

NEEDED: tuple[str, ...] = (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CLOSED_AT, S.CATEGORY_CODE,
                           S.REGION_CODE, S.LEVEL, S.SATISFACTION, S.RETURNED_COUNT, S.HANDLING_UNIT,
                           S.IS_GROUP, S.HEADCOUNT)
KIND_ORDER: tuple[S.SignalKind, ...] = (S.SignalKind.ESCALATION, S.SignalKind.OVERDUE, S.SignalKind.RETURNED,
                                        S.SignalKind.DISSATISFIED)
ESCALATED_LEVELS: tuple[str, ...] = tuple(   # province and national: a strong risk signal (DOMAIN.md)
    lv.value for lv in S.Level if S.LEVEL_RANK[lv] >= S.LEVEL_RANK[S.Level.PROVINCE])
GROUP_ESCALATED_LEVELS: tuple[str, ...] = (S.Level.CITY.value,)   # a group case already at the city
MIN_RETURNS = 2
_DAY = pd.Timedelta(days=1)
Record = Mapping[Any, Any]  # one case as a dict (``DataFrame.to_dict("records")``)


def case_signals(cases: pd.DataFrame, due: pd.Series, as_of: pd.Timestamp, period: str = "W",
                 taxonomy: Taxonomy | None = None, regions: RegionTree | None = None,
                 source_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per case finding, columns ``schema.SIGNAL_COLUMNS``, ordered by kind, source, source id.

    ``due`` is the effective deadline of each case (``deadlines.effective_due``), aligned on
    ``cases.index``; ``period`` is ``"W"`` (Monday weeks) or ``"M"``: the period ends just before ``as_of``.
    ``source_labels`` maps a source name to how a sentence names its cases (``"12345热线 工单"``).
    """
    S.require_columns(cases.columns, NEEDED, "case_signals")
    if not due.index.equals(cases.index):
        raise ValueError("case_signals: due must be aligned on cases.index")
    if period not in ("W", "M"):
        raise ValueError(f"case_signals: period must be 'W' or 'M', got {period!r}")
    as_of = pd.Timestamp(as_of)
    start = last_period_start(as_of, period)
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    known = (received < as_of).to_numpy()
    frame, due_at = cases.loc[known], pd.to_datetime(due).loc[known]
    masks = _masks(frame, due_at, as_of, start)
    rows: list[dict[str, Any]] = []
    for kind in KIND_ORDER:  # a loop over the findings only
        pos = np.flatnonzero(masks[kind])
        records = frame.iloc[pos][list(NEEDED)].to_dict("records")
        rows += [_row(kind, rec, d, as_of, start, taxonomy, regions, source_labels or {})
                 for rec, d in zip(records, due_at.iloc[pos], strict=True)]
    rows.sort(key=lambda r: (KIND_ORDER.index(S.SignalKind(r[S.KIND])), r["_source"], r["_source_id"]))
    return findings_frame(rows)


def _masks(frame: pd.DataFrame, due: pd.Series, as_of: pd.Timestamp,
           start: pd.Timestamp) -> dict[S.SignalKind, np.ndarray]:
    """Boolean mask per kind over ``frame`` (vectorized)."""
    received = pd.to_datetime(frame[S.RECEIVED_AT])
    closed = pd.to_datetime(frame[S.CLOSED_AT])
    open_ = (closed.isna() | (closed >= as_of)).to_numpy()
    in_period = ((received >= start) & (received < as_of)).to_numpy()
    closed_in_period = ((closed >= start) & (closed < as_of)).to_numpy()
    returned = pd.to_numeric(frame[S.RETURNED_COUNT], errors="coerce").fillna(0).to_numpy()
    return {
        S.SignalKind.ESCALATION: (frame[S.LEVEL].isin(ESCALATED_LEVELS)
                                  | (frame[S.LEVEL].isin(GROUP_ESCALATED_LEVELS) & frame[S.IS_GROUP].astype(bool))
                                  ).to_numpy() & (open_ | in_period),
        S.SignalKind.OVERDUE: open_ & (due < as_of).to_numpy(),
        S.SignalKind.RETURNED: open_ & (returned >= MIN_RETURNS),
        S.SignalKind.DISSATISFIED: (frame[S.SATISFACTION] == S.Satisfaction.DISSATISFIED.value).to_numpy()
        & closed_in_period,
    }


def _row(kind: S.SignalKind, rec: Record, due: pd.Timestamp, as_of: pd.Timestamp, start: pd.Timestamp,
         taxonomy: Taxonomy | None, regions: RegionTree | None, labels: Mapping[str, str]) -> dict[str, Any]:
    source, source_id = str(rec[S.SOURCE]), str(rec[S.SOURCE_ID])
    subject = f"{source}:{source_id}"
    evidence = _evidence(rec)
    closed: pd.Timestamp | None = pd.Timestamp(rec[S.CLOSED_AT]) if pd.notna(rec[S.CLOSED_AT]) else None
    is_open = closed is None or closed >= as_of
    if kind == S.SignalKind.OVERDUE:
        evidence["days_overdue"] = math.ceil((as_of - due) / _DAY)
        evidence["due"] = due.isoformat()
    if closed is not None and not is_open:
        evidence["closed"] = closed.isoformat()
    who = f"{labels.get(source, source)} {source_id}（{_where(rec, taxonomy, regions)}）"
    return {
        S.SIGNAL_KEY: f"{kind.value}:{subject}", S.KIND: kind.value, S.SUBJECT: subject,
        S.CATEGORY_CODE: rec[S.CATEGORY_CODE], S.REGION_CODE: rec[S.REGION_CODE], S.PERIOD: start,
        S.OBSERVED: np.nan, S.EXPECTED: np.nan, S.UPPER: np.nan, S.P_VALUE: np.nan, S.LABEL: "",
        S.SENTENCE: who + _predicate(kind, evidence, is_open, closed, as_of), S.EVIDENCE: evidence,
        "_source": source, "_source_id": source_id,
    }


def _evidence(rec: Record) -> dict[str, Any]:
    """The case's figures as plain JSON types (no parties, no content)."""
    unit = rec[S.HANDLING_UNIT]
    return {
        "received": pd.Timestamp(rec[S.RECEIVED_AT]).isoformat(),
        "level": str(rec[S.LEVEL]) if pd.notna(rec[S.LEVEL]) else "",
        "is_group": bool(rec[S.IS_GROUP]) if pd.notna(rec[S.IS_GROUP]) else False,
        "headcount": int(rec[S.HEADCOUNT]) if pd.notna(rec[S.HEADCOUNT]) else 1,
        "returned_count": int(rec[S.RETURNED_COUNT]) if pd.notna(rec[S.RETURNED_COUNT]) else 0,
        "handling_unit": str(unit) if pd.notna(unit) else "",
        "satisfaction": str(rec[S.SATISFACTION]) if pd.notna(rec[S.SATISFACTION]) else "",
    }


def _predicate(kind: S.SignalKind, ev: Mapping[str, Any], is_open: bool, closed: pd.Timestamp | None,
               as_of: pd.Timestamp) -> str:
    """What happened to the case, with its numbers, after its name."""
    tail = "，仍未办结" if is_open else f"，已于 {day_text(closed, as_of)} 办结"
    if kind == S.SignalKind.ESCALATION:
        level = S.Level(ev["level"])
        reached = "已进京" if level == S.Level.NATIONAL else f"已到{S.LEVEL_LABELS[level]}级"
        group = f"（群体访 {ev['headcount']} 人）" if ev["is_group"] else ""
        return f"{reached}{group}{tail}"
    if kind == S.SignalKind.OVERDUE:
        return f"已超期 {ev['days_overdue']} 天（期限 {day_text(pd.Timestamp(ev['due']), as_of)}）{tail}"
    if kind == S.SignalKind.RETURNED:
        unit = f"（现承办单位 {ev['handling_unit']}）" if ev["handling_unit"] else ""
        return f"已被退单 {ev['returned_count']} 次{unit}{tail}"
    return f"已于 {day_text(closed, as_of)} 办结，群众评价不满意"


def _where(rec: Record, taxonomy: Taxonomy | None, regions: RegionTree | None) -> str:
    """``城乡建设›物业管理 · 某某街道``, codes where the configuration does not know them."""
    cat, reg = str(rec[S.CATEGORY_CODE]), str(rec[S.REGION_CODE])
    if taxonomy is not None and cat in taxonomy.categories:
        cat = taxonomy.label(cat)
    if regions is not None and reg in regions.regions:
        reg = regions.regions[reg].name
    return f"{cat} · {reg}"
