"""Signals of repeat petitions (pure): a case of the period that petitions a matter again, after earlier cases.

``repeat_findings``: one ``repeat`` (重复信访) finding per case received in the period (ending just before
``as_of``) whose matter (``persons.repeats.find_matters``, as stored: ``case_matters``) had at least
``min_earlier`` cases received before it within ``window_days``: the third petition of one matter within a
year, by default. A repeat petition says the matter was not settled (事心双解 failed), and a petitioner
who keeps coming back is the one who goes on to the city or the province; without this signal the ledger
holds such a person only while one of their cases is overdue, returned, dissatisfied or escalated.

The finding is a case signal (``signal_key`` ``repeat:<source>:<source_id>``, ``subject`` the case key), so
the ledger puts it in the item of the case's group or petitioner with the case's other signals. Sentences
count and date the matter's petitions; they never name a person.

Nothing here reads the clock, files or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import RegionTree, Taxonomy
from riskwatch.detect.lifecycle import findings_frame
from riskwatch.forecast.base import last_period_start


@dataclass(frozen=True)
class RepeatSignalOptions:
    min_earlier: int = 2      # earlier cases of the matter needed: 2 makes the third petition a signal
    window_days: int = 365    # earlier cases counted within this many days before the case

    def __post_init__(self) -> None:
        if self.min_earlier < 1 or self.window_days < 1:
            raise ValueError("RepeatSignalOptions: min_earlier >= 1 and window_days >= 1")


def repeat_findings(matters: pd.DataFrame, cases: pd.DataFrame, as_of: pd.Timestamp, period: str = "W",
                    regions: RegionTree | None = None, taxonomy: Taxonomy | None = None,
                    options: RepeatSignalOptions = RepeatSignalOptions()) -> pd.DataFrame:
    """One row per repeat finding (``schema.SIGNAL_COLUMNS``), ordered by source and source id.

    ``matters``: ``source, source_id, matter_id`` (one row per case); ``cases``: ``source, source_id,
    received_at, category_code, region_code``. Only cases received before ``as_of`` count.
    """
    S.require_columns(matters.columns, (S.SOURCE, S.SOURCE_ID, S.MATTER_ID), "repeat_findings(matters)")
    S.require_columns(cases.columns, (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE),
                      "repeat_findings(cases)")
    if period not in ("W", "M"):
        raise ValueError(f"repeat_findings: period must be 'W' or 'M', got {period!r}")
    as_of = pd.Timestamp(as_of)
    start = last_period_start(as_of, period)
    info = cases[[S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE]].astype(
        {S.SOURCE: str, S.SOURCE_ID: str})
    c = matters[[S.SOURCE, S.SOURCE_ID, S.MATTER_ID]].astype(str).merge(info, on=[S.SOURCE, S.SOURCE_ID])
    c[S.RECEIVED_AT] = pd.to_datetime(c[S.RECEIVED_AT])
    c = c[(c[S.RECEIVED_AT] < as_of) & (c[S.RECEIVED_AT] >= start - pd.Timedelta(days=options.window_days))]
    c = c.sort_values([S.MATTER_ID, S.RECEIVED_AT, S.SOURCE, S.SOURCE_ID], kind="stable").reset_index(drop=True)
    # earlier cases of the same matter within the window: positions in the matter's time-ordered run
    code = pd.factorize(c[S.MATTER_ID])[0].astype(np.int64)
    secs = c[S.RECEIVED_AT].to_numpy().astype("datetime64[s]").astype(np.int64)
    key = code * (1 << 40) + (secs - secs.min() if len(secs) else secs)
    first = np.searchsorted(key, code * (1 << 40), side="left")
    since = np.searchsorted(key, key - options.window_days * 86400, side="left")
    earlier = np.arange(len(c)) - np.maximum(first, since)
    hits = np.flatnonzero((c[S.RECEIVED_AT] >= start).to_numpy() & (earlier >= options.min_earlier))
    rows = [_finding(c, int(i), int(earlier[i]), int(max(first[i], since[i])), start, period, regions, taxonomy)
            for i in hits]
    rows.sort(key=lambda r: r[S.SUBJECT])
    return findings_frame(rows)


def _finding(c: pd.DataFrame, i: int, earlier: int, first: int, start: pd.Timestamp, period: str,
             regions: RegionTree | None, taxonomy: Taxonomy | None) -> dict[str, Any]:
    row = c.iloc[i]
    key = f"{row[S.SOURCE]}:{row[S.SOURCE_ID]}"
    previous = c.iloc[i - 1][S.RECEIVED_AT]
    began = c.iloc[first][S.RECEIVED_AT]
    category = row[S.CATEGORY_CODE] if isinstance(row[S.CATEGORY_CODE], str) else None
    what = taxonomy.label(category) if taxonomy is not None and category in taxonomy.categories else "未分类"
    region = row[S.REGION_CODE] if isinstance(row[S.REGION_CODE], str) else None
    where = regions.regions[region].name if regions is not None and region in regions.regions else "地区不详"
    when = "本周" if period == "W" else "本月"
    sentence = (f"{what} · {where}：{when}同一事项第 {earlier + 1} 次信访（{began:%Y 年 %-m 月 %-d 日}起，"
                f"上一次 {previous:%-m 月 %-d 日}），事项未化解")
    return {
        S.SIGNAL_KEY: f"{S.SignalKind.REPEAT.value}:{key}", S.KIND: S.SignalKind.REPEAT.value, S.SUBJECT: key,
        S.CATEGORY_CODE: category, S.REGION_CODE: region, S.PERIOD: start, S.OBSERVED: float(earlier + 1),
        S.EXPECTED: np.nan, S.UPPER: np.nan, S.P_VALUE: np.nan, S.LABEL: "", S.SENTENCE: sentence,
        S.EVIDENCE: {"matter_id": str(row[S.MATTER_ID]), "earlier_cases": earlier,
                     "first_at": began.isoformat(), "previous_at": previous.isoformat()},
    }
