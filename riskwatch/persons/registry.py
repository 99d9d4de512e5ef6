"""The person register across runs (pure): which records need resolving, person ids that last, decisions.

A run of ``riskwatch persons`` either re-resolves every record (full) or matches only the records that are
new or changed against the persons already known (incremental). What makes that possible:

- ``record_hash``: a digest of the fields resolution reads; a record whose digest changed (a corrected
  name or ID number) is resolved again, one whose digest is the same keeps its person.
- ``plan_records``: splits the records of now into known (kept) and to-resolve, and names the stored
  records that disappeared.
- ``assign_person_ids``: person ids that survive a full re-run. A cluster takes the person id most of
  its records had (the largest cluster first when two want the same id); otherwise ``new_person_id`` of
  its smallest record id, a digest, so a new person's id depends on its records, never on row order.
- ``constraints_from``: the analysts' merges and splits (``person_decisions``) as ``linkage.Constraints``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from riskwatch.schema import DECISION_KINDS as DECISION_KINDS
from riskwatch.schema import PERSON_ID as PERSON_ID
from riskwatch.schema import RECORD_ID as RECORD_ID
from riskwatch.schema import require_columns

if TYPE_CHECKING:  # clustering pulls in the feature tables (pypinyin): the store reads this module's constants
    from riskwatch.persons.clustering import Constraints

RECORD_HASH = "record_hash"
HASHED_FIELDS: tuple[str, ...] = ("name", "id_number", "phone", "address", "district")


def record_hash(records: pd.DataFrame) -> pd.Series:
    """A 32-character digest of ``HASHED_FIELDS`` per record (missing = empty), aligned on the index."""
    require_columns(records.columns, (RECORD_ID, *HASHED_FIELDS), "record_hash")
    parts = [records[f].astype(object).where(records[f].notna(), "").astype(str).to_numpy(dtype=object)
             for f in HASHED_FIELDS]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + "\x1f" + p
    return pd.Series([hashlib.blake2b(s.encode(), digest_size=16).hexdigest() for s in joined],
                     index=records.index, dtype=object)


def new_person_id(smallest_record_id: str) -> str:
    """``P`` and 10 hex digits of a digest of the cluster's smallest record id (collisions are handled by
    ``assign_person_ids``)."""
    return "P" + hashlib.blake2b(smallest_record_id.encode(), digest_size=5).hexdigest().upper()


def plan_records(records: pd.DataFrame, stored: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """(a boolean mask over ``records``: True where the record must be resolved, i.e. it is new or its
    ``record_hash`` changed; the stored record ids that are no longer among ``records``)."""
    require_columns(records.columns, (RECORD_ID, RECORD_HASH), "plan_records(records)")
    require_columns(stored.columns, (RECORD_ID, RECORD_HASH), "plan_records(stored)")
    old = stored.set_index(RECORD_ID)[RECORD_HASH]
    same = records[RECORD_ID].map(old).eq(records[RECORD_HASH])
    gone = sorted(set(stored[RECORD_ID]) - set(records[RECORD_ID]))
    return ~same, gone


def assign_person_ids(record_ids: Iterable[str], labels: Iterable[str], previous: pd.Series,
                      reserved: Iterable[str] = ()) -> np.ndarray:
    """Person id per record (aligned with ``record_ids``) for the clusters ``labels`` of a full run.

    ``previous`` maps record id -> the person id it had (may be empty). A cluster keeps the previous
    person id held by most of its records, when no larger cluster keeps it (ties: more records of that
    id, then the smaller label); other clusters get ``new_person_id(label)``, never one of ``reserved``
    (the persons an incremental run keeps).
    """
    frame = pd.DataFrame({RECORD_ID: list(record_ids), "label": list(labels)})
    frame["old"] = frame[RECORD_ID].map(previous)
    size = frame.groupby("label").size()
    votes = (frame.dropna(subset=["old"]).groupby(["label", "old"]).size().rename("n").reset_index())
    votes["size"] = votes["label"].map(size)
    votes = votes.sort_values(["n", "size", "label", "old"], ascending=[False, False, True, True])
    chosen: dict[str, str] = {}
    taken: set[str] = set(reserved)
    for label, old in zip(votes["label"], votes["old"], strict=True):
        if label in chosen or old in taken:
            continue
        chosen[label] = old
        taken.add(old)
    for label in sorted(set(frame["label"]) - set(chosen)):
        pid = new_person_id(label)
        salt = 0
        while pid in taken:   # a digest collision: salt until free (deterministic)
            salt += 1
            pid = new_person_id(f"{label}#{salt}")
        chosen[label] = pid
        taken.add(pid)
    return frame["label"].map(chosen).to_numpy(dtype=object)


def constraints_from(decisions: pd.DataFrame) -> Constraints:
    """``linkage.Constraints`` from decision rows ``kind, left, right`` (lists of record ids), oldest first:
    a merge must-links every record of both sides to the smallest of them; a split cannot-links the two
    sides. A later decision overrides an earlier one it contradicts (a split drops the merges' links
    across its sides; a merge drops the splits that separate its records)."""
    from riskwatch.persons.clustering import Constraints

    require_columns(decisions.columns, ("kind", "left", "right"), "constraints_from")
    must: list[tuple[str, str]] = []
    cannot: list[tuple[frozenset[str], frozenset[str]]] = []
    for kind, left, right in zip(decisions["kind"], decisions["left"], decisions["right"], strict=True):
        if kind not in DECISION_KINDS:
            raise ValueError(f"constraints_from: unknown decision kind {kind!r}")
        a, b = frozenset(left), frozenset(right)
        if kind == "merge":
            both = a | b
            cannot = [(x, y) for x, y in cannot if not (x & both and y & both)]
            anchor = min(both)
            must += [(anchor, r) for r in sorted(both) if r != anchor]
        else:
            must = [(x, y) for x, y in must if not ((x in a and y in b) or (x in b and y in a))]
            cannot.append((a, b))
    return Constraints(must_link=tuple(must), cannot_link=tuple(cannot))
