"""The cases as they stood at a past time, read from their versions (pure: frames in, frames out).

Every distinct version of a case is one ``case_events`` row: its ``at`` is the version's ``version_at``
(the source's own update time, else the latest of its received / registered / closed times; see
``store.versions``) and its ``snapshot`` holds the ``versions.TRACKED_FIELDS``. A case is **known at
``as_of``** once it was received and entered (``registered_at``, else ``received_at``, not after ``as_of``:
the rule by which ``forecast.series.known_cases`` counts it), and it is then

1. its greatest version (in the order of ``versions.SORT_COLUMNS``) whose ``version_at <= as_of``; a case
   whose stored (latest) version is not after ``as_of`` is therefore read as it is stored, without its
   events;
2. for a case received before ``as_of`` whose every version is dated later (an export made after the
   case changed: a yearly export of a case closed since, or a case first exported late), its earliest
   version: the least advanced state the store holds;
3. in either case, a closing dated after ``as_of`` undone (``undo_later_closings``): the case was open then,
   as an export of that day would have shown it — ``closed_at`` blank, status 办理中 (``in_progress``)
   where it says closed, satisfaction 未评价 (``none``), ``resolved`` unknown.

**Why the version's own time, not the time of ingest.** ``at`` is a fact of the data, the same whatever
the order of files and whenever they were ingested; the time of ingest is not (a store loaded in one go
from five years of exports, like the demo's, would know nothing of any past month). So two stores holding
the same exports give the same past figures, and a later export changes no past figure with a change it
dates after ``as_of``. A case entered after ``as_of`` (a petition registered weeks after the visit, a
backlog entered in one batch) was in no export of that time and stays out. What a later export *can* still
change is the past it reveals: a case received and entered before ``as_of`` that no earlier export showed
(a file missed, a layout that exports cases by the year of receipt) enters the figures of its month on the
next run (a late record of the past is a correction, not a later change), and a version whose source gives
no update time is dated by its received / registered / closed times, so an escalation, a return or a
reclassification such a version carries without closing the case is dated back to those times. The three
configured sources all export an update time (最后更新时间 / 更新时间).

**What is tracked.** The snapshot holds every field of a case but its texts (``content``, ``summary``,
``category_raw``, ``region_raw``, which enter no figure) and ``updated_at`` (its time is the event's
``at``); those are read from the stored (latest) version. A snapshot written before ``category_code,
region_code, channel, is_group, headcount, urgency, received_at, registered_at`` were tracked lacks them;
such a version reads them from the stored case (what every reader did before). The window of a read
(``start``, ``end``) is applied to the stored ``received_at``, the known-at rule to the version's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch.schema import (
    CLOSED_AT,
    RECEIVED_AT,
    REGISTERED_AT,
    RESOLVED,
    SATISFACTION,
    STATUS,
    Satisfaction,
    Status,
    require_columns,
)
from riskwatch.store.versions import (
    SNAPSHOT,
    SORT_COLUMNS,
    TRACKED_FIELDS,
    VERSION_AT,
    VERSION_HASH,
    add_sort_columns,
)

CASE_ID = "case_id"
AT = "at"
#: Columns of a version frame (``CaseHistory.versions``, read by ``store.queries.load_case_history``).
VERSION_COLUMNS: tuple[str, ...] = (CASE_ID, AT, VERSION_HASH, SNAPSHOT)
#: What a case frame needs besides the columns asked for, to be read as of a time (``closed_at`` only to
#: undo a later closing of the columns it bears on, ``CLOSING_COLUMNS``, or for an ``open_at`` window).
HISTORY_COLUMNS: tuple[str, ...] = (CASE_ID, RECEIVED_AT, REGISTERED_AT)
CLOSING_COLUMNS: tuple[str, ...] = (CLOSED_AT, STATUS, SATISFACTION, RESOLVED)
_MISSING = object()  # a field the snapshot does not hold (written before the field was tracked)
_TIME_FIELDS = {CLOSED_AT, "due_at", RECEIVED_AT, REGISTERED_AT}


@dataclass(frozen=True)
class CaseHistory:
    """Stored cases and the versions that give their state at any time from ``since`` on.

    ``latest``: one row per case in its stored (latest) version, with ``HISTORY_COLUMNS`` besides
    ``columns`` (and ``closed_at`` when ``columns`` has one of ``CLOSING_COLUMNS`` or ``open_at`` is set);
    ``versions``: every version (``VERSION_COLUMNS``) of the cases whose latest version is after ``since``. ``start`` and ``open_at`` are the window of ``load_cases`` (the cases
    received from ``start``, or still open at ``open_at``), applied to each state read.
    """

    latest: pd.DataFrame
    versions: pd.DataFrame
    since: pd.Timestamp
    columns: tuple[str, ...]
    start: pd.Timestamp | None = None
    open_at: pd.Timestamp | None = None

    def at(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """The cases known at ``as_of`` (not before ``since``) as they stood then, with ``columns``; see the
        module doc."""
        as_of = pd.Timestamp(as_of)
        if as_of < self.since:
            raise ValueError(f"CaseHistory.at: {as_of} is before the history's start {self.since}")
        out = cases_as_of(self.latest, self.versions, as_of)
        keep = known_by(out, as_of)
        if self.start is not None and self.open_at is not None:
            closed = out[CLOSED_AT]
            keep = keep & ((out[RECEIVED_AT] >= self.start) | closed.isna() | (closed >= self.open_at)).to_numpy(dtype=bool)
        return out.loc[keep, list(self.columns)].reset_index(drop=True)


def known_by(cases: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Whether each case was received and entered (``registered_at``, else ``received_at``) by ``as_of``."""
    received = cases[RECEIVED_AT]
    entered = cases[REGISTERED_AT].fillna(received)
    return ((received <= as_of) & (entered <= as_of)).to_numpy(dtype=bool)


def cases_as_of(latest: pd.DataFrame, versions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The cases of ``latest`` as known at ``as_of`` (see the module doc).

    Parameters
    ----------
    latest
        One row per case in its stored version: ``case_id`` and any case columns (the tracked ones among
        them are replaced by those of the version in force; ``closed_at``, ``status``, ``satisfaction``
        and ``resolved`` are masked for a closing after ``as_of``).
    versions
        ``case_id, at, version_hash, snapshot``: every version of every case that has one dated after
        ``as_of`` (a case without versions here has none: it is read as it is stored).

    Returns a copy of ``latest`` (same rows, order and dtypes).
    """
    out = latest.reset_index(drop=True)  # copy-on-write: the columns changed below are copied, not ``latest``
    if len(versions) and len(out):
        require_columns(versions.columns, VERSION_COLUMNS, "cases_as_of(versions)")
        require_columns(latest.columns, [CASE_ID], "cases_as_of(latest)")
        last = versions.groupby(CASE_ID, sort=False)[AT].max()
        changed = last.index[last > as_of]
        mine = versions[versions[CASE_ID].isin(changed) & versions[CASE_ID].isin(out[CASE_ID])]
        chosen = choose_versions(mine, as_of)
        if len(chosen):
            rows = pd.Index(out[CASE_ID]).get_indexer(chosen[CASE_ID])
            for field in TRACKED_FIELDS:
                if field in out.columns:
                    out[field] = _overlay(out[field], rows, chosen[field].to_numpy(dtype=object), field)
    return undo_later_closings(out, as_of)


def choose_versions(versions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per case, the version in force at ``as_of``: the greatest dated not after it, else the earliest.

    ``versions``: ``case_id, at, version_hash, snapshot``. Returns one row per case: ``case_id`` and the
    ``TRACKED_FIELDS`` as read from the snapshot (objects; a field the snapshot lacks is a private marker
    that ``cases_as_of`` replaces with the stored value).
    """
    if versions.empty:
        return pd.DataFrame(columns=[CASE_ID, *TRACKED_FIELDS])
    fields = read_snapshots(versions[SNAPSHOT].tolist())
    frame = fields.assign(**{CASE_ID: versions[CASE_ID].to_numpy(), VERSION_AT: versions[AT].to_numpy(),
                             VERSION_HASH: versions[VERSION_HASH].to_numpy()})
    ranked = add_sort_columns(frame.copy())
    ranked = ranked.sort_values([CASE_ID, *SORT_COLUMNS], kind="stable")
    before = ranked[ranked[VERSION_AT] <= as_of].drop_duplicates(CASE_ID, keep="last")
    first = ranked.drop_duplicates(CASE_ID, keep="first")
    chosen = pd.concat([before, first[~first[CASE_ID].isin(before[CASE_ID])]])
    return chosen[[CASE_ID, *TRACKED_FIELDS]].reset_index(drop=True)


def read_snapshots(snapshots: list[Any]) -> pd.DataFrame:
    """The tracked fields of each snapshot (JSON text) as object columns; a field the snapshot does not
    hold is the private ``_MISSING`` marker, ``null`` is ``None``."""
    parsed = [json.loads(s) if s else {} for s in snapshots]
    return pd.DataFrame({f: pd.Series([d.get(f, _MISSING) for d in parsed], dtype=object) for f in TRACKED_FIELDS})


def undo_later_closings(cases: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cases closed after ``as_of`` shown open, as an export of that time would have shown them: ``closed_at``
    blank, a ``closed`` status ``in_progress``, satisfaction ``none``, ``resolved`` unknown (``cases`` is
    changed and returned; under copy-on-write the frame it was taken from is not). A frame without
    ``closed_at`` is returned as it is."""
    if CLOSED_AT not in cases.columns:
        return cases
    later = (cases[CLOSED_AT] > as_of).to_numpy(dtype=bool)
    if not later.any():
        return cases
    cases.loc[later, CLOSED_AT] = pd.NaT
    if STATUS in cases.columns:
        cases.loc[later & (cases[STATUS] == Status.CLOSED.value).to_numpy(dtype=bool), STATUS] = \
            Status.IN_PROGRESS.value
    if SATISFACTION in cases.columns:
        cases.loc[later, SATISFACTION] = Satisfaction.NONE.value
    if RESOLVED in cases.columns:
        cases.loc[later, RESOLVED] = pd.NA
    return cases


def _overlay(column: pd.Series, rows: np.ndarray, values: np.ndarray, field: str) -> pd.Series:
    """``column`` with ``values`` at positions ``rows`` (missing markers keep the stored value), in the
    column's dtype."""
    known = np.array([v is not _MISSING for v in values], dtype=bool)
    if not known.any():
        return column
    rows, values = rows[known], values[known]
    new = pd.Series(values, dtype=object)
    if field in _TIME_FIELDS or pd.api.types.is_datetime64_any_dtype(column.dtype):
        new = pd.to_datetime(new, format="ISO8601")
    out = column.copy()
    out.iloc[rows] = new.astype(column.dtype).to_numpy() if len(new) else new
    return out
