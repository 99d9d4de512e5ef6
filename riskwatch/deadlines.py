"""Deadlines of cases (pure): the recorded ``due_at`` where the source gives one, else the configured rule.

Petitions (信访工作条例): concluded within ``conclude_days`` of acceptance; acceptance is ``registered_at``
when recorded, else receipt plus ``register_days``. Hotline work orders: the local SLA of their urgency,
in hours or in working days counted from receipt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import Deadlines

DUE = "due"  # column added by ``effective_due``
DUE_NEEDED: tuple[str, ...] = (S.SOURCE, S.RECEIVED_AT, S.REGISTERED_AT, S.DUE_AT, S.URGENCY)  # what it reads


def add_working_days(start: pd.Series, n: int, working_dates: Sequence[date]) -> pd.Series:
    """The time ``n`` working days after each ``start`` (same clock time), given the sorted working dates.

    A start on a rest day counts from the next working day. Times beyond the calendar fall back to
    calendar days.
    """
    if start.empty:
        return start.copy()
    days = np.array(sorted(working_dates), dtype="datetime64[D]")
    day = start.dt.floor("D").to_numpy(dtype="datetime64[D]")
    idx = np.searchsorted(days, day, side="left") + n
    inside = (idx < len(days)) & start.notna().to_numpy()
    target = np.where(inside, days[np.minimum(idx, len(days) - 1)], day + np.timedelta64(n, "D"))
    clock = (start - start.dt.floor("D")).to_numpy()
    out = pd.Series(target.astype("datetime64[ns]") + clock, index=start.index)
    return out.where(start.notna())


def effective_due(
    cases: pd.DataFrame,
    deadlines: Deadlines,
    source_kind: Mapping[str, str],
    working_dates: Sequence[date],
) -> pd.Series:
    """Deadline of each case: ``due_at`` if recorded, else the rule for its source kind.

    Parameters
    ----------
    cases : frame with ``source, received_at, registered_at, due_at, urgency``
    source_kind : source name -> ``hotline`` | ``petition`` (from the mappings)
    working_dates : sorted working days covering the cases' period (official calendar)
    """
    S.require_columns(cases.columns, DUE_NEEDED, "effective_due")
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    kind = cases[S.SOURCE].map(source_kind).fillna("petition")
    accepted = pd.to_datetime(cases[S.REGISTERED_AT]).fillna(
        received + pd.Timedelta(days=deadlines.register_days))
    due = accepted + pd.Timedelta(days=deadlines.conclude_days)
    hot = kind == "hotline"
    if hot.any():
        urgency = cases[S.URGENCY].astype("object").where(cases[S.URGENCY].notna(),
                                                           deadlines.hotline_default_urgency)
        for sla in deadlines.hotline_slas:
            sel = hot & (urgency == sla.urgency)
            if not sel.any():
                continue
            if sla.unit == "hours":
                due[sel] = received[sel] + pd.Timedelta(hours=sla.limit)
            elif sla.unit == "days":
                due[sel] = received[sel] + pd.Timedelta(days=sla.limit)
            else:
                due[sel] = add_working_days(received[sel], sla.limit, working_dates)
        known = {s.urgency for s in deadlines.hotline_slas}
        default = next(s for s in deadlines.hotline_slas if s.urgency == deadlines.hotline_default_urgency)
        other = hot & ~urgency.isin(known)
        if other.any():
            due[other] = add_working_days(received[other], default.limit, working_dates) \
                if default.unit == "working_days" else received[other] + pd.Timedelta(
                    hours=default.limit if default.unit == "hours" else 24 * default.limit)
    recorded = pd.to_datetime(cases[S.DUE_AT])
    return recorded.fillna(due).rename(DUE)
