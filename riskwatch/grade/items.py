"""Risk items: one per subject (a person, a group, a case nobody could be named for, or a hotspot), built from
the signals of a run and the subject's facts, with the figures ``grade_items`` scores (pure).

``build_items(inputs, as_of, options)`` reads:

* ``signals``: ``signal_key, kind, subject, category_code, region_code, period, observed, expected,
  p_value`` (the run's open signals). A case signal's subject is ``<source>:<source_id>``; a group signal's a
  group id; a volume signal's a series id (``W:0101:339902001``);
* ``cases``: ``source, source_id, received_at, category_code, region_code, level, status, due_at,
  closed_at, returned_count, satisfaction`` (``due_at`` the effective deadline), reaching back at least
  ``options.history_days`` before ``as_of``;
* ``case_persons``: ``source, source_id, person_id`` (the petitioners of each case);
* ``members``: ``group_id, person_id, joined_at``; ``group_cases``: ``group_id, source, source_id``.

A case signal belongs to the case's group when the case or one of its petitioners is in one, else to its
petitioner (the first by id), else to the case itself: a person's dissatisfied, overdue and escalated cases
make one person item, not a dozen case items. Volume signals of one series make one hotspot item.

Returns ``(items, features)``:

* ``items``: ``item_key, subject_kind, subject_id, category_code, region_code, signal_keys, case_keys,
  chain`` (lists and a dict, JSON-serializable; ``case_keys``: the subject's cases of the last
  ``history_days``). ``chain`` says, for a hotspot, how many of the period's
  cases came from which groups and from repeat petitioners (persons with two or more cases in
  ``recent_days``);
* ``features``: ``item_key`` and the factors of ``grade.rules.FACTORS`` (NaN where they do not apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.grade.rules import FACTORS

VOLUME_KINDS = frozenset({S.SignalKind.SPIKE.value, S.SignalKind.RISE.value, S.SignalKind.LEVEL_SHIFT.value})
GROUP_KINDS = frozenset({S.SignalKind.GROUP_GROWTH.value, S.SignalKind.GROUP_SPREAD.value,
                         S.SignalKind.GROUP_ESCALATION.value})
ITEM_COLUMNS = (S.ITEM_KEY, "subject_kind", "subject_id", S.CATEGORY_CODE, S.REGION_CODE, "signal_keys",
                "case_keys", "chain")
CASE_NEEDED = (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE, S.LEVEL, S.DUE_AT,
               S.CLOSED_AT, S.RETURNED_COUNT, S.SATISFACTION)
SIGNAL_NEEDED = (S.SIGNAL_KEY, S.KIND, S.SUBJECT, S.CATEGORY_CODE, S.REGION_CODE, S.PERIOD, S.OBSERVED, S.EXPECTED,
                 S.P_VALUE)
PERSON_ID = "person_id"
GROUP_ID = "group_id"
JOINED_AT = "joined_at"


@dataclass(frozen=True)
class ItemInputs:
    signals: pd.DataFrame
    cases: pd.DataFrame
    case_persons: pd.DataFrame
    members: pd.DataFrame
    group_cases: pd.DataFrame


@dataclass(frozen=True)
class ItemOptions:
    history_days: int = 365
    recent_days: int = 90
    period_days: int = 7                       # a volume signal's period (7 for weekly runs)
    sensitive_categories: frozenset[str] = frozenset()
    days_to_sensitive: float | None = None     # days from as_of to the start of the next sensitive window
    township_of: Mapping[str, str] | None = None  # region code -> its township (for group_townships)


def build_items(inputs: ItemInputs, as_of: pd.Timestamp, options: ItemOptions = ItemOptions()
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The risk items of ``inputs.signals`` and their factors (see the module docstring)."""
    S.require_columns(inputs.signals.columns, SIGNAL_NEEDED, "build_items(signals)")
    S.require_columns(inputs.cases.columns, CASE_NEEDED, "build_items(cases)")
    S.require_columns(inputs.case_persons.columns, (S.SOURCE, S.SOURCE_ID, PERSON_ID), "build_items(case_persons)")
    S.require_columns(inputs.members.columns, (GROUP_ID, PERSON_ID, JOINED_AT), "build_items(members)")
    S.require_columns(inputs.group_cases.columns, (GROUP_ID, S.SOURCE, S.SOURCE_ID), "build_items(group_cases)")
    as_of = pd.Timestamp(as_of)
    cases = _history(inputs.cases, as_of, options.history_days)
    links = _Links(inputs, cases)
    subjects = _subjects(inputs.signals, links)
    items, features = [], []
    for (kind, sid), sig in subjects.groupby(["subject_kind", "subject_id"], sort=True):
        keys = sorted(sig[S.SIGNAL_KEY])
        if kind == "hotspot":
            item, feat = _hotspot(sid, sig, cases, links, as_of, options)
        else:
            case_keys = links.cases_of(kind, sid)
            own = cases[cases["case_key"].isin(case_keys)]
            item = {S.CATEGORY_CODE: _mode(own[S.CATEGORY_CODE]), S.REGION_CODE: _latest(own), "case_keys":
                    sorted(case_keys), "chain": {}}
            feat = _case_factors(own, as_of, options)
            if kind == "group":
                feat.update(_group_factors(sid, links, own, as_of, options))
        key = f"{kind}:{sid}"
        items.append({S.ITEM_KEY: key, "subject_kind": kind, "subject_id": sid, "signal_keys": keys,
                      **{k: item.get(k, [] if k == "case_keys" else None) for k in
                         (S.CATEGORY_CODE, S.REGION_CODE, "case_keys", "chain")}})
        feat["days_to_sensitive"] = np.nan if options.days_to_sensitive is None else float(options.days_to_sensitive)
        features.append({S.ITEM_KEY: key, **feat})
    items_frame = pd.DataFrame(items, columns=list(ITEM_COLUMNS))
    feature_frame = pd.DataFrame(features, columns=[S.ITEM_KEY, *FACTORS]).astype({f: float for f in FACTORS})
    return items_frame, feature_frame


# --- subjects -------------------------------------------------------------------------------------
def _history(cases: pd.DataFrame, as_of: pd.Timestamp, days: int) -> pd.DataFrame:
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    keep = (received <= as_of) & (received > as_of - pd.Timedelta(days=days))
    out = cases[keep.to_numpy()].copy()
    out[S.RECEIVED_AT] = pd.to_datetime(out[S.RECEIVED_AT])
    out["case_key"] = out[S.SOURCE].astype(str) + ":" + out[S.SOURCE_ID].astype(str)
    return out.reset_index(drop=True)


class _Links:
    """Who belongs to what: cases <-> petitioners <-> groups."""

    def __init__(self, inputs: ItemInputs, cases: pd.DataFrame) -> None:
        cp = inputs.case_persons
        keys = (cp[S.SOURCE].astype(str) + ":" + cp[S.SOURCE_ID].astype(str)).to_numpy(dtype=object)
        persons = cp[PERSON_ID].astype(str).to_numpy(dtype=object)
        known = set(cases["case_key"])   # only the cases of the history window count
        self.persons_of: dict[str, list[str]] = {}
        self.cases_of_person: dict[str, set[str]] = {}
        for key, person in zip(keys, persons, strict=True):
            if key in known:
                self.persons_of.setdefault(key, []).append(person)
                self.cases_of_person.setdefault(person, set()).add(key)
        self.persons_of = {k: sorted(set(v)) for k, v in self.persons_of.items()}
        m = inputs.members
        self.members = m.assign(**{PERSON_ID: m[PERSON_ID].astype(str), GROUP_ID: m[GROUP_ID].astype(str)})
        self.group_of_person: dict[str, str] = {}
        for person, group in zip(self.members[PERSON_ID], self.members[GROUP_ID], strict=True):
            self.group_of_person[person] = min(group, self.group_of_person.get(person, group))
        gc = inputs.group_cases
        gkeys = (gc[S.SOURCE].astype(str) + ":" + gc[S.SOURCE_ID].astype(str)).to_numpy(dtype=object)
        self.group_of_case: dict[str, str] = {}
        self.cases_of_group: dict[str, set[str]] = {}
        for key, group in zip(gkeys, gc[GROUP_ID].astype(str).to_numpy(dtype=object), strict=True):
            self.group_of_case[key] = min(group, self.group_of_case.get(key, group))
            self.cases_of_group.setdefault(group, set()).add(key)

    def owner_of_case(self, case_key: str) -> tuple[str, str]:
        if case_key in self.group_of_case:
            return "group", self.group_of_case[case_key]
        persons = self.persons_of.get(case_key, [])
        groups = sorted(self.group_of_person[p] for p in persons if p in self.group_of_person)
        if groups:
            return "group", groups[0]
        if persons:
            return "person", persons[0]
        return "case", case_key

    def cases_of(self, kind: str, sid: str) -> set[str]:
        if kind == "case":
            return {sid}
        if kind == "person":
            return set(self.cases_of_person.get(sid, set()))
        members = self.members.loc[self.members[GROUP_ID] == sid, PERSON_ID]
        out = set(self.cases_of_group.get(sid, set()))
        for p in members:
            out |= self.cases_of_person.get(p, set())
        return out


def _subjects(signals: pd.DataFrame, links: _Links) -> pd.DataFrame:
    kinds = signals[S.KIND].astype(str)
    subject = signals[S.SUBJECT].astype(str)
    owner_kind, owner_id = [], []
    for k, s in zip(kinds, subject, strict=True):
        if k in VOLUME_KINDS:
            owner_kind.append("hotspot")
            owner_id.append(s)
        elif k in GROUP_KINDS:
            owner_kind.append("group")
            owner_id.append(s)
        else:
            ok, oid = links.owner_of_case(s)
            owner_kind.append(ok)
            owner_id.append(oid)
    return signals.assign(subject_kind=owner_kind, subject_id=owner_id)


# --- factors ----------------------------------------------------------------------------------------
def _case_factors(own: pd.DataFrame, as_of: pd.Timestamp, options: ItemOptions) -> dict[str, float]:
    if own.empty:
        return {}
    received = own[S.RECEIVED_AT]
    days_ago = (as_of - received).dt.days
    rank = own[S.LEVEL].map(lambda v: S.LEVEL_RANK.get(S.Level(v), 0) if isinstance(v, str) and v else 0)
    top = int(rank.max())
    closed = pd.to_datetime(own[S.CLOSED_AT])
    due = pd.to_datetime(own[S.DUE_AT])
    open_now = closed.isna() | (closed > as_of)
    overdue = ((as_of - due).dt.days.where(open_now & due.notna() & (due < as_of))).max()
    returns = pd.to_numeric(own[S.RETURNED_COUNT], errors="coerce").fillna(0)
    return {
        "cases_90d": float((days_ago < options.recent_days).sum()),
        "cases_365d": float(len(own)),
        "days_since_last": float(days_ago.min()),
        "max_level": float(top),
        "days_since_max_level": float(days_ago[rank == top].min()),
        "overdue_days": float(overdue) if overdue == overdue else np.nan,
        "returns": float(returns.sum()),
        "dissatisfied": float((own[S.SATISFACTION].astype(str) == S.Satisfaction.DISSATISFIED.value).sum()),
        "sensitive_category": float(own[S.CATEGORY_CODE].astype(str).isin(options.sensitive_categories).any()),
    }


def _group_factors(gid: str, links: _Links, own: pd.DataFrame, as_of: pd.Timestamp,
                   options: ItemOptions) -> dict[str, float]:
    m = links.members[links.members[GROUP_ID] == gid]
    joined = pd.to_datetime(m[JOINED_AT])
    known = joined.isna() | (joined <= as_of)
    new = joined.notna() & (joined <= as_of) & (joined > as_of - pd.Timedelta(days=30))
    townships = {(options.township_of or {}).get(str(r), str(r)[:9]) for r in own[S.REGION_CODE].dropna()}
    return {"group_members": float(known.sum()), "group_new_30d": float(new.sum()),
            "group_townships": float(len(townships))}


def _hotspot(series_id: str, sig: pd.DataFrame, cases: pd.DataFrame, links: _Links, as_of: pd.Timestamp,
             options: ItemOptions) -> tuple[dict[str, Any], dict[str, float]]:
    latest = sig.sort_values([S.PERIOD, S.SIGNAL_KEY]).iloc[-1]
    best_p = pd.to_numeric(sig[S.P_VALUE], errors="coerce").min()
    observed, expected = float(latest[S.OBSERVED]), float(latest[S.EXPECTED])
    category, region = str(latest[S.CATEGORY_CODE] or ""), str(latest[S.REGION_CODE] or "")
    start = pd.Timestamp(latest[S.PERIOD])
    in_cell = cases[(cases[S.RECEIVED_AT] >= start) & (cases[S.RECEIVED_AT] < start + pd.Timedelta(days=options.period_days))
                    & cases[S.CATEGORY_CODE].astype(str).str.startswith(category if category not in ("", "*") else "")
                    & cases[S.REGION_CODE].astype(str).str.startswith(region)]
    chain = _chain(in_cell, cases, links, options)
    feat = {
        "spike_p": float(best_p) if best_p == best_p else np.nan,
        "spike_ratio": observed / expected if expected > 0 else np.nan,
        "excess": max(0.0, observed - expected) if observed == observed and expected == expected else np.nan,
        "sensitive_category": float(any(category.startswith(c) or c.startswith(category)
                                        for c in options.sensitive_categories if category)),
    }
    return {S.CATEGORY_CODE: category or None, S.REGION_CODE: region or None, "case_keys": [], "chain": chain}, feat


def _chain(in_cell: pd.DataFrame, cases: pd.DataFrame, links: _Links, options: ItemOptions) -> dict[str, Any]:
    """How many of a hotspot's cases came from which groups and from repeat petitioners."""
    groups: dict[str, int] = {}
    repeat = 0
    recent_cut = cases[S.RECEIVED_AT].max() - pd.Timedelta(days=options.recent_days) if len(cases) else None
    recent = set(cases.loc[cases[S.RECEIVED_AT] > recent_cut, "case_key"]) if recent_cut is not None else set()
    for key in in_cell["case_key"]:
        kind, sid = links.owner_of_case(key)
        if kind == "group":
            groups[sid] = groups.get(sid, 0) + 1
        elif kind == "person" and len(links.cases_of_person.get(sid, set()) & recent) >= 2:
            repeat += 1
    top = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"cases": int(len(in_cell)), "groups": [{"group_id": g, "cases": n} for g, n in top],
            "repeat_cases": repeat}


def _mode(values: pd.Series) -> str | None:
    v = values.dropna().astype(str)
    return None if v.empty else str(v.value_counts().sort_index().idxmax())


def _latest(own: pd.DataFrame) -> str | None:
    if own.empty:
        return None
    row = own.sort_values([S.RECEIVED_AT, "case_key"]).iloc[-1]
    return None if pd.isna(row[S.REGION_CODE]) else str(row[S.REGION_CODE])
