"""One ledger run as a function of frames (``assign.ledger_step``): what the store's run and the replay share."""

from __future__ import annotations

import pandas as pd

from riskwatch.assign import INFO_COLUMNS, ITEM_COLUMNS, empty_ledger, ledger_step, open_load
from riskwatch.config import load_settings

SETTINGS = load_settings()
STAFF = {m.id: m for m in SETTINGS.staff}
MON = pd.Timestamp("2026-11-02 04:00")


def graded(*rows: tuple[str, str, float, str]) -> pd.DataFrame:
    return pd.DataFrame([{"item_key": k, "grade": g, "score": s, "sentence": f"{g} {s}", "signal_keys": [f"s:{k}"],
                          "subject_kind": k.split(":")[0], "subject_id": k.split(":")[1], "category_code": "0101",
                          "region_code": region, "case_keys": [], "chain": {}, "reasons": [{"rule": "x"}]}
                         for k, g, s, region in rows])


def step(current: pd.DataFrame, frame: pd.DataFrame, at: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ledger_step(current, frame, at, SETTINGS.staff, SETTINGS.regions, SETTINGS.ledger.deadline_days)


def test_a_step_grades_assigns_and_keeps_what_was_said_of_each_item() -> None:
    start = empty_ledger().assign(**{c: pd.Series(dtype=object) for c in INFO_COLUMNS})
    run = graded(("person:1", "red", 70, "339902001001001"), ("group:G", "red", 65, "339902001"),
                 ("person:2", "yellow", 35, "339902001001002"))
    after, events = step(start, run, MON)
    assert list(after.columns) == list(ITEM_COLUMNS)
    red = after[after["grade"] == "red"]
    assert (red["status"] == "assigned").all() and all(STAFF[o].role == "county_leader" for o in red["owner_id"])
    assert after.set_index("item_key").loc["person:2", "status"] == "new"
    assert set(events["kind"]) == {"opened", "confirmed", "assigned"}
    # the same run again: nothing new; a later run that does not speak of an item keeps its subject and place
    again, none = step(after, run, MON)
    assert none.empty and again.equals(after)
    later, _ = step(after, run.iloc[:1], MON + pd.Timedelta(hours=1))
    assert later.set_index("item_key").loc["group:G", "region_code"] == "339902001"
    # load is counted on the ledger: the two red items went to two different leaders of the district
    assert sorted(open_load(after).values()) == [1, 1]
