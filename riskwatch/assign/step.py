"""One ledger run as a function of frames (pure): the graded items of a run applied to the ledger, owners named.

``ledger_step(current, graded, as_of, staff, regions, deadlines, policy)``:

* ``current``: the ledger as it stands (``ITEM_COLUMNS``: the lifecycle's ``LEDGER_COLUMNS`` and what the
  runs said of each item, ``INFO_COLUMNS``);
* ``graded``: this run's items with their grades (``grade.grade_items`` merged with ``grade.items.build_items``'
  items: ``item_key, score, grade, sentence, reasons, signal_keys`` and the ``INFO_COLUMNS``).

Returns the ledger after the run (``ITEM_COLUMNS``; an item keeps what an earlier run said of it unless this
run speaks of it) and the run's events. Owners' open load is counted on ``current``. The store's
``pipeline.ledger.run_ledger`` and the replay benchmark both run this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from riskwatch.assign.lifecycle import (
    LEDGER_COLUMNS,
    OPEN_WORK,
    LedgerPolicy,
    needs_owner,
    record_owners,
    run_ledger,
)
from riskwatch.assign.owners import assign_owners
from riskwatch.config import RegionTree, StaffMember
from riskwatch.schema import ITEM_KEY, Grade

INFO_COLUMNS = ("subject_kind", "subject_id", "category_code", "region_code", "case_keys", "chain", "reasons",
                "sentence")
ITEM_COLUMNS = (*LEDGER_COLUMNS, *INFO_COLUMNS)
DEFAULT_POLICY = LedgerPolicy()


def open_load(ledger: pd.DataFrame) -> dict[str, int]:
    """Owner id -> the open items they hold (assigned, acknowledged, in progress, reopened)."""
    held = ledger[ledger["status"].isin([s.value for s in OPEN_WORK]) & ledger["owner_id"].notna()]
    return {str(k): int(v) for k, v in held["owner_id"].value_counts().items()}


def ledger_step(current: pd.DataFrame, graded: pd.DataFrame, as_of: pd.Timestamp, staff: Sequence[StaffMember],
                regions: RegionTree, deadlines: Mapping[Grade, int], policy: LedgerPolicy = DEFAULT_POLICY
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ledger after one run and the run's events (see the module docstring)."""
    stamp = pd.Timestamp(as_of)
    ledger, events = run_ledger(current[list(LEDGER_COLUMNS)], graded, stamp, policy)
    info = _item_info(current, graded)
    ledger, owned = name_owners(ledger, info, open_load(current), stamp, staff, regions, deadlines)
    after = ledger.merge(info, on=ITEM_KEY, how="left")[list(ITEM_COLUMNS)]
    return after, pd.concat([events, owned], ignore_index=True) if len(owned) else events


def name_owners(ledger: pd.DataFrame, info: pd.DataFrame, load: Mapping[str, int], as_of: pd.Timestamp,
                staff: Sequence[StaffMember], regions: RegionTree, deadlines: Mapping[Grade, int]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Owners and deadlines for the items of ``ledger`` (``LEDGER_COLUMNS``) that wait for one
    (``needs_owner``), placed by ``info``'s ``region_code``; the ledger and the ``assigned`` events."""
    want = needs_owner(ledger).merge(info[[ITEM_KEY, "region_code"]], on=ITEM_KEY, how="left")
    return record_owners(ledger, assign_owners(want, staff, regions, load, as_of, deadlines), as_of)


def _item_info(current: pd.DataFrame, graded: pd.DataFrame) -> pd.DataFrame:
    """What the run says of each item (subject, place, evidence, reasons), over what the ledger had."""
    fresh = graded[[ITEM_KEY, *INFO_COLUMNS]] if len(graded) else pd.DataFrame(columns=[ITEM_KEY, *INFO_COLUMNS])
    old = current[[ITEM_KEY, *INFO_COLUMNS]]
    old = old[~old[ITEM_KEY].isin(fresh[ITEM_KEY])]
    return pd.concat([old, fresh], ignore_index=True)
