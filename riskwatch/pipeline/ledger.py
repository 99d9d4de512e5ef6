"""Use case: the risk ledger run and a person's action on an item — load, call the core, save."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import assign
from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.deadlines import DUE, DUE_NEEDED
from riskwatch.grade import grade_items
from riskwatch.grade.items import CASE_NEEDED, ItemInputs, ItemOptions, build_items
from riskwatch.pipeline.cases import cases_with_due
from riskwatch.schema import DUE_AT, ITEM_KEY, Grade, RegionLevel, RiskwatchError
from riskwatch.store import detect as detect_store
from riskwatch.store import ledger as store
from riskwatch.store import persons as persons_store

#: What the run reads of each case: what ``build_items`` needs and what its deadline is computed from.
LEDGER_CASE_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys([*CASE_NEEDED, *DUE_NEEDED]))


class LedgerError(RiskwatchError):
    """A ledger run that cannot be done as asked (no detect run, an as-of before the last run)."""


@dataclass(frozen=True)
class LedgerSummary:
    as_of: datetime
    detect_as_of: datetime | None
    signals: int
    items: pd.DataFrame   # the ledger after the run (assign.ITEM_COLUMNS)
    events: pd.DataFrame  # this run's events


def run_ledger(session: Session, settings: Settings, as_of: datetime) -> LedgerSummary:
    """Grade the open signals of the latest weekly detect run at ``as_of`` into the ledger: new items,
    grades raised, deadlines followed, owners named (``assign``); idempotent for one ``as_of``."""
    last = store.latest_run(session)
    if last is not None and pd.Timestamp(as_of) < pd.Timestamp(last["as_of"]):
        raise LedgerError(f"the ledger was last run as of {last['as_of']:%Y-%m-%d %H:%M}; a run as of an earlier "
                          f"time would rewrite history (riskwatch items list --as-of shows the past)")
    rules = settings.grading
    if rules is None:
        raise LedgerError("no grading rules (config/grading.toml)")
    started = datetime.now()
    run, states = detect_store.load_states(session, "W", period_before=as_of)
    if run is None:
        raise LedgerError("no weekly detect run before this date: run riskwatch detect first")
    signals = states[(states["status"] != "closed") & (states["silenced"] == "")].reset_index(drop=True)
    stamp = pd.Timestamp(as_of)
    items, features = build_items(_inputs(session, settings, signals, stamp, rules.history_days), stamp,
                                  _options(settings, stamp))
    graded = grade_items(features, rules).merge(items, on=ITEM_KEY)
    after, events = assign.ledger_step(store.load_items(session), graded, stamp, settings.staff, settings.regions,
                                       settings.ledger.deadline_days)
    store.save_items(session, after)
    store.append_events(session, events)
    store.save_run(session, stamp.to_pydatetime(), int(run["id"]), len(after), len(events), started, datetime.now())
    return LedgerSummary(stamp.to_pydatetime(), run["as_of"], len(signals), after, events)


def act_on_item(session: Session, settings: Settings, key: str, action: str, by: str, note: str, at: datetime,
                grade: str | None = None, owner: str | None = None) -> pd.DataFrame:
    """A person's action on one item (``assign.act``: confirm, acknowledge, progress, resolve, verify, a
    hand-over to ``owner``, ...) by the staff member ``by``, checked against their role, saved with its event;
    an override that moves an owned item to another grade names the owner of that grade at once. Returns the
    events."""
    staff = {m.id: m for m in settings.staff}
    if by not in staff:
        raise assign.ActionError(f"{key}: --by {by!r} is not a staff id in staff.toml (analysts, leaders and grid "
                                 "workers are listed there)")
    items = store.load_items(session, [key])
    if items.empty:
        raise assign.ActionError(f"no risk item {key!r} (riskwatch items list)")
    if owner is not None and owner not in staff:
        raise assign.ActionError(f"{key}: no staff member {owner!r} in staff.toml")
    stamp = pd.Timestamp(at)
    ledger, events = assign.act(items[list(assign.LEDGER_COLUMNS)], key, action, by, stamp, note,
                                Grade(grade) if grade else None, owner, role=staff[by].role)
    if action == "override" and ledger["status"].iloc[0] == assign.Status.CONFIRMED.value and \
            items["status"].iloc[0] != assign.Status.CONFIRMED.value:
        ledger, owned = assign.name_owners(ledger, items, assign.open_load(store.load_items(session)), stamp,
                                           settings.staff, settings.regions, settings.ledger.deadline_days)
        events = pd.concat([events, owned], ignore_index=True)
    store.save_items(session, ledger.merge(items[[ITEM_KEY, *assign.INFO_COLUMNS]], on=ITEM_KEY))
    store.append_events(session, events)
    return events


def _inputs(session: Session, settings: Settings, signals: pd.DataFrame, as_of: pd.Timestamp,
            history_days: int) -> ItemInputs:
    start = as_of - pd.Timedelta(days=history_days + 1)
    cases = cases_with_due(session, settings, start=start.to_pydatetime(),
                           end=(as_of + pd.Timedelta(days=1)).to_pydatetime(), columns=LEDGER_CASE_COLUMNS,
                           as_of=as_of)
    cases[DUE_AT] = cases[DUE]   # the effective deadline, what build_items reads as the case's due date
    records = persons_store.load_person_records(session)
    case_persons = records[["source", "source_id", "person_id"]].drop_duplicates()
    _, members, group_cases = persons_store.load_groups(session)
    return ItemInputs(signals, cases, case_persons, members, group_cases)


def _options(settings: Settings, as_of: pd.Timestamp) -> ItemOptions:
    rules = settings.grading
    assert rules is not None
    towns = {code: settings.regions.ancestor_at(code, RegionLevel.TOWNSHIP) or code for code in settings.regions.regions}
    return ItemOptions(history_days=rules.history_days, recent_days=rules.recent_days,
                       sensitive_categories=rules.sensitive_categories,
                       days_to_sensitive=days_to_sensitive(settings, as_of), township_of=towns)


def days_to_sensitive(settings: Settings, as_of: pd.Timestamp) -> float | None:
    """Days from ``as_of`` to the start of the next sensitive window (0 inside one), or None if none is
    configured within a year."""
    windows = cal.sensitive_windows(settings.periods, [as_of.year, as_of.year + 1])
    day = as_of.normalize()
    inside = windows[(windows["start"] <= day) & (windows["end"] >= day)]
    if len(inside):
        return 0.0
    ahead = windows[windows["start"] > day]
    if ahead.empty:
        return None
    return float((ahead["start"].min() - day).days)


def write_lists(session: Session, settings: Settings, folder: Path, as_of: datetime) -> list[Path]:
    """The case-assignment lists (领导包案清单) of the ledger as it stands, per county leader and per township,
    as XLSX and CSV under ``folder``; names masked."""
    from riskwatch.persons.profile import display_name
    from riskwatch.report.assignment_lists import assignment_lists, write_assignment_lists

    items = store.load_items(session)
    events = store.load_events(session)
    persons = items.loc[items["subject_kind"] == "person", "subject_id"].tolist()
    names = persons_store.load_person_names(session, persons)
    masked = {p: display_name(g["name"]) for p, g in names.groupby("person_id")}
    lists = assignment_lists(items, events, settings.staff, settings.taxonomy, settings.regions, masked,
                             pd.Timestamp(as_of))
    return write_assignment_lists(lists, folder)


def item_story(session: Session, key: str) -> dict[str, Any]:
    """One item with its history, for ``riskwatch items show``."""
    items = store.load_items(session, [key])
    if items.empty:
        raise assign.ActionError(f"no risk item {key!r} (riskwatch items list)")
    return {"item": items.iloc[0].to_dict(), "events": store.load_events(session, key)}
