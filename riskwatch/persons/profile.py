"""A person's profile (pure): what an analyst or a leader who owns the case (包案领导) needs on one page.

``person_profile`` gathers, for one person: the cases by channel and by matter, repeat petitions, the
escalations (the highest level reached, visits at province or national level), activity in past sensitive
periods (cases received inside a window or its lead-up), the items still open at ``as_of`` and the groups
the person belongs to. Personal data is masked here, before anything leaves the core: the name shows the
surname only, the ID number its first and last 4 characters, phones the first 3 and last 4 digits,
addresses stop at the township (``identity.mask_*``). Contents of complaints are not included.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from riskwatch import calendar as cal
from riskwatch import schema as S
from riskwatch.identity import mask_address, mask_id, mask_name, mask_phone
from riskwatch.persons.groups import known_levels, most_common

RECORD_NEEDED: tuple[str, ...] = ("record_id", S.SOURCE, S.SOURCE_ID, "person_id", S.NAME, S.ID_NUMBER, S.PHONE,
                                  S.ADDRESS)
CASE_NEEDED: tuple[str, ...] = (S.SOURCE, S.SOURCE_ID, S.CHANNEL, S.RECEIVED_AT, S.CLOSED_AT, S.CATEGORY_CODE,
                                S.REGION_CODE, S.LEVEL, S.IS_GROUP, S.STATUS)
CASE_TABLE_COLUMNS: tuple[str, ...] = (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CHANNEL, S.CATEGORY_CODE,
                                       S.REGION_CODE, S.LEVEL, S.IS_GROUP, "open", "matter_id", "is_repeat")
ESCALATED: frozenset[str] = frozenset({S.Level.PROVINCE.value, S.Level.NATIONAL.value})


@dataclass(frozen=True)
class PersonProfile:
    person_id: str
    name: str                       # masked: the surname and *
    id_numbers: tuple[str, ...]     # masked, distinct
    phones: tuple[str, ...]         # masked, distinct
    addresses: tuple[str, ...]      # masked to the township, distinct
    records: int                    # recorded parties joined into this person
    confidence: float               # the weakest link that holds the person together (1.0: one record)
    cases: pd.DataFrame             # CASE_TABLE_COLUMNS, oldest first
    by_channel: pd.Series           # channel -> cases
    by_matter: pd.DataFrame         # matter_id, category_code, region_code, cases, repeats, first, last
    highest_level: str              # a schema.Level value ("" when none recorded)
    escalations: int                # cases at province or national level
    sensitive: pd.DataFrame         # period_id, name, start, cases (received in the window or its lead-up)
    open_items: int
    groups: pd.DataFrame            # group_id, size, joined_at


def person_profile(person_id: str, records: pd.DataFrame, cases: pd.DataFrame, matters: pd.DataFrame,
                   members: pd.DataFrame, groups: pd.DataFrame, windows: pd.DataFrame, as_of: pd.Timestamp
                   ) -> PersonProfile:
    """The profile of ``person_id``.

    ``records``: the register joined to the parties (``RECORD_NEEDED``, optional ``confidence``);
    ``cases``: ``CASE_NEEDED`` (at least the person's cases); ``matters``: ``source, source_id, matter_id,
    is_repeat``; ``members``: ``group_id, person_id, joined_at``; ``groups``: ``group_id, size``;
    ``windows``: ``calendar.sensitive_windows``. Raises ``KeyError`` when no record has ``person_id``.
    """
    S.require_columns(records.columns, RECORD_NEEDED, "person_profile(records)")
    S.require_columns(cases.columns, CASE_NEEDED, "person_profile(cases)")
    mine = records.loc[records["person_id"] == person_id]
    if mine.empty:
        raise KeyError(f"no person {person_id}")
    keys = mine[[S.SOURCE, S.SOURCE_ID]].drop_duplicates()
    own = cases.merge(keys, on=[S.SOURCE, S.SOURCE_ID])
    own = own.merge(matters[[S.SOURCE, S.SOURCE_ID, "matter_id", "is_repeat"]], on=[S.SOURCE, S.SOURCE_ID],
                    how="left")
    own["is_repeat"] = own["is_repeat"].fillna(False).astype(bool)
    closed = pd.to_datetime(own[S.CLOSED_AT])
    own["open"] = closed.isna() | (closed >= as_of)
    own = own.sort_values([S.RECEIVED_AT, S.SOURCE, S.SOURCE_ID], ignore_index=True)
    by_matter = (own.groupby("matter_id", dropna=True)
                 .agg(category_code=(S.CATEGORY_CODE, most_common), region_code=(S.REGION_CODE, most_common),
                      cases=(S.SOURCE_ID, "size"), repeats=("is_repeat", "sum"),
                      first=(S.RECEIVED_AT, "min"), last=(S.RECEIVED_AT, "max"))
                 .sort_values(["cases", "last"], ascending=[False, False]).reset_index())
    levels = known_levels(own[S.LEVEL])
    mine_groups = members.loc[members["person_id"] == person_id, ["group_id", "joined_at"]]
    mine_groups = mine_groups.merge(groups[["group_id", "size"]], on="group_id", how="left")
    confidence = float(mine["confidence"].min()) if "confidence" in mine.columns and len(mine) else 1.0
    return PersonProfile(
        person_id=person_id,
        name=mask_name(most_common(mine[S.NAME])) or "",
        id_numbers=_masked(mine[S.ID_NUMBER], mask_id),
        phones=_masked(mine[S.PHONE], mask_phone),
        addresses=_masked(mine[S.ADDRESS], mask_address),
        records=len(mine), confidence=confidence,
        cases=own[list(CASE_TABLE_COLUMNS)],
        by_channel=own[S.CHANNEL].value_counts(),
        by_matter=by_matter,
        highest_level=levels[-1] if levels else "",
        escalations=int(own[S.LEVEL].isin(ESCALATED).sum()),
        sensitive=_sensitive_activity(own[S.RECEIVED_AT], windows, as_of),
        open_items=int(own["open"].sum()),
        groups=mine_groups[["group_id", "size", "joined_at"]].reset_index(drop=True),
    )


def display_name(names: pd.Series) -> str:
    """How a person is shown: the most common of its recorded names (ties: the smallest), masked to
    the surname (``王*``); ``（无名）`` when none was recorded."""
    return mask_name(most_common(names)) or "（无名）"


def _sensitive_activity(received: pd.Series, windows: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cases received from a window's lead-up start to its end, for the windows that began before ``as_of``."""
    out = []
    times = pd.to_datetime(received)
    for w in windows.loc[windows[cal.LEAD_START] < as_of].itertuples(index=False):
        start, end = getattr(w, cal.LEAD_START), getattr(w, cal.WINDOW_END) + pd.Timedelta(days=1)
        n = int(((times >= start) & (times < end)).sum())
        if n:
            out.append({cal.PERIOD_ID: getattr(w, cal.PERIOD_ID), cal.PERIOD_NAME: getattr(w, cal.PERIOD_NAME),
                        cal.WINDOW_START: getattr(w, cal.WINDOW_START), "cases": n})
    return pd.DataFrame(out, columns=[cal.PERIOD_ID, cal.PERIOD_NAME, cal.WINDOW_START, "cases"])


def _masked(values: pd.Series, mask: object) -> tuple[str, ...]:
    got = {mask(v) for v in values.dropna().astype(str) if str(v).strip()}  # type: ignore[operator]
    return tuple(sorted(g for g in got if g))
