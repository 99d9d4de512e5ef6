"""Constrained clustering of scored pairs into persons (pure).

Links above the threshold, strongest first, join records with a union-find that refuses to join two
clusters holding different valid ID numbers, or the two sides of an analyst's split
(``Constraints.cannot_link``); an analyst's ``must_link`` pairs are joined first. A pair that agrees on
the name (and district) alone, or whose full names differ outright without a shared ID, is never a link
(``never_linked``). Labels are the smallest record id of each cluster, so the result does not depend on
row order.

A cluster also never joins another whose full names are all unlike its own (no pair the same, homophones
or similar), unless they hold the same valid ID number (``NameRule``): the pairwise rule keeps 王建国 and
王小明 apart, but a caller who gave only 王先生 on the family phone links to both, and without this the
chain would make father and son one person. Anonymous and surname-only records carry no name.

Speed: the sequential union-find runs only on the connected components of links where a constraint could
refuse a union (two valid ID numbers, an analyst's split, two different full names): elsewhere its result
is the connected component itself.

``cluster`` does it all for scored pairs; ``make_links``, ``link_records`` and ``smallest_record_ids`` are
its steps, for ``linkage`` to run on encoded records (with the known persons of an incremental run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from riskwatch.persons.encoding import factorize, unique_pairs


@dataclass(frozen=True)
class Constraints:
    """Analysts' decisions, in record ids: must_link pairs are joined first, whatever the scores;
    cannot_link pairs of record sets: no person may hold records of both sides (a manual split)."""
    must_link: tuple[tuple[str, str], ...] = ()
    cannot_link: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()


class ConstraintConflict(ValueError):
    """A must_link pair joins the two sides of a cannot_link (the analysts' decisions contradict)."""

    def __init__(self, must_link: tuple[str, str], cannot_link: int) -> None:
        self.must_link = must_link
        self.cannot_link = cannot_link
        super().__init__(f"must_link {must_link} joins both sides of cannot_link #{cannot_link}")


NO_CONSTRAINTS = Constraints()   # no analysts' decisions (the default)


@dataclass(frozen=True)
class NameRule:
    """The full name of each record as a code (-1: not a full name) and whether two codes can name one
    person (the same, homophones or similar): a cluster never joins one whose names are all unlike its own."""

    code: np.ndarray
    compatible: Callable[[int, int], bool] = field(compare=False)


def never_linked(gamma: pd.DataFrame) -> np.ndarray:
    """Pairs that are never a link, whatever their score:

    - the only agreement is the name (and district, or a partly shared address: the same 街道 and 社区
      are not the same home): a common name, or 王先生, is not a person;
    - two full names that differ (not the same, not homophones, not similar) without the same ID body:
      a household shares a phone and an address, and those fields are not independent given the match
      status, so Fellegi–Sunter would add their evidence twice and join father and son.
    """
    level = {f: gamma[f].to_numpy() for f in ("id", "phone", "name", "address")}
    strong = np.isin(level["id"], [0, 1, 2]) | (level["phone"] == 0) | (level["address"] == 0)
    other_person = (level["name"] == 3) & ~np.isin(level["id"], [0, 1])
    return np.asarray(~strong | other_person, dtype=bool)


@dataclass(frozen=True)
class Links:
    """What the union-find works on, by record position: accepted links, must-link pairs, the cannot-link
    sides of records, and an initial grouping (the known persons of an incremental run, -1 elsewhere)."""

    left: np.ndarray
    right: np.ndarray
    prob: np.ndarray
    must_a: np.ndarray
    must_b: np.ndarray
    must_ids: list[tuple[str, str]]
    sides: dict[int, set[tuple[int, int]]]    # position -> {(cannot_link index, side 0 / 1)}
    initial: np.ndarray


def _constraint_positions(record_ids: np.ndarray, constraints: Constraints
                          ) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]], dict[int, set[tuple[int, int]]]]:
    """Positions of the must-link pairs (both records present) and the cannot-link sides of each record;
    record ids not among ``record_ids`` are ignored."""
    where = {r: i for i, r in enumerate(record_ids.tolist())} if (constraints.must_link or
                                                                   constraints.cannot_link) else {}
    ma, mb, ids = [], [], []
    for x, y in constraints.must_link:
        if x in where and y in where:
            ma.append(where[x])
            mb.append(where[y])
            ids.append((x, y))
    sides: dict[int, set[tuple[int, int]]] = {}
    for k, pair in enumerate(constraints.cannot_link):
        for side, records in enumerate(pair):
            for r in records:
                if r in where:
                    sides.setdefault(where[r], set()).add((k, side))
    return np.asarray(ma, dtype=np.int64), np.asarray(mb, dtype=np.int64), ids, sides


def _components(n: int, links: Links) -> np.ndarray:
    """Connected components of the links, must-link pairs and initial groups (no constraint applied)."""
    init = np.flatnonzero(links.initial >= 0)
    star_a = np.empty(0, dtype=np.int64)
    star_b = np.empty(0, dtype=np.int64)
    if len(init):
        grp = links.initial[init]
        order = np.argsort(grp, kind="stable")
        grp, members = grp[order], init[order]
        head = np.r_[True, grp[1:] != grp[:-1]]
        first = members[np.flatnonzero(head)][np.cumsum(head) - 1]
        star_a, star_b = first, members
    a = np.concatenate([links.left, links.must_a, star_a])
    b = np.concatenate([links.right, links.must_b, star_b])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _constrained(comp: np.ndarray, valid_id: np.ndarray, links: Links, names: NameRule | None) -> np.ndarray:
    """Mask of the components where a constraint could refuse a union: two valid ID numbers, two
    different full names, or a record on a side of a cannot-link."""
    flagged = np.zeros(int(comp.max(initial=-1)) + 1, dtype=bool)
    for codes in (valid_id, names.code if names is not None else None):
        if codes is None:
            continue
        has = codes >= 0
        if has.any():
            comps, _, _ = unique_pairs(comp[has], codes[has])
            flagged |= np.bincount(comps, minlength=len(flagged)) > 1
    for pos in links.sides:
        flagged[comp[pos]] = True
    return flagged


def link_records(n: int, rank: np.ndarray, valid_id: np.ndarray, links: Links, names: NameRule | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(root, confidence)`` per record: the person (a component code) each record belongs to, and the
    probability of the strongest accepted link inside its person (1.0 alone or must-linked)."""
    comp = _components(n, links)
    flagged = _constrained(comp, valid_id, links, names)
    root = comp.copy()
    todo = flagged[comp]
    if todo.any():
        root[todo] = _union_find(np.flatnonzero(todo), rank, valid_id, links, names) + comp.max() + 1
    same = root[links.left] == root[links.right]
    conf = np.where(np.bincount(root, minlength=int(root.max(initial=0)) + 1)[root] == 1, 1.0, 0.0)
    np.maximum.at(conf, links.left[same], links.prob[same])
    np.maximum.at(conf, links.right[same], links.prob[same])
    conf[links.must_a] = 1.0
    conf[links.must_b] = 1.0
    return root, conf


def _union_find(members: np.ndarray, rank: np.ndarray, valid_id: np.ndarray, links: Links,
                names: NameRule | None = None) -> np.ndarray:
    """The sequential, constrained union-find on the records ``members`` (whole components): initial
    groups, then must-link pairs, then links strongest first, ties by record ids. Returns a root per
    member (a position)."""
    local = {int(p): k for k, p in enumerate(members.tolist())}
    parent = list(range(len(members)))
    ids: list[set[int]] = [{int(valid_id[p])} if valid_id[p] >= 0 else set() for p in members]
    sides: list[set[tuple[int, int]]] = [set(links.sides.get(int(p), ())) for p in members]
    full: list[set[int]] = ([{int(names.code[p])} if names.code[p] >= 0 else set() for p in members]
                            if names is not None else [set() for _ in members])

    def unlike(ra: int, rb: int) -> bool:   # both have full names and none of one is like one of the other
        if names is None or not full[ra] or not full[rb] or full[ra] & full[rb]:
            return False
        return not any(names.compatible(x, y) for x in full[ra] for y in full[rb])

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(ra: int, rb: int) -> None:
        parent[rb] = ra
        ids[ra] |= ids[rb]
        sides[ra] |= sides[rb]
        full[ra] |= full[rb]

    def split(ra: int, rb: int) -> bool:   # the two clusters hold opposite sides of a cannot-link
        return any((k, 1 - s) in sides[rb] for k, s in sides[ra])

    init = links.initial[members]
    first: dict[int, int] = {}
    for k, g in enumerate(init.tolist()):
        if g >= 0:
            if g in first:
                ra, rb = find(first[g]), find(k)
                if ra != rb:
                    join(ra, rb)
            else:
                first[g] = k
    for (a, b), pair in zip(zip(links.must_a.tolist(), links.must_b.tolist(), strict=True), links.must_ids,
                            strict=True):
        if a not in local:
            continue
        ra, rb = find(local[a]), find(local[b])
        if ra == rb:
            continue
        if split(ra, rb):
            bad = next(k for k, s in sides[ra] if (k, 1 - s) in sides[rb])
            raise ConstraintConflict(pair, bad)
        join(ra, rb)
    inside = np.zeros(len(rank), dtype=bool)
    inside[members] = True
    sel = np.flatnonzero(inside[links.left])
    left, right, p = links.left[sel], links.right[sel], links.prob[sel]
    lo, hi = np.minimum(rank[left], rank[right]), np.maximum(rank[left], rank[right])
    for k in np.lexsort((hi, lo, -p)).tolist():
        ra, rb = find(local[int(left[k])]), find(local[int(right[k])])
        if ra == rb:
            continue
        if ids[ra] and ids[rb] and ids[ra].isdisjoint(ids[rb]):
            continue   # two different valid ID numbers: two persons
        if split(ra, rb):
            continue   # an analyst split these records
        if unlike(ra, rb) and not ids[ra] & ids[rb]:
            continue   # other full names and no ID number in common: a chain through 王先生, not a person
        join(ra, rb)
    return members[np.array([find(k) for k in range(len(members))], dtype=np.int64)]


def _accepted(pairs: pd.DataFrame, prob: np.ndarray, gamma: pd.DataFrame, threshold: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = (prob >= threshold) & ~never_linked(gamma)
    return pairs["left"].to_numpy()[ok], pairs["right"].to_numpy()[ok], prob[ok]


def smallest_record_ids(root: np.ndarray, rank: np.ndarray, record_ids: np.ndarray) -> np.ndarray:
    """Per record, the smallest record id of its cluster."""
    best = np.full(int(root.max(initial=0)) + 1, len(rank), dtype=np.int64)
    np.minimum.at(best, root, rank)
    by_rank = np.argsort(rank)
    return record_ids[by_rank[best[root]]] if len(root) else np.empty(0, dtype=object)


def cluster(record_ids: Sequence[str], valid_ids: Sequence[str], pairs: pd.DataFrame, prob: np.ndarray,
            gamma: pd.DataFrame, threshold: float, constraints: Constraints = NO_CONSTRAINTS,
            names: NameRule | None = None) -> np.ndarray:
    """Cluster label (the smallest record id of the cluster) of each record.

    Links (probability >= ``threshold``, not ``never_linked``) are taken strongest first, ties by record ids;
    two clusters holding different valid ID numbers, or records of both sides of a cannot-link, are never
    joined; must-link pairs are joined first.
    """
    rid = np.asarray(record_ids, dtype=object).astype(str).astype(object)
    rank = np.empty(len(rid), dtype=np.int64)
    rank[np.argsort(rid, kind="stable")] = np.arange(len(rid))
    valid = factorize(pd.Series(list(valid_ids), dtype=object))[0]
    root, _ = link_records(len(rid), rank, valid, make_links(rid, pairs, prob, gamma, threshold, constraints), names)
    return smallest_record_ids(root, rank, rid)


def make_links(record_ids: np.ndarray, pairs: pd.DataFrame, prob: np.ndarray, gamma: pd.DataFrame,
               threshold: float, constraints: Constraints, initial: np.ndarray | None = None) -> Links:
    """The accepted links (probability >= ``threshold``, not ``never_linked``), the constraints as
    positions among ``record_ids``, and the ``initial`` grouping (a code per record, -1: none)."""
    left, right, p = _accepted(pairs, prob, gamma, threshold)
    ma, mb, must_ids, sides = _constraint_positions(record_ids, constraints)
    return Links(left=left, right=right, prob=p, must_a=ma, must_b=mb, must_ids=must_ids, sides=sides,
                 initial=initial if initial is not None else np.full(len(record_ids), -1, dtype=np.int64))
