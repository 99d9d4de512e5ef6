"""The life of a risk item (pure): review, grade, owner, deadline, follow-up, resolution; every change an event.

States (``Status``)::

    new ──confirm──> confirmed ──(owner named)──> assigned ──acknowledge──> acknowledged ──progress──> in_progress
     │  └─monitor──> monitoring (watched, no owner; confirm later)                                       │
     └─discard──> discarded                          resolve (from assigned, acknowledged, in_progress) ──┘
                                                      │
                         resolved ──verify (not by the owner)──> verified;   resolved / verified ──reopen──> reopened

``run_ledger(ledger, graded, as_of, policy)`` applies one run's grades to the ledger (one row per item,
``LEDGER_COLUMNS``) and returns the new ledger and the events (``EVENT_COLUMNS``):

* a new subject opens an item (``opened``); grades in ``policy.auto_confirm`` are confirmed at once
  (``confirmed``), the others wait for the analyst's review (``act(..., "confirm")``);
* a grade rises with new evidence at once (``graded_up``, with the reasons); it never falls on its own: a
  lower computed grade leaves it as it is. An analyst's override (``act(..., "override")``) holds until the
  computed score passes the score it was made against, or a computed grade above it, or new evidence (signals
  the item had not seen) grades the item above the grade it was set to (``override_lapsed``);
* each run records whether its evidence still supports the grade held (``supported_at``, ``since_grade``);
  ``stale_grades`` lists the red and yellow items no run has supported for ``policy.review_after_days``, with
  the grade the evidence since would give: the Monday meeting's proposals to lower them by an override;
* a resolved or verified item whose subject signals again with evidence it had not seen is reopened
  (``reopened``): satisfied on paper, back within months, was not resolved;
* an item in progress at its deadline (its owner reported progress since the last one) gets
  ``policy.progress_days`` more and goes back to acknowledged, to report again (``extended``);
* any other open item past its deadline is first re-notified with ``policy.grace_days`` more (``renotified``),
  then escalated one grade (``escalated``: blue -> yellow -> red) to a new owner; a red item past its
  deadline is re-notified again (``overdue``), for the Monday meeting.

Owners are named by the caller (``assign.owners.assign_owners``) for the items ``needs_owner`` lists, and
recorded with ``record_owners`` (``assigned`` / ``reassigned``). ``act`` applies a person's action with its
checks. The clock is an argument; nothing is read from anywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd

from riskwatch.schema import GRADE_LABELS, GRADE_RANK, ITEM_KEY, Grade, RiskwatchError, require_columns


class Status(StrEnum):
    NEW = "new"                    # 待研判
    MONITORING = "monitoring"      # 观察
    DISCARDED = "discarded"        # 排除
    CONFIRMED = "confirmed"        # 已确认，待交办
    ASSIGNED = "assigned"          # 已交办
    ACKNOWLEDGED = "acknowledged"  # 已签收
    IN_PROGRESS = "in_progress"    # 化解中
    RESOLVED = "resolved"          # 已化解，待回访
    VERIFIED = "verified"          # 已回访核实
    REOPENED = "reopened"          # 重新打开


STATUS_LABELS = {Status.NEW: "待研判", Status.MONITORING: "观察", Status.DISCARDED: "排除",
                 Status.CONFIRMED: "待交办", Status.ASSIGNED: "已交办", Status.ACKNOWLEDGED: "已签收",
                 Status.IN_PROGRESS: "化解中", Status.RESOLVED: "已化解待回访", Status.VERIFIED: "已核实办结",
                 Status.REOPENED: "重新打开"}
OPEN_WORK = frozenset({Status.ASSIGNED, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.REOPENED})
CLOSED = frozenset({Status.RESOLVED, Status.VERIFIED, Status.DISCARDED})
ESCALATE = {Grade.BLUE: Grade.YELLOW, Grade.YELLOW: Grade.RED}

LEDGER_COLUMNS = (ITEM_KEY, "grade", "score", "status", "owner_id", "due_at", "renotified", "override_grade",
                  "override_score", "override_basis", "evidence", "opened_at", "updated_at", "supported_at",
                  "since_grade")
TIME_COLUMNS = ("due_at", "opened_at", "updated_at", "supported_at")
EVENT_COLUMNS = (ITEM_KEY, "at", "kind", "by", "grade", "owner_id", "due_at", "note")
SYSTEM = "riskwatch"

# action -> (statuses it may start from, status it leads to)
ACTIONS: dict[str, tuple[frozenset[Status], Status | None]] = {
    "confirm": (frozenset({Status.NEW, Status.MONITORING}), Status.CONFIRMED),
    "monitor": (frozenset({Status.NEW}), Status.MONITORING),
    "discard": (frozenset({Status.NEW, Status.MONITORING}), Status.DISCARDED),
    "acknowledge": (frozenset({Status.ASSIGNED, Status.REOPENED}), Status.ACKNOWLEDGED),
    "progress": (frozenset({Status.ASSIGNED, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.REOPENED}),
                 Status.IN_PROGRESS),
    "resolve": (frozenset({Status.ASSIGNED, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.REOPENED}),
                Status.RESOLVED),
    "verify": (frozenset({Status.RESOLVED}), Status.VERIFIED),
    "reopen": (frozenset({Status.RESOLVED, Status.VERIFIED, Status.DISCARDED}), Status.REOPENED),
    "override": (frozenset(Status), None),
    "hand_over": (frozenset(OPEN_WORK), Status.ASSIGNED),   # to another owner: they acknowledge afresh
}


# who may take an action, by role ("owner": the item's current owner); verification is never by the owner
REVIEWERS = frozenset({"analyst", "county_leader"})
WHO_MAY: dict[str, frozenset[str]] = {
    "confirm": REVIEWERS, "monitor": REVIEWERS, "discard": REVIEWERS, "override": REVIEWERS, "reopen": REVIEWERS,
    "acknowledge": frozenset({"owner"}),
    "progress": frozenset({"owner", "analyst"}),      # the duty office may record what an owner reported
    "resolve": frozenset({"owner", "analyst"}),
    "verify": frozenset({"analyst", "county_leader", "township_leader"}),
    "hand_over": frozenset({"owner", "analyst", "county_leader"}),
}


# the status a run's own events leave an item in (a person's actions: ``ACTIONS``)
SYSTEM_EVENT_STATUS = {"opened": Status.NEW, "confirmed": Status.CONFIRMED, "assigned": Status.ASSIGNED,
                       "reassigned": Status.ASSIGNED, "reopened": Status.REOPENED, "escalated": Status.CONFIRMED,
                       "extended": Status.ACKNOWLEDGED}


class ActionError(RiskwatchError):
    """An action that the item's state or the rules do not allow; says which and why."""


@dataclass(frozen=True)
class LedgerPolicy:
    auto_confirm: frozenset[Grade] = frozenset({Grade.RED})  # grades confirmed without waiting for review
    grace_days: int = 2                                     # after a missed deadline, before escalating
    progress_days: int = 7                                  # an item in progress at its deadline gets this long
    review_after_days: int = 28                             # a grade no run has supported this long: review it


def empty_ledger() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in TIME_COLUMNS
                                      else object) for c in LEDGER_COLUMNS})


def run_ledger(ledger: pd.DataFrame, graded: pd.DataFrame, as_of: pd.Timestamp, policy: LedgerPolicy = LedgerPolicy()
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply one run's grades (``item_key, score, grade, sentence, signal_keys``) to the ledger; see the module
    docstring. Idempotent: the same run applied twice adds no event the second time."""
    require_columns(graded.columns, (ITEM_KEY, "score", "grade", "sentence", "signal_keys"), "run_ledger")
    as_of = pd.Timestamp(as_of)
    rows = {str(r[ITEM_KEY]): dict(r) for r in ledger.to_dict("records")}
    events: list[dict[str, Any]] = []

    def event(key: str, kind: str, note: str, by: str = SYSTEM) -> None:
        row = rows[key]
        events.append({ITEM_KEY: key, "at": as_of, "kind": kind, "by": by, "grade": row["grade"],
                       "owner_id": row["owner_id"], "due_at": row["due_at"], "note": note})

    for g in graded.sort_values(ITEM_KEY).to_dict("records"):
        key, grade, score = str(g[ITEM_KEY]), Grade(g["grade"]), float(g["score"])
        seen = set(g["signal_keys"])
        row = rows.get(key)
        if row is None:
            rows[key] = {ITEM_KEY: key, "grade": grade.value, "score": score, "status": Status.NEW.value,
                         "owner_id": None, "due_at": pd.NaT, "renotified": False, "override_grade": None,
                         "override_score": None, "override_basis": None, "evidence": sorted(seen),
                         "opened_at": as_of, "updated_at": as_of, "supported_at": as_of, "since_grade": None}
            event(key, "opened", g["sentence"])
            if grade in policy.auto_confirm:
                rows[key]["status"] = Status.CONFIRMED.value
                event(key, "confirmed", f"{GRADE_LABELS[grade]}事项自动确认")
            continue
        new_evidence = sorted(seen - set(row["evidence"] or []))
        row["evidence"] = sorted(set(row["evidence"] or []) | seen)
        status = Status(row["status"])
        if status in CLOSED and new_evidence:
            # the old deadline is spent: the owner gets a new one when the item is handed back (record_owners)
            row.update(status=Status.REOPENED.value, owner_id=row["owner_id"], updated_at=as_of, due_at=pd.NaT,
                       renotified=False)
            event(key, "reopened", "出现新的预警信号：" + "、".join(new_evidence[:5]))
        _regrade(row, grade, score, g["sentence"], as_of, event, policy, bool(new_evidence))
        _support(row, grade, as_of)
    for key in sorted(rows):
        _follow_deadline(rows[key], as_of, policy, event)
    out = pd.DataFrame(list(rows.values()), columns=list(LEDGER_COLUMNS)) if rows else empty_ledger()
    return out.sort_values(ITEM_KEY).reset_index(drop=True), pd.DataFrame(events, columns=list(EVENT_COLUMNS))


def _regrade(row: dict[str, Any], grade: Grade, score: float, sentence: str, as_of: pd.Timestamp, event: Any,
             policy: LedgerPolicy, new_evidence: bool = False) -> None:
    """Raise the grade with new evidence; an override holds until the evidence passes what it was made
    against (a higher score, or a higher computed grade than then), or new evidence grades the item above the
    grade it was set to."""
    if isinstance(row["override_grade"], str) and row["override_grade"]:
        rank = GRADE_RANK[grade]
        lapses = (score > float(row["override_score"]) or rank > GRADE_RANK[Grade(row["override_basis"])]
                  or (new_evidence and rank > GRADE_RANK[Grade(row["override_grade"])]))
        if not lapses:
            return
        row.update(override_grade=None, override_score=None, override_basis=None, grade=grade.value, score=score,
                   updated_at=as_of)
        event(row[ITEM_KEY], "override_lapsed", f"新证据超过人工调整时的依据：{sentence}")
        _needs_new_owner(row, grade, as_of, event, policy)
        return
    if GRADE_RANK[grade] > GRADE_RANK[Grade(row["grade"])]:
        row.update(grade=grade.value, score=score, updated_at=as_of, renotified=False)
        event(row[ITEM_KEY], "graded_up", sentence)
        _needs_new_owner(row, grade, as_of, event, policy)
    elif score > float(row["score"] or 0):
        row["score"] = score


def _support(row: dict[str, Any], computed: Grade, as_of: pd.Timestamp) -> None:
    """Record whether this run's evidence still supports the grade held: ``supported_at`` is the last run that
    did (computed grade at or above the held one), ``since_grade`` the highest grade computed since then."""
    if GRADE_RANK[computed] >= GRADE_RANK[Grade(row["grade"])]:
        row.update(supported_at=as_of, since_grade=None)
    elif not isinstance(row["since_grade"], str) or GRADE_RANK[computed] > GRADE_RANK[Grade(row["since_grade"])]:
        row["since_grade"] = computed.value


def stale_grades(ledger: pd.DataFrame, as_of: pd.Timestamp, policy: LedgerPolicy = LedgerPolicy()) -> pd.DataFrame:
    """Open red and yellow items whose grade no run has supported for ``policy.review_after_days``: the Monday
    meeting's proposals to lower them (``item_key, grade, proposed, supported_at``; ``proposed`` the highest
    grade computed since, blue if none). Grades never fall on their own: an analyst lowers one with an
    override, which holds until the evidence passes it again."""
    cut = pd.Timestamp(as_of) - pd.Timedelta(days=policy.review_after_days)
    open_ = ~ledger["status"].isin([s.value for s in CLOSED])
    raised = ledger["grade"].isin([Grade.RED.value, Grade.YELLOW.value])
    supported = pd.to_datetime(ledger["supported_at"]).fillna(pd.to_datetime(ledger["opened_at"]))
    stale = ledger[open_ & raised & (supported <= cut).to_numpy()]
    proposed = [s if isinstance(s, str) and GRADE_RANK[Grade(s)] < GRADE_RANK[Grade(g)] else Grade.BLUE.value
                for s, g in zip(stale["since_grade"], stale["grade"], strict=True)]
    out = pd.DataFrame({ITEM_KEY: stale[ITEM_KEY].to_numpy(), "grade": stale["grade"].to_numpy(),
                        "proposed": proposed, "supported_at": pd.to_datetime(stale["supported_at"]).to_numpy()})
    return out.sort_values(ITEM_KEY).reset_index(drop=True)


def _needs_new_owner(row: dict[str, Any], grade: Grade, as_of: pd.Timestamp, event: Any, policy: LedgerPolicy) -> None:
    """A grade that changed hands: an owned item goes back to be assigned (to the owner of the new grade); an
    item waiting for review that reached an auto-confirmed grade is confirmed."""
    status = Status(row["status"])
    if status in OPEN_WORK:
        row["status"] = Status.CONFIRMED.value
    elif status in (Status.NEW, Status.MONITORING) and grade in policy.auto_confirm:
        row["status"] = Status.CONFIRMED.value
        event(row[ITEM_KEY], "confirmed", f"{GRADE_LABELS[grade]}事项自动确认")


def _follow_deadline(row: dict[str, Any], as_of: pd.Timestamp, policy: LedgerPolicy, event: Any) -> None:
    """At the deadline: an item whose owner reported progress since the last deadline gets
    ``policy.progress_days`` more and must report again (back to acknowledged); one without progress is
    re-notified, then escalated."""
    if Status(row["status"]) not in OPEN_WORK or pd.isna(row["due_at"]) or as_of < row["due_at"]:
        return
    grade = Grade(row["grade"])
    if Status(row["status"]) == Status.IN_PROGRESS:
        row.update(status=Status.ACKNOWLEDGED.value, renotified=False, updated_at=as_of,
                   due_at=as_of.normalize() + pd.Timedelta(days=policy.progress_days))
        event(row[ITEM_KEY], "extended", f"化解中，期限延长 {policy.progress_days} 天，届时须再报进展")
    elif not row["renotified"]:
        row.update(renotified=True, due_at=row["due_at"] + pd.Timedelta(days=policy.grace_days), updated_at=as_of)
        event(row[ITEM_KEY], "renotified", f"已过期限仍未化解，再次提醒，宽限 {policy.grace_days} 天")
    elif grade in ESCALATE:
        # the missed deadline is what supports the higher grade: not a stale grade to review
        row.update(grade=ESCALATE[grade].value, status=Status.CONFIRMED.value, renotified=False, updated_at=as_of,
                   supported_at=as_of, since_grade=None)
        event(row[ITEM_KEY], "escalated", f"宽限期满仍未化解：{GRADE_LABELS[grade]}升为{GRADE_LABELS[ESCALATE[grade]]}，"
                                          "另行交办")
    else:
        row.update(due_at=row["due_at"] + pd.Timedelta(days=policy.grace_days), updated_at=as_of)
        event(row[ITEM_KEY], "overdue", "红色事项逾期未化解，提交周研判会")


def needs_owner(ledger: pd.DataFrame) -> pd.DataFrame:
    """Items waiting for an owner: confirmed (new, or escalated to a grade their owner does not hold), or
    reopened; ``item_key, grade, owner_id`` (the current owner, who keeps it if they still fit)."""
    wanted = ledger["status"].isin([Status.CONFIRMED.value, Status.REOPENED.value])
    return ledger.loc[wanted, [ITEM_KEY, "grade", "owner_id"]].reset_index(drop=True)


def record_owners(ledger: pd.DataFrame, assigned: pd.DataFrame, as_of: pd.Timestamp
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``assign_owners``' result (``item_key, owner_id, due_at, assign_reason``) into the ledger: the
    items become ``assigned`` (a reopened item keeps its owner and gets a new deadline)."""
    rows = {str(r[ITEM_KEY]): dict(r) for r in ledger.to_dict("records")}
    events = []
    for a in assigned.sort_values(ITEM_KEY).to_dict("records"):
        row = rows[str(a[ITEM_KEY])]
        if a["owner_id"] is None or a["owner_id"] != a["owner_id"]:
            continue
        kind = "assigned" if pd.isna(row["owner_id"]) or row["owner_id"] == a["owner_id"] else "reassigned"
        due = a["due_at"] if not pd.isna(a["due_at"]) else row["due_at"]
        if pd.isna(due):
            due = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=7)
        row.update(owner_id=a["owner_id"], due_at=due, status=Status.ASSIGNED.value, updated_at=pd.Timestamp(as_of))
        events.append({ITEM_KEY: row[ITEM_KEY], "at": pd.Timestamp(as_of), "kind": kind, "by": SYSTEM,
                       "grade": row["grade"], "owner_id": row["owner_id"], "due_at": due, "note": a["assign_reason"]})
    out = pd.DataFrame(list(rows.values()), columns=list(LEDGER_COLUMNS))
    return out.sort_values(ITEM_KEY).reset_index(drop=True), pd.DataFrame(events, columns=list(EVENT_COLUMNS))


def act(ledger: pd.DataFrame, key: str, action: str, by: str, at: pd.Timestamp, note: str,
        grade: Grade | None = None, owner: str | None = None, role: str | None = None
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A person's action on one item (``ACTIONS``), checked: the state must allow it, a note is required,
    the person's ``role`` (their staff role; None: not checked) must be one ``WHO_MAY`` lists (or they own the
    item where the owner may), verification is by someone other than the owner, an override names a grade
    (an owned item whose grade it changes goes back to be assigned to the owner of that grade), a hand-over
    names the new owner (the caller checks that they exist)."""
    if action not in ACTIONS:
        raise ActionError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if not note.strip():
        raise ActionError(f"{key}: {action} needs a note (what was done, by whom, why)")
    match = ledger.index[ledger[ITEM_KEY] == key]
    if len(match) != 1:
        raise ActionError(f"no risk item {key!r}")
    i = match[0]
    row = ledger.loc[i].to_dict()
    allowed, target = ACTIONS[action]
    status = Status(row["status"])
    if status not in allowed:
        raise ActionError(f"{key}: cannot {action} an item that is {status.value} ({STATUS_LABELS[status]})")
    if action == "verify" and by == row["owner_id"]:
        raise ActionError(f"{key}: verification (回访) is by someone other than the owner {by}")
    may = WHO_MAY[action]
    if role is not None and role not in may and not ("owner" in may and by == row["owner_id"]):
        who = " or ".join(sorted("the item's owner" if r == "owner" else r for r in may))
        raise ActionError(f"{key}: {by} ({role}) may not {action} this item; {who} may")
    out = ledger.copy()
    if action == "hand_over":
        if not owner or owner == row["owner_id"]:
            raise ActionError(f"{key}: a hand-over names a new owner (now {row['owner_id']})")
        out.loc[i, ["owner_id", "status", "renotified"]] = [owner, Status.ASSIGNED.value, False]
    elif action == "override":
        if grade is None:
            raise ActionError(f"{key}: override needs a grade")
        basis = row["override_basis"] if isinstance(row["override_basis"], str) else row["grade"]
        out.loc[i, ["grade", "override_grade", "override_score", "override_basis", "supported_at", "since_grade"]] = [
            grade.value, grade.value, row["score"], basis, pd.Timestamp(at), None]
        if grade.value != row["grade"] and status in OPEN_WORK:
            out.loc[i, ["status", "renotified"]] = [Status.CONFIRMED.value, False]
    else:
        out.loc[i, "status"] = target.value if target is not None else row["status"]
    out.loc[i, "updated_at"] = pd.Timestamp(at)
    new = out.loc[i]
    ev = pd.DataFrame([{ITEM_KEY: key, "at": pd.Timestamp(at), "kind": action, "by": by, "grade": new["grade"],
                        "owner_id": new["owner_id"], "due_at": new["due_at"], "note": note}], columns=list(EVENT_COLUMNS))
    return out, ev


def ledger_as_of(events: pd.DataFrame, at: pd.Timestamp, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Each item's grade, owner, deadline and status as they stood at ``at``, replayed from the append-only
    events: ``item_key, grade, owner_id, due_at, status, last_event``."""
    ev = events[pd.to_datetime(events["at"]) <= pd.Timestamp(at)]
    if keys is not None:
        ev = ev[ev[ITEM_KEY].isin(keys)]
    status_of = {**{action: target for action, (_, target) in ACTIONS.items() if target is not None},
                 **SYSTEM_EVENT_STATUS}
    rows = []
    for key, e in ev.sort_values(["at"], kind="stable").groupby(ITEM_KEY, sort=True):
        status = None
        for kind in e["kind"]:
            status = status_of.get(kind, status)
        last = e.iloc[-1]
        rows.append({ITEM_KEY: key, "grade": last["grade"], "owner_id": last["owner_id"], "due_at": last["due_at"],
                     "status": status.value if status else None, "last_event": last["kind"]})
    return pd.DataFrame(rows, columns=[ITEM_KEY, "grade", "owner_id", "due_at", "status", "last_event"])
