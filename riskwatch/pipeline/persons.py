"""Use case: persons — resolve every recorded party into a person, derive matters (repeat petitions)
and groups; analysts' merges and splits; one person's profile; and the standalone mode on one file.

Functions here take an open session and never commit; time is an argument (``now``, ``as_of``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.orm import Session

from riskwatch import calendar as cal
from riskwatch.config import Settings
from riskwatch.export import write_csv
from riskwatch.schema import UnreadableFileError
from riskwatch.store import load_cases

if TYPE_CHECKING:  # the persons core pulls in pypinyin, networkx and scipy: imported where it is used
    from riskwatch.persons.fellegi_sunter import Model
    from riskwatch.persons.profile import PersonProfile

log = logging.getLogger(__name__)

PERSON_CASE_COLUMNS = ("source", "source_id", "channel", "received_at", "closed_at", "category_code", "region_code",
                       "level", "is_group", "headcount", "status", "content", "summary")


@dataclass(frozen=True)
class PersonsSummary:
    """What ``run_persons`` did, and what the demo and the CLI show of it (all personal data masked).

    Mode ``unchanged``: nothing the result depends on changed since run ``run_id`` (finished at
    ``unchanged_since``), so nothing was done; the counts are that run's, the three frames empty."""

    run_id: int
    mode: str                 # "full" | "incremental" | "unchanged"
    records: int              # recorded parties in the store
    resolved: int             # records (re)resolved by this run: all in a full run, the new and changed ones else
    removed: int              # records no longer in the store, dropped from the register
    persons: int
    merged: int               # known persons merged into another by this run
    pairs: int
    repeats: int              # cases that repeat an earlier one of the same person and matter
    groups: int
    top_repeaters: pd.DataFrame   # person_id, name (masked), cases, repeats, matters, last_received
    largest_groups: pd.DataFrame  # groups.GROUP columns of the largest groups
    repeat_share: pd.DataFrame    # 重复信访占比 per month and district ("" = the city): period, region_code,
                                  # cases, repeats, share
    unchanged_since: datetime | None = None   # mode "unchanged": when the run that holds the result finished


def run_persons(session: Session, settings: Settings, now: datetime, full: bool = False) -> PersonsSummary:
    """Resolve every stored party into a person, then derive matters (repeat petitions) and groups.

    Incremental by default: records that are new or changed since the last run are matched against the
    persons already known with the stored model; ``full`` (or no earlier run) re-fits the model and
    re-resolves everything, keeping person ids where the records agree (``registry.assign_person_ids``).
    Analysts' merges and splits apply in both modes. Matters and groups are derived again in full and
    replace the stored ones.

    Nothing new: when every input of the last run is as it was (``persons_inputs``: the cases and their
    parties, decisions, register, settings, schema and code) the result would be the same, so the run
    stops there, writes nothing and returns mode ``unchanged``; ``full`` always runs.
    """
    from riskwatch.store import persons as store

    inputs = persons_inputs(session, settings)   # read first: a change after this makes the next run work
    last = store.load_latest_run(session, with_model=False)
    if not full and last is not None:
        changed = sorted(k for k in {*inputs, *last["inputs"]} if inputs.get(k) != last["inputs"].get(k))
        if not changed:
            repeats, groups = store.count_derived(session)
            return _unchanged_summary(last, repeats, groups)
        log.info("persons: changed since run %s: %s", last["id"], ", ".join(changed))
    # the core's imports (pypinyin's tables, networkx, scipy) only once there is work to do
    from riskwatch.persons import features as F
    from riskwatch.persons import linkage as L
    from riskwatch.persons import registry as R
    from riskwatch.persons.profile import display_name

    last = store.load_latest_run(session)
    opts = L.LinkageOptions(threshold=settings.persons.match_threshold)
    records = store.load_party_records(session)
    records[R.RECORD_HASH] = R.record_hash(records)
    stored = store.load_person_records(session)
    constraints = R.constraints_from(store.load_decisions(session))
    todo, gone = R.plan_records(records, stored)
    feats = F.party_features(records)
    known_model = _stored_model(last) if not full and len(stored) else None
    incremental = known_model is not None
    run_id = store.start_persons_run(session, now)
    merged: dict[str, str] = {}
    if known_model is None:
        res = L.resolve(feats, opts, constraints)
        previous = stored.set_index("record_id")["person_id"] if len(stored) else pd.Series(dtype=object)
        rows = records.assign(person_id=R.assign_person_ids(records["record_id"], res.labels, previous),
                              confidence=res.confidence, run_id=run_id)
        store.save_person_records(session, rows, replace_all=True)
        register = rows
        model, pairs, resolved = res.model.to_dict(), res.pairs, len(records)
    else:
        model, pairs, resolved = known_model.to_dict(), 0, int(todo.sum())
        if resolved:
            known = feats.loc[~todo.to_numpy()].assign(
                person_id=records.loc[~todo.to_numpy(), "record_id"].map(stored.set_index("record_id")["person_id"])
                .to_numpy())
            res = L.resolve_incremental(known, feats.loc[todo.to_numpy()], known_model, opts, constraints)
            existing = set(known["person_id"])
            fresh = sorted({lab for lab in res.labels if lab not in existing})
            new_ids = dict(zip(fresh, R.assign_person_ids(fresh, fresh, pd.Series(dtype=object), existing),
                               strict=True))
            rows = records.loc[todo.to_numpy()].assign(
                person_id=[new_ids.get(lab, lab) for lab in res.labels], confidence=res.confidence, run_id=run_id)
            merged, pairs = dict(res.merged), res.pairs
            store.relabel_persons(session, merged)
        else:
            rows = records.iloc[:0].assign(person_id=[], confidence=[], run_id=[])
        store.save_person_records(session, rows, remove=gone)
        kept = stored.loc[~stored["record_id"].isin({*gone, *rows["record_id"]})]
        register = pd.concat([kept.assign(person_id=kept["person_id"].replace(merged)), rows], ignore_index=True)
    repeats, counts, groups, share = _derive_matters_and_groups(session, settings, feats, register)
    info = store.PersonsRunInfo(mode="incremental" if incremental else "full", records=len(records),
                                new_records=resolved, persons=int(register["person_id"].nunique()), pairs=pairs,
                                merged=len(merged), model=model, started_at=now, finished_at=now,
                                inputs={**inputs, **store.load_persons_inputs(session, ("register",))})
    store.finish_persons_run(session, run_id, info)
    names = records[["record_id", "name"]].merge(register[["record_id", "person_id"]], on="record_id")
    top = counts.head(10).copy()
    top.insert(1, "name", [display_name(names.loc[names["person_id"] == p, "name"]) for p in top["person_id"]])
    return PersonsSummary(run_id=run_id, mode=info.mode, records=len(records), resolved=resolved, removed=len(gone),
                          persons=info.persons, merged=len(merged), pairs=pairs, repeats=int(repeats["is_repeat"].sum()),
                          groups=len(groups), top_repeaters=top, largest_groups=groups.head(10), repeat_share=share)


PERSONS_CODE = ("persons", "identity.py", "text.py", "store/persons.py", "pipeline/persons.py")  # the code a persons run's result depends on


def persons_inputs(session: Session, settings: Settings) -> dict[str, str]:
    """A digest of each input a persons run's result depends on: the store's (``store.persons.
    load_persons_inputs``: cases with their parties, decisions, register, schema), the settings it reads
    (``[persons]``, ``[group]``) and the code that derives it (``PERSONS_CODE``, and the version)."""
    from riskwatch import __version__
    from riskwatch.store import persons as store

    root = Path(__file__).parent.parent  # riskwatch/
    files = sorted(f for part in PERSONS_CODE for f in ((root / part).glob("*.py") if (root / part).is_dir()
                                                        else [root / part]))
    code = hashlib.blake2b(digest_size=16)
    for f in files:
        code.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    wanted = json.dumps({"persons": asdict(settings.persons), "group": asdict(settings.group)}, sort_keys=True,
                        default=str)
    return {**store.load_persons_inputs(session),
            "settings": hashlib.blake2b(wanted.encode(), digest_size=16).hexdigest(),
            "code": f"{__version__}:{code.hexdigest()}"}


def _unchanged_summary(last: dict[str, Any], repeats: int, groups: int) -> PersonsSummary:
    """The summary of a run that had nothing to do: the counts of the last run, which holds the result."""
    return PersonsSummary(run_id=int(last["id"]), mode="unchanged", records=int(last["records"]), resolved=0,
                          removed=0, persons=int(last["persons"]), merged=0, pairs=0, repeats=repeats,
                          groups=groups, top_repeaters=pd.DataFrame(), largest_groups=pd.DataFrame(),
                          repeat_share=pd.DataFrame(), unchanged_since=last["finished_at"])


def resolve_file(in_path: Path, out_path: Path, with_confidence: bool = False) -> tuple[int, int]:
    """The standalone mode: resolve the parties of ``in_path`` (``ingest.party_file``) into persons and
    write ``record_id,person_id`` (and ``confidence``) to ``out_path`` in input order; the person id is the
    smallest record id of the person, so it does not depend on row order. Returns (records, persons)."""
    from riskwatch.ingest.party_file import read_party_file
    from riskwatch.persons import features as F
    from riskwatch.persons import linkage as L

    parties = read_party_file(in_path)
    if parties.empty:
        raise UnreadableFileError(str(in_path), "no records below the header: nothing to resolve")
    res = L.resolve(F.party_features(parties))
    out = pd.DataFrame({"record_id": parties["record_id"], "person_id": res.labels})
    if with_confidence:
        out["confidence"] = pd.Series(res.confidence).round(4)
    write_csv(out, out_path)
    return len(out), int(out["person_id"].nunique())


def decide_persons(session: Session, kind: str, person: str, other: str | None, records: list[str] | None,
                   reason: str, created_by: str, now: datetime) -> str:
    """An analyst's decision, recorded and applied to the register at once: ``merge`` joins person
    ``other`` into ``person``; ``split`` takes ``records`` out of ``person`` as a person of their own. Later
    runs keep it (``registry.constraints_from``). Returns a one-line account."""
    from riskwatch.persons import registry as R
    from riskwatch.store import persons as store

    register = store.load_person_records(session)
    if register.empty:
        raise ValueError("no persons in the store yet: run `riskwatch persons` first")
    by_person = register.groupby("person_id")["record_id"].apply(list)
    if person not in by_person.index:
        raise ValueError(f"no person {person}")
    mine = by_person[person]
    if kind == "merge":
        if other is None or other not in by_person.index:
            raise ValueError(f"no person {other}")
        if other == person:
            raise ValueError("a person cannot be merged with itself")
        did = store.add_decision(session, "merge", mine, by_person[other], reason, created_by, now)
        store.relabel_persons(session, {other: person})
        return f"decision {did}: {other} ({len(by_person[other])} records) merged into {person}"
    chosen = sorted(set(records or ()))
    foreign = [r for r in chosen if r not in set(mine)]
    if foreign:
        raise ValueError(f"record(s) {', '.join(foreign[:5])} are not records of {person}")
    rest = sorted(set(mine) - set(chosen))
    if not chosen or not rest:
        raise ValueError(f"a split needs some but not all of the {len(mine)} records of {person}")
    did = store.add_decision(session, "split", chosen, rest, reason, created_by, now)
    new_id = str(R.assign_person_ids(chosen[:1], chosen[:1], pd.Series(dtype=object), by_person.index)[0])
    store.move_records(session, chosen, new_id)
    return f"decision {did}: {len(chosen)} records of {person} are now person {new_id}"


def person_profile(session: Session, settings: Settings, person_id: str, as_of: pd.Timestamp) -> PersonProfile:
    """The profile of one person (``persons.profile.PersonProfile``), personal data masked."""
    from riskwatch.persons.profile import person_profile as build
    from riskwatch.store import persons as store

    mine = store.load_person_records(session, person_id)
    if mine.empty:
        raise ValueError(f"no person {person_id}")
    parties = store.load_party_records(session, mine["source_id"].tolist())
    records = mine.merge(parties.drop(columns=["source", "source_id", "seq"]), on="record_id")
    keys = mine[["source", "source_id"]].drop_duplicates()
    ids = keys["source_id"].tolist()      # read this person's cases and matters only
    cases = load_cases(session, columns=PERSON_CASE_COLUMNS, source_ids=ids).merge(keys, on=["source", "source_id"])
    matters = store.load_matters(session, ids)
    groups, members, _ = store.load_groups(session)
    years = range(int(cases["received_at"].min().year) if len(cases) else as_of.year, as_of.year + 1)
    windows = cal.sensitive_windows(settings.periods, years)
    return build(person_id, records, cases, matters, members, groups, windows, as_of)


def _stored_model(last: dict[str, Any] | None) -> Model | None:
    """The last run's model, when there is one that fits the comparison fields of this version (a model
    stored before a field was added cannot score: the run is then a full one, which fits a new model)."""
    from riskwatch.persons.fellegi_sunter import Model

    if last is None or not last["model"]:
        return None
    try:
        return Model.from_dict(dict(last["model"]))
    except (ValueError, TypeError, KeyError):
        return None


def _derive_matters_and_groups(session: Session, settings: Settings, feats: pd.DataFrame, register: pd.DataFrame
                               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Matters and repeats of every case, then groups; stored (replacing the last run's). Returns
    (matters, per-person repeat counts, groups, the monthly repeat share per district and city)."""
    from riskwatch.persons import groups as G
    from riskwatch.persons import repeats as RP
    from riskwatch.store import persons as store

    cases = load_cases(session, columns=PERSON_CASE_COLUMNS)
    case_persons = register[["source", "source_id", "person_id"]].drop_duplicates()
    options = RP.RepeatOptions(text_threshold=settings.persons.repeat_text_similarity)
    matters = RP.find_matters(cases, case_persons, options)
    store.save_matters(session, matters)
    per_person, _ = RP.repeat_counts(matters.merge(cases, on=["source", "source_id"]), case_persons)
    keys = feats[["record_id", "phone_key", "address_key"]].merge(register[["record_id", "person_id"]], on="record_id")
    graph = G.build_graph(cases.merge(matters[["source", "source_id", "matter_id"]], on=["source", "source_id"]),
                          case_persons, keys[["person_id", "phone_key", "address_key"]],
                          joint_min_persons=settings.group.min_headcount)
    groups, members, group_cases = G.find_groups(graph, cases, case_persons, settings.persons.group_min_size,
                                                 min_households=settings.persons.group_min_households)
    _, previous, _ = store.load_groups(session)
    groups, members, group_cases = G.carry_group_ids(groups, members, group_cases, previous)
    store.save_groups(session, groups, members, group_cases)
    return matters, per_person, groups, RP.repeat_share(cases, matters, "M", 6)
