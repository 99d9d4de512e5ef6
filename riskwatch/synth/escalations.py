"""``truth/escalations.csv``: every escalation of the synthetic city and what the records showed before it.

An escalation *event* is a case that is

- a petition at the province or national level (``level >= 2``), or a group case (``group_id``) at the
  city level or above: what the grading benchmark counts as the city's escalations (``city_escalation``);
- or any case whose level is higher than every earlier case of its subject (``level_up``; a subject with
  no earlier case starts from the district, so a first case at the district is not one).

The *subject* is the group for a group case, else the case's true person (``truth/persons.csv``); the
matter is ``truth/cases.csv``'s ``matter_id``. ``prior_cases`` counts the subject's cases (any source,
any matter) received before, ``prior_cases_7d`` those received at least seven days before, and
``foreshadowed`` is ``prior_cases_7d > 0``: the records held something about the subject a week ahead. An
escalation without it (a first-ever petition straight to the province) is one no record foreshadowed.
``raised_later``: the level was raised after the case was first exported (``updates/`` shows it).
Levels are ranks: 0 district, 1 city, 2 province, 3 national.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ESCALATION_COLUMNS = ("source", "source_id", "received_at", "level", "prev_level", "subject_kind", "subject_id",
                      "matter_id", "city_escalation", "level_up", "raised_later", "prior_cases", "prior_cases_7d",
                      "prior_matter_cases", "first_case_at", "foreshadowed")
FORESHADOW_DAYS = 7


def matter_ids(matter: np.ndarray) -> np.ndarray:
    """``M0000123`` for matter index 123."""
    return np.array([f"M{int(m):07d}" for m in matter], dtype=object)


def escalation_events(cases: pd.DataFrame, person_ids: np.ndarray) -> pd.DataFrame:
    """One row per escalation event of ``cases`` (columns ``ESCALATION_COLUMNS``), in time order.

    ``cases`` needs ``source, source_id, received_at, level, group_id, person_id`` (index into
    ``person_ids``), ``matter`` and ``escalate_later``.
    """
    c = pd.DataFrame({
        "source": cases["source"].to_numpy(), "source_id": cases["source_id"].to_numpy(),
        "t": cases["received_at"].to_numpy().astype("datetime64[s]"), "level": cases["level"].to_numpy(np.int64),
        "group_id": cases["group_id"].to_numpy(), "matter": cases["matter"].to_numpy(np.int64),
        "raised_later": cases["escalate_later"].to_numpy(bool),
    })
    is_group = c["group_id"].to_numpy() != ""
    c["subject_kind"] = np.where(is_group, "group", "person")
    c["subject_id"] = np.where(is_group, c["group_id"], person_ids[cases["person_id"].to_numpy(np.int64)])
    c = c.sort_values(["subject_kind", "subject_id", "t", "source", "source_id"], kind="stable").reset_index(drop=True)
    subject = c["subject_kind"] + ":" + c["subject_id"]
    by = c.groupby(subject.to_numpy(), sort=False)
    prev = by["level"].cummax().groupby(subject.to_numpy(), sort=False).shift(1)
    c["prior_cases"] = by.cumcount()
    c["prior_matter_cases"] = c.groupby("matter", sort=False).cumcount()
    code = pd.factorize(subject)[0].astype(np.int64)
    secs = c["t"].to_numpy().astype(np.int64)
    key = code * (1 << 40) + (secs - secs.min() if len(secs) else secs)
    start = np.searchsorted(key, code * (1 << 40), side="left")
    week = np.searchsorted(key, key - FORESHADOW_DAYS * 86400, side="right")
    c["prior_cases_7d"] = np.maximum(week - start, 0)
    c["first_case_at"] = by["t"].transform("min")
    lv = c["level"].to_numpy()
    c["city_escalation"] = (lv >= 2) | ((c["subject_kind"] == "group").to_numpy() & (lv >= 1))
    c["level_up"] = lv > np.maximum(prev.fillna(0).to_numpy(), 0)
    c["foreshadowed"] = c["prior_cases_7d"] > 0
    c["prev_level"] = prev.astype("Int64")
    c["matter_id"] = matter_ids(c["matter"].to_numpy())
    ev = c[c["city_escalation"] | c["level_up"]].sort_values(["t", "source", "source_id"], kind="stable")
    ev = ev.assign(received_at=pd.Series(ev["t"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
                   first_case_at=pd.Series(ev["first_case_at"]).dt.strftime("%Y-%m-%d %H:%M:%S"))
    return ev[list(ESCALATION_COLUMNS)].reset_index(drop=True)
