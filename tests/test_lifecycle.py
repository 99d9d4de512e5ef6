"""The life of a risk item: review, owner, deadline, re-notice, escalation, resolution, reopening, override,
and the ledger as of any past date from its events (issue 13)."""

from __future__ import annotations

import pandas as pd
import pytest

from riskwatch.assign import assign_owners
from riskwatch.assign.lifecycle import (
    ActionError,
    LedgerPolicy,
    act,
    empty_ledger,
    ledger_as_of,
    needs_owner,
    record_owners,
    run_ledger,
    stale_grades,
)
from riskwatch.config import load_settings
from riskwatch.schema import Grade

SETTINGS = load_settings()
STAFF = {m.id: m for m in SETTINGS.staff}
GRID = "339902001001001"
MON = pd.Timestamp("2026-11-02 04:00")


def graded(*rows: tuple[str, str, float, list[str]]) -> pd.DataFrame:
    return pd.DataFrame([{"item_key": k, "grade": g, "score": s, "sentence": f"{g} {s}", "signal_keys": sig}
                         for k, g, s, sig in rows], columns=["item_key", "grade", "score", "sentence", "signal_keys"])


class Ledger:
    """A ledger driven run by run as the jobs would, owners named by assign_owners."""

    def __init__(self) -> None:
        self.frame = empty_ledger()
        self.events: list[pd.DataFrame] = []

    def run(self, at: pd.Timestamp, *rows: tuple[str, str, float, list[str]]) -> pd.DataFrame:
        self.frame, ev = run_ledger(self.frame, graded(*rows), at)
        self.events.append(ev)
        want = needs_owner(self.frame).assign(region_code=GRID)
        load = self.frame.loc[self.frame["status"].isin(["assigned", "acknowledged", "in_progress"])] \
            .groupby("owner_id").size().to_dict()
        owners = assign_owners(want, SETTINGS.staff, SETTINGS.regions, load, at, SETTINGS.ledger.deadline_days)
        self.frame, ev2 = record_owners(self.frame, owners, at)
        self.events.append(ev2)
        return pd.concat([ev, ev2], ignore_index=True)

    def act(self, key: str, action: str, by: str, at: pd.Timestamp, note: str = "已处理", **kw: object) -> None:
        self.frame, ev = act(self.frame, key, action, by, at, note, **kw)  # type: ignore[arg-type]
        self.events.append(ev)

    def row(self, key: str) -> dict[str, object]:
        return self.frame.set_index("item_key").loc[key].to_dict()

    def all_events(self) -> pd.DataFrame:
        return pd.concat(self.events, ignore_index=True)


def test_red_is_confirmed_and_assigned_at_once_others_wait_for_review() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "red", 70, ["s1"]), ("person:2", "yellow", 35, ["s2"]))
    assert led.row("person:1")["status"] == "assigned"
    assert STAFF[led.row("person:1")["owner_id"]].role == "county_leader"
    assert led.row("person:1")["due_at"] == pd.Timestamp("2026-11-09")
    assert led.row("person:2")["status"] == "new" and pd.isna(led.row("person:2")["owner_id"])
    led.act("person:2", "confirm", "analyst", MON + pd.Timedelta(hours=3))
    led.run(MON + pd.Timedelta(days=1), ("person:2", "yellow", 35, ["s2"]))
    assert STAFF[led.row("person:2")["owner_id"]].role == "township_leader"


def test_the_same_run_twice_adds_nothing() -> None:
    led = Ledger()
    first = led.run(MON, ("person:1", "red", 70, ["s1"]))
    again = led.run(MON, ("person:1", "red", 70, ["s1"]))
    assert len(first) == 3 and again.empty   # opened, confirmed, assigned


def test_grades_rise_at_once_and_never_fall_on_their_own() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    led.act("person:1", "confirm", "analyst", MON)
    led.run(MON + pd.Timedelta(days=1), ("person:1", "blue", 10, ["s1"]))
    blue_owner = led.row("person:1")["owner_id"]
    ev = led.run(MON + pd.Timedelta(days=2), ("person:1", "yellow", 40, ["s1", "s2"]))
    assert ev["kind"].tolist()[:1] == ["graded_up"]
    assert led.row("person:1")["grade"] == "yellow"
    led.run(MON + pd.Timedelta(days=3), ("person:1", "blue", 5, ["s1"]))
    assert led.row("person:1")["grade"] == "yellow"
    assert blue_owner != led.row("person:1")["owner_id"]  # a yellow item goes to the township leader


def test_a_missed_deadline_is_renoticed_then_escalated_with_a_new_owner() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    led.act("person:1", "confirm", "analyst", MON)
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    due = led.row("person:1")["due_at"]
    worker = led.row("person:1")["owner_id"]
    led.act("person:1", "acknowledge", worker, MON + pd.Timedelta(hours=2))   # acknowledged, then nothing
    ev = led.run(due + pd.Timedelta(hours=1), ("person:1", "blue", 10, ["s1"]))
    assert ev["kind"].tolist() == ["renotified"]
    assert led.row("person:1")["due_at"] == due + pd.Timedelta(days=2)
    ev = led.run(due + pd.Timedelta(days=2, hours=1), ("person:1", "blue", 10, ["s1"]))
    assert ev["kind"].tolist() == ["escalated", "reassigned"]
    row = led.row("person:1")
    assert row["grade"] == "yellow" and STAFF[row["owner_id"]].role == "township_leader" and row["status"] == "assigned"


def test_a_resolved_item_that_signals_again_is_reopened_and_verification_is_not_the_owner_s() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "red", 70, ["s1"]))
    owner = led.row("person:1")["owner_id"]
    led.act("person:1", "resolve", owner, MON + pd.Timedelta(days=3), "签订协议，当事人满意")
    with pytest.raises(ActionError, match="other than the owner"):
        led.act("person:1", "verify", str(owner), MON + pd.Timedelta(days=4))
    led.act("person:1", "verify", "visitor", MON + pd.Timedelta(days=4), "回访满意")
    led.run(MON + pd.Timedelta(days=7), ("person:1", "red", 70, ["s1"]))       # no new evidence: stays verified
    assert led.row("person:1")["status"] == "verified"
    ev = led.run(MON + pd.Timedelta(days=60), ("person:1", "yellow", 40, ["s1", "s9"]))
    assert "reopened" in ev["kind"].tolist()
    row = led.row("person:1")
    assert row["status"] == "assigned" and row["owner_id"] == owner and row["grade"] == "red"
    # the deadline spent before the resolution does not count against the reopened item: a new one, no escalation
    assert not {"renotified", "escalated", "overdue"} & set(ev["kind"])
    assert row["due_at"] == (MON + pd.Timedelta(days=60)).normalize() + pd.Timedelta(days=7)


def test_an_override_holds_until_new_evidence_outweighs_it() -> None:
    led = Ledger()
    led.run(MON, ("group:G", "red", 65, ["s1"]))
    led.act("group:G", "override", "analyst", MON + pd.Timedelta(hours=1), "群体已签协议，降为黄色跟踪",
            grade=Grade.YELLOW)
    led.run(MON + pd.Timedelta(days=7), ("group:G", "red", 65, ["s1"]))
    assert led.row("group:G")["grade"] == "yellow"
    ev = led.run(MON + pd.Timedelta(days=14), ("group:G", "red", 80, ["s1", "s2"]))
    assert "override_lapsed" in ev["kind"].tolist() and led.row("group:G")["grade"] == "red"


def test_actions_are_checked() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "yellow", 35, ["s1"]))
    with pytest.raises(ActionError, match="cannot acknowledge an item that is new"):
        led.act("person:1", "acknowledge", "x", MON)
    with pytest.raises(ActionError, match="needs a note"):
        led.act("person:1", "confirm", "x", MON, note=" ")
    with pytest.raises(ActionError, match="no risk item"):
        led.act("person:9", "confirm", "x", MON)


def test_the_ledger_as_of_a_past_date() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    led.act("person:1", "confirm", "analyst", MON + pd.Timedelta(hours=1))
    led.run(MON + pd.Timedelta(days=1), ("person:1", "blue", 10, ["s1"]))
    led.run(MON + pd.Timedelta(days=8), ("person:1", "yellow", 40, ["s1", "s2"]))
    events = led.all_events()
    before = ledger_as_of(events, MON + pd.Timedelta(hours=2)).set_index("item_key").loc["person:1"]
    assert (before["grade"], before["status"]) == ("blue", "confirmed") and pd.isna(before["owner_id"])
    then = ledger_as_of(events, MON + pd.Timedelta(days=2)).set_index("item_key").loc["person:1"]
    assert then["status"] == "assigned" and STAFF[then["owner_id"]].role == "grid_worker"
    now = ledger_as_of(events, MON + pd.Timedelta(days=9)).set_index("item_key").loc["person:1"]
    assert now["grade"] == "yellow"


def test_every_open_item_has_exactly_one_current_owner() -> None:
    led = Ledger()
    rows = [(f"person:{i}", ["red", "yellow", "blue"][i % 3], 10.0 * i, [f"s{i}"]) for i in range(30)]
    led.run(MON, *rows)
    for key in led.frame["item_key"]:
        if led.row(key)["status"] == "new":
            led.act(key, "confirm", "analyst", MON)
    led.run(MON + pd.Timedelta(hours=1), *rows)
    assigned = led.frame[led.frame["status"] == "assigned"]
    assert len(assigned) == 30 and assigned["owner_id"].notna().all()
    assert LedgerPolicy().auto_confirm == frozenset({Grade.RED})


def test_a_hand_over_is_recorded_and_the_new_owner_acknowledges_afresh() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "red", 70, ["s1"]))
    first = led.row("person:1")["owner_id"]
    led.act("person:1", "acknowledge", str(first), MON + pd.Timedelta(hours=1))
    other = next(m.id for m in SETTINGS.staff if m.role == "county_leader" and m.id != first
                 and m.region == STAFF[str(first)].region)
    led.act("person:1", "hand_over", "analyst", MON + pd.Timedelta(days=1), "原包案领导调整分工", owner=other)
    row = led.row("person:1")
    assert row["owner_id"] == other and row["status"] == "assigned"
    with pytest.raises(ActionError, match="names a new owner"):
        led.act("person:1", "hand_over", "analyst", MON + pd.Timedelta(days=1), "again", owner=other)
    past = ledger_as_of(led.all_events(), MON + pd.Timedelta(hours=2)).set_index("item_key").loc["person:1"]
    assert past["owner_id"] == first and past["status"] == "acknowledged"


def test_who_may_act_is_checked_by_role() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "red", 70, ["s1"]), ("person:2", "blue", 10, ["s2"]))
    owner = str(led.row("person:1")["owner_id"])
    worker = next(m.id for m in SETTINGS.staff if m.role == "grid_worker")
    with pytest.raises(ActionError, match=r"may not confirm this item; analyst or county_leader may"):
        led.act("person:2", "confirm", worker, MON, role="grid_worker")
    led.act("person:2", "confirm", "A3399000", MON, role="analyst")
    other = next(m.id for m in SETTINGS.staff if m.role == "county_leader" and m.id != owner)
    with pytest.raises(ActionError, match="may not acknowledge"):
        led.act("person:1", "acknowledge", other, MON, role="county_leader")
    led.act("person:1", "acknowledge", owner, MON, role="county_leader")
    led.act("person:1", "resolve", "A3399000", MON + pd.Timedelta(days=2), "据包案领导电话报告已化解",
            role="analyst")
    with pytest.raises(ActionError, match="may not verify"):
        led.act("person:1", "verify", worker, MON + pd.Timedelta(days=3), role="grid_worker")
    led.act("person:1", "verify", other, MON + pd.Timedelta(days=3), "回访满意", role="county_leader")
    assert led.row("person:1")["status"] == "verified"


def test_an_override_to_another_grade_goes_to_the_owner_of_that_grade() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "red", 70, ["s1"]))
    led.act("person:1", "acknowledge", str(led.row("person:1")["owner_id"]), MON + pd.Timedelta(hours=1))
    led.act("person:1", "override", "A3399000", MON + pd.Timedelta(hours=2), "已达成和解，降为黄色", grade=Grade.YELLOW,
            role="analyst")
    assert led.row("person:1")["status"] == "confirmed"
    led.run(MON + pd.Timedelta(hours=3), ("person:1", "red", 70, ["s1"]))
    row = led.row("person:1")
    assert row["grade"] == "yellow" and row["status"] == "assigned"
    assert STAFF[str(row["owner_id"])].role == "township_leader"


def test_progress_reported_by_the_deadline_extends_it_and_silence_after_that_escalates() -> None:
    led = Ledger()
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    led.act("person:1", "confirm", "analyst", MON)
    led.run(MON, ("person:1", "blue", 10, ["s1"]))
    due, worker = led.row("person:1")["due_at"], str(led.row("person:1")["owner_id"])
    led.act("person:1", "acknowledge", worker, MON + pd.Timedelta(hours=2))
    led.act("person:1", "progress", worker, MON + pd.Timedelta(days=3), "已上门走访，协调单位处理")
    ev = led.run(due + pd.Timedelta(hours=1), ("person:1", "blue", 10, ["s1"]))
    assert ev["kind"].tolist() == ["extended"]
    row = led.row("person:1")
    assert row["grade"] == "blue" and row["status"] == "acknowledged" and row["due_at"] > due
    past = ledger_as_of(led.all_events(), due + pd.Timedelta(hours=2)).set_index("item_key").loc["person:1"]
    assert past["status"] == "acknowledged"
    # no progress reported since the extension: re-notified, then escalated
    later = row["due_at"]
    assert led.run(later + pd.Timedelta(hours=1), ("person:1", "blue", 10, ["s1"]))["kind"].tolist() == ["renotified"]
    ev = led.run(later + pd.Timedelta(days=2, hours=1), ("person:1", "blue", 10, ["s1"]))
    assert ev["kind"].tolist() == ["escalated", "reassigned"]


def test_a_grade_no_run_has_supported_for_four_weeks_is_proposed_for_review_and_lowered_by_override() -> None:
    led = Ledger()
    led.run(MON, ("person:P1", "red", 95.0, ["s1"]), ("person:P2", "yellow", 50.0, ["s2"]))
    weeks = [MON + pd.Timedelta(weeks=k) for k in range(1, 6)]
    for k, at in enumerate(weeks):
        # P1 keeps signalling, but only at yellow, then blue; P2 still earns its yellow every week
        led.run(at, ("person:P1", "yellow" if k < 2 else "blue", 50.0 if k < 2 else 20.0, [f"s1-{k}"]),
                ("person:P2", "yellow", 48.0, [f"s2-{k}"]))
        if k < 3:
            assert stale_grades(led.frame, at).empty, at
    review = stale_grades(led.frame, weeks[-1])
    assert review["item_key"].tolist() == ["person:P1"]   # supported last on MON, 5 weeks ago
    assert review.iloc[0]["grade"] == "red" and review.iloc[0]["proposed"] == "yellow"
    assert led.row("person:P1")["grade"] == "red"          # nothing falls on its own
    led.act("person:P1", "override", "A3399000", weeks[-1], "研判会：近四周证据仅为黄色", grade=Grade.YELLOW)
    assert led.row("person:P1")["grade"] == "yellow"
    assert stale_grades(led.frame, weeks[-1]).empty        # the override is what supports it now
    # the lowered grade holds against the same evidence and rises again when the evidence passes it
    led.run(weeks[-1] + pd.Timedelta(weeks=1), ("person:P1", "yellow", 50.0, ["s1-6"]))
    assert led.row("person:P1")["grade"] == "yellow"
    led.run(weeks[-1] + pd.Timedelta(weeks=2), ("person:P1", "red", 100.0, ["s1-7"]))
    assert led.row("person:P1")["grade"] == "red"


def test_an_escalation_for_a_missed_deadline_is_not_a_stale_grade() -> None:
    led = Ledger()
    led.run(MON, ("person:P1", "blue", 20.0, ["s1"]))
    led.act("person:P1", "confirm", "A3399000", MON, "确认")
    led.run(MON)
    for k in range(1, 6):
        led.run(MON + pd.Timedelta(weeks=k))
    assert led.row("person:P1")["grade"] == "red"  # blue -> yellow -> red, no progress ever reported
    assert stale_grades(led.frame, MON + pd.Timedelta(weeks=5)).empty


def test_a_lowered_grade_rises_again_with_new_evidence_above_it_but_not_with_the_old() -> None:
    led = Ledger()
    led.run(MON, ("person:P1", "red", 120.0, ["s1"]))
    led.act("person:P1", "override", "A3399000", MON + pd.Timedelta(days=28), "四周证据不足，降为黄色", grade=Grade.YELLOW)
    led.run(MON + pd.Timedelta(days=35), ("person:P1", "red", 95.0, ["s1"]))      # the same signal: holds
    assert led.row("person:P1")["grade"] == "yellow"
    led.run(MON + pd.Timedelta(days=42), ("person:P1", "yellow", 60.0, ["s1", "s2"]))  # new, not above: holds
    assert led.row("person:P1")["grade"] == "yellow"
    ev = led.run(MON + pd.Timedelta(days=49), ("person:P1", "red", 95.0, ["s1", "s2", "s3"]))
    assert "override_lapsed" in ev["kind"].tolist() and led.row("person:P1")["grade"] == "red"
