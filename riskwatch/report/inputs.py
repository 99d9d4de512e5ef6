"""What the monthly report and the weekly briefing are built from: one frozen bundle of frames, loaded by
``pipeline.report`` as of a date, read by the pure builders ``report.monthly`` and ``report.weekly``.

Frames (columns):

- ``cases``: the cases the period's figures can touch (``cases_with_due``: ``source, source_id,
  received_at, closed_at, channel, category_code, region_code, level, status, is_group, headcount, resolved,
  satisfaction, returned_count, due`` and ``is_repeat`` when persons ran), received up to ``as_of``;
- ``forecast_series`` / ``forecast_values``: the latest stored forecast run made by ``as_of``
  (``store.forecasts`` layouts), or empty;
- ``signals``: the volume signals (spike, rise, level shift) of the detect runs that scored a week of the
  period, the latest state of each (``store.detect`` state layout);
- ``shifts``: level shifts confirmed by then (``series_id, start, ratio, confirmed``);
- ``person_cases``: ``person_id, source, source_id`` (the petitioners of the cases read, from the register);
  ``person_names``: person -> masked name;
- ``groups`` / ``members`` / ``group_cases``: the groups of the last persons run (``schema.GROUP_COLUMNS`` ...);
- ``items``: the ledger's items (``assign.ITEM_COLUMNS``, latest description) and ``ledger``: their grade,
  owner, deadline and status as they stood at ``as_of`` (``assign.ledger_as_of``); ``events``: the items'
  events up to ``as_of``;
- ``windows``: sensitive windows (``calendar.sensitive_windows``) of the period's and the next year;
  ``holidays``: official days off of those years.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from riskwatch.config import RegionTree, StaffMember, Taxonomy


@dataclass(frozen=True)
class ReportInputs:
    period: pd.Period             # freq M (monthly report) or W-SUN (weekly briefing)
    as_of: pd.Timestamp           # the last instant whose knowledge the report shows
    city: str
    taxonomy: Taxonomy
    regions: RegionTree
    staff: tuple[StaffMember, ...]
    cases: pd.DataFrame
    forecast_series: pd.DataFrame = field(default_factory=pd.DataFrame)
    forecast_values: pd.DataFrame = field(default_factory=pd.DataFrame)
    forecast_as_of: pd.Timestamp | None = None
    signals: pd.DataFrame = field(default_factory=pd.DataFrame)
    shifts: pd.DataFrame = field(default_factory=pd.DataFrame)
    person_cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    person_names: Mapping[str, str] = field(default_factory=dict)
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    items: pd.DataFrame = field(default_factory=pd.DataFrame)
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    holidays: Mapping[date, str] = field(default_factory=dict)
    issuer: str = ""

    @property
    def start(self) -> pd.Timestamp:
        return self.period.start_time

    @property
    def end(self) -> pd.Timestamp:
        """The period's last instant, or ``as_of`` when earlier."""
        return min(self.period.end_time, self.as_of)
