"""Organised groups (群体) among persons (pure): a graph of persons and cases, its communities, stable ids.

DOMAIN.md: five or more people with a common request are a group case (群体访); a group (群体) is the set of
persons that joint cases, shared phones or addresses and the same matter tie together. Two steps:

1. ``build_graph``: persons (``("p", person_id)``) and cases (``("c", "source:source_id")``). Only cases
   that can tie two persons together become nodes: two or more persons on the case, or a matter
   (``matter_id``) shared by two or more persons. The ~200,000 one-person cases of a city are filtered out
   before anything is built. Edges and their weights (``WEIGHTS``), the contribution of one fact to the tie
   between two persons:

   =================  ======  ===================================================================
   joint case         1.0     both on a case with 5+ persons or flagged 群体访: they acted together
   co-signed case     0.5     both on a case with 2-4 persons: often a family or neighbours
   same matter        0.5     their cases carry the same ``matter_id`` (one request pursued apart)
   shared phone       0.25    families share phones: a household of 3 is not an organised group
   shared address     0.25    the same: a household, or a joint letter written at one kitchen table
   =================  ======  ===================================================================

   Person-case edges carry the case's weight; person-person edges carry the sum of their matter, phone
   and address weights (``kinds`` says which). Phone and address edges join only persons already in the
   graph: a shared phone alone never makes a person a group member. Keys shared by more than
   ``MAX_KEY_PERSONS`` persons (a switchboard, a village committee's address) and matters of more than
   ``MAX_MATTER_PERSONS`` persons are skipped and counted in ``graph.graph``.

2. ``find_groups``: the person projection (the tie of two persons is the sum of the weights of every fact
   they share), split into connected components, then Louvain (``networkx.louvain_communities``, fixed
   seed) inside each component. Running Louvain per component rather than on the whole graph keeps a
   group's partition independent of unrelated parts of the city (modularity's null model depends on the
   whole graph's weight), so a group keeps its members and its id when other groups appear. Louvain runs
   at resolution 0.5, not 1: at 1 a component is always cut where it can be (a single community has
   modularity 0), so two joint letters of 6 that share 2 signatories, a third of each, become two groups;
   at 0.5 they are one (they split above 0.6), while two letters sharing one person (a bridge, a serial
   petitioner in two causes) still split (above 0.34), and so do two groups tied only by a shared phone.
   Measured on the demo city (``benchmarks/persons_groups.py``, 40 true groups, 803 members): the default
   finds 40/40 with member precision and recall 1.000 and no false group; Louvain over the whole graph
   also finds 40 but absorbs the relatives of members (a household tied by an address: precision 0.963);
   connected components alone merge two groups a household bridges (39/40, precision 0.926); resolution 1
   cuts the five representatives who go on every visit from the rest (26 false groups, recall 0.823);
   without the household rule 476 joint letters of a petitioner and relatives at one address are groups.
   Each case goes to the community holding most of its persons; a member is a person of the community
   with at least one of its cases (``joined_at`` is the first). A group is a community with at least
   ``min_size`` members from at least ``min_households`` households (members tied by a shared phone or
   address are one household): a petitioner and four relatives co-signing from one address is a family.

   Centrality is a member's weighted degree inside the group over the group's largest (1.0 for the most
   connected): the organiser (牵头人) and the representatives are on every letter and every visit with
   everyone, so their ties weigh most; the figure reads plainly ("ties with the group, relative to the
   most connected member") and costs one pass over the edges, where betweenness inside a near-clique is
   near zero for everyone. Ties (the five who go on every visit tie) go to the person named first on more
   cases (``seq`` 0, when ``case_persons`` has ``seq``), then to the smaller person id: on the demo city
   the true leader is among the top 3 of all 40 groups.

   ``group_id`` is ``"G"`` and 6 hex digits of a digest of the smallest member's person id: the same
   members give the same id whatever the row order. ``carry_group_ids`` renames a new group to the
   previous run's id when they share most members (Jaccard >= 0.5, best match first, one-to-one).

Their signals (growth, spread, escalation) are ``group_signals``.

Person ids are read as text. Nothing here reads the clock, files or the database.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any

import networkx as nx  # type: ignore[import-untyped]
import pandas as pd

from riskwatch import schema as S
from riskwatch.schema import (  # the group frames' columns, named once in schema
    GROUP_CASE_COLUMNS as GROUP_CASE_COLUMNS,
)
from riskwatch.schema import (
    GROUP_COLUMNS as GROUP_COLUMNS,
)
from riskwatch.schema import (
    GROUP_ID as GROUP_ID,
)
from riskwatch.schema import (
    MATTER_ID as MATTER_ID,
)
from riskwatch.schema import (
    MEMBER_COLUMNS as MEMBER_COLUMNS,
)
from riskwatch.schema import (
    PERSON_ID as PERSON_ID,
)

PHONE_KEY = "phone_key"
ADDRESS_KEY = "address_key"
CASE_KEY = "case_key"

CASE_NEEDED: tuple[str, ...] = (S.SOURCE, S.SOURCE_ID, S.RECEIVED_AT, S.CATEGORY_CODE, S.REGION_CODE, S.LEVEL,
                                S.IS_GROUP, S.HEADCOUNT)
CASE_PERSON_NEEDED: tuple[str, ...] = (S.SOURCE, S.SOURCE_ID, PERSON_ID)
KEY_NEEDED: tuple[str, ...] = (PERSON_ID, PHONE_KEY, ADDRESS_KEY)

JOINT_MIN_PERSONS = 5   # DOMAIN.md: five or more people with a common request are a group case
WEIGHTS: Mapping[str, float] = {"joint": 1.0, "co_signed": 0.5, "matter": 0.5, "phone": 0.25, "address": 0.25}
HOUSEHOLD_KINDS: frozenset[str] = frozenset({"phone", "address"})
MAX_KEY_PERSONS = 30      # a phone or address shared by more persons is an office, not a household
MAX_MATTER_PERSONS = 200  # a "matter" of more persons is a topic, not one shared request
TOWNSHIP_LEN = 9          # characters of a township code (GB/T 2260 style: 6 district + 3)
TOP_CENTRAL = 3
METHODS: tuple[str, ...] = ("component_louvain", "louvain", "components")
RESOLUTION = 0.5     # Louvain's resolution: see the module docstring
MIN_HOUSEHOLDS = 3   # an organised group is more than one or two families


def _case_key(frame: pd.DataFrame) -> pd.Series:
    return frame[S.SOURCE].astype(str) + ":" + frame[S.SOURCE_ID].astype(str)


def _participation(case_persons: pd.DataFrame) -> pd.DataFrame:
    """``case_key, person_id`` (text), one row per distinct pair."""
    cp = case_persons.dropna(subset=[PERSON_ID])
    out = pd.DataFrame({CASE_KEY: _case_key(cp), PERSON_ID: cp[PERSON_ID].astype(str)})
    return out.drop_duplicates(ignore_index=True)


# --- the graph ------------------------------------------------------------------------------------
def build_graph(cases: pd.DataFrame, case_persons: pd.DataFrame, person_keys: pd.DataFrame | None = None,
                *, joint_min_persons: int = JOINT_MIN_PERSONS) -> nx.Graph:
    """The persons-and-cases graph of the cases that can tie persons together.

    ``cases``: ``source, source_id, received_at, category_code, region_code, level, is_group, headcount``,
    optional ``matter_id``; ``case_persons``: ``source, source_id, person_id``; ``person_keys`` (optional):
    ``person_id, phone_key, address_key`` (normalized, ``""`` or missing when unknown; several rows per
    person allowed). A case is joint when flagged ``is_group`` or with ``joint_min_persons`` or more persons
    (headcount or persons recorded; pass ``[group] min_headcount`` of the settings). Nodes
    ``("c", "source:source_id")`` carry ``kind="case"``, ``persons``, ``joint`` and the case's columns;
    ``("p", person_id)`` carry ``kind="person"``. Edges carry ``weight`` and ``kinds``. Nodes and edges
    are added in sorted order, so the graph does not depend on row order. ``graph.graph`` holds
    ``skipped_keys`` and ``skipped_matters``.
    """
    S.require_columns(cases.columns, CASE_NEEDED, "build_graph(cases)")
    S.require_columns(case_persons.columns, CASE_PERSON_NEEDED, "build_graph(case_persons)")
    part = _participation(case_persons)
    n_persons = part.groupby(CASE_KEY)[PERSON_ID].nunique()
    keep = set(n_persons.index[n_persons >= 2])
    matter_pairs: list[tuple[str, str]] = []
    skipped_matters = 0
    if MATTER_ID in cases.columns:
        matter_of = pd.Series(cases[MATTER_ID].to_numpy(), index=_case_key(cases)).dropna().astype(str)
        matter_of = matter_of[~matter_of.index.duplicated()]
        pm = part.assign(**{MATTER_ID: part[CASE_KEY].map(matter_of)}).dropna(subset=[MATTER_ID])
        per_matter = pm.groupby(MATTER_ID)[PERSON_ID].nunique()
        skipped_matters = int((per_matter > MAX_MATTER_PERSONS).sum())
        shared = set(per_matter.index[(per_matter >= 2) & (per_matter <= MAX_MATTER_PERSONS)])
        pm = pm.loc[pm[MATTER_ID].isin(shared)]
        keep |= set(pm[CASE_KEY])
        for _, matter_persons in pm.groupby(MATTER_ID)[PERSON_ID]:
            matter_pairs += list(combinations(sorted(set(matter_persons)), 2))
    part = part.loc[part[CASE_KEY].isin(keep)].sort_values([CASE_KEY, PERSON_ID], ignore_index=True)
    attrs = _case_attributes(cases, keep, n_persons, joint_min_persons)
    graph = nx.Graph(skipped_keys=0, skipped_matters=skipped_matters)
    persons = sorted(set(part[PERSON_ID]))
    graph.add_nodes_from((("p", p), {"kind": "person"}) for p in persons)
    for key in sorted(keep):
        graph.add_node(("c", key), kind="case", **attrs.get(key, {"persons": int(n_persons.get(key, 0))}))
    for key, person in zip(part[CASE_KEY], part[PERSON_ID], strict=True):
        kind = "joint" if graph.nodes["c", key].get("joint", False) else "co_signed"
        graph.add_edge(("p", person), ("c", key), weight=WEIGHTS[kind], kinds=(kind,))
    pair_kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a, b in matter_pairs:
        pair_kinds[a, b].add("matter")
    if person_keys is not None:
        S.require_columns(person_keys.columns, KEY_NEEDED, "build_graph(person_keys)")
        for kind, column in (("phone", PHONE_KEY), ("address", ADDRESS_KEY)):
            pairs, skipped = _key_pairs(person_keys, column, set(persons))
            graph.graph["skipped_keys"] += skipped
            for a, b in pairs:
                pair_kinds[a, b].add(kind)
    for a, b in sorted(pair_kinds):
        kinds = tuple(sorted(pair_kinds[a, b]))
        graph.add_edge(("p", a), ("p", b), weight=float(sum(WEIGHTS[k] for k in kinds)), kinds=kinds)
    return graph


def _case_attributes(cases: pd.DataFrame, keep: set[str], n_persons: pd.Series, joint_min_persons: int
                     ) -> dict[str, dict[str, Any]]:
    frame = cases.assign(**{CASE_KEY: _case_key(cases)})
    frame = frame.loc[frame[CASE_KEY].isin(keep)].drop_duplicates(CASE_KEY)
    out: dict[str, dict[str, Any]] = {}
    for rec in frame.to_dict("records"):
        persons = int(n_persons.get(rec[CASE_KEY], 0))
        is_group = bool(rec[S.IS_GROUP]) if pd.notna(rec[S.IS_GROUP]) else False
        head = int(rec[S.HEADCOUNT]) if pd.notna(rec[S.HEADCOUNT]) else 1
        out[rec[CASE_KEY]] = {
            "persons": persons, "joint": is_group or max(persons, head) >= joint_min_persons,
            S.RECEIVED_AT: pd.Timestamp(rec[S.RECEIVED_AT]), S.LEVEL: rec[S.LEVEL], S.IS_GROUP: is_group,
            S.HEADCOUNT: head, S.REGION_CODE: rec[S.REGION_CODE], S.CATEGORY_CODE: rec[S.CATEGORY_CODE]}
    return out


def _key_pairs(person_keys: pd.DataFrame, column: str, persons: set[str]) -> tuple[list[tuple[str, str]], int]:
    """Pairs of graph persons sharing a non-empty key (keys of more than ``MAX_KEY_PERSONS`` skipped)."""
    keys = pd.DataFrame({PERSON_ID: person_keys[PERSON_ID].astype(str),
                         "key": person_keys[column].fillna("").astype(str)})
    keys = keys.loc[keys["key"].astype(bool) & keys[PERSON_ID].isin(persons)].drop_duplicates()
    per_key = keys.groupby("key")[PERSON_ID].agg(lambda s: sorted(set(s)))
    sizes = per_key.map(len)
    skipped = int((sizes > MAX_KEY_PERSONS).sum())
    pairs: list[tuple[str, str]] = []
    for members in per_key[(sizes >= 2) & (sizes <= MAX_KEY_PERSONS)]:
        pairs += list(combinations(members, 2))
    return pairs, skipped


def person_projection(graph: nx.Graph) -> nx.Graph:
    """Persons only (node = person id); the weight of two persons is the sum of the weights of the cases
    they share and of their own edge (matter, phone, address). ``kinds`` lists the kinds of tie seen."""
    weight: dict[tuple[str, str], float] = defaultdict(float)
    kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    for node, data in graph.nodes(data=True):
        if data.get("kind") != "case":
            continue
        members = sorted(p for _, p in graph.neighbors(node))
        if len(members) < 2:
            continue
        edge = graph.edges[node, ("p", members[0])]   # every person-case edge of a case is alike
        for a, b in combinations(members, 2):
            weight[a, b] += edge["weight"]
            kinds[a, b].update(edge["kinds"])
    for u, v, data in graph.edges(data=True):
        if u[0] == "p" and v[0] == "p":
            a, b = sorted((u[1], v[1]))
            weight[a, b] += data["weight"]
            kinds[a, b].update(data["kinds"])
    out = nx.Graph()
    out.add_nodes_from(sorted(n[1] for n, d in graph.nodes(data=True) if d.get("kind") == "person"))
    out.add_edges_from((a, b, {"weight": weight[a, b], "kinds": tuple(sorted(kinds[a, b]))})
                       for a, b in sorted(weight))
    return out


# --- communities ----------------------------------------------------------------------------------
def communities(projection: nx.Graph, min_size: int, seed: int = 0, method: str = "component_louvain",
                resolution: float = RESOLUTION) -> list[list[str]]:
    """Communities of at least ``min_size`` persons, each sorted, ordered by their smallest person id.

    ``method``: ``component_louvain`` (Louvain inside each connected component, the default),
    ``louvain`` (Louvain over the whole projection) or ``components`` (connected components only).
    """
    if method not in METHODS:
        raise ValueError(f"communities: method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "louvain":
        found = nx.community.louvain_communities(_sorted_copy(projection, projection.nodes), weight="weight",
                                                 resolution=resolution, seed=seed)
    else:
        found = []
        for comp in nx.connected_components(projection):
            if len(comp) < min_size:
                continue
            if method == "components":
                found.append(comp)
                continue
            sub = _sorted_copy(projection, comp)
            found += nx.community.louvain_communities(sub, weight="weight", resolution=resolution, seed=seed)
    return sorted((sorted(c) for c in found if len(c) >= min_size), key=lambda c: c[0])


def _sorted_copy(graph: nx.Graph, nodes: Iterable[str]) -> nx.Graph:
    """A copy with nodes and edges inserted in sorted order: Louvain's result then does not depend on
    the order rows came in."""
    keep = sorted(nodes)
    sub = graph.subgraph(keep)
    out = nx.Graph()
    out.add_nodes_from(keep)
    out.add_edges_from(sorted((min(u, v), max(u, v), d) for u, v, d in sub.edges(data=True)))
    return out


def find_groups(graph: nx.Graph, cases: pd.DataFrame, case_persons: pd.DataFrame, min_size: int = 5,
                seed: int = 0, *, min_households: int = MIN_HOUSEHOLDS, method: str = "component_louvain",
                resolution: float = RESOLUTION) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The organised groups of ``graph`` (``build_graph``): ``(groups, members, group_cases)``.

    ``cases``: ``CASE_NEEDED`` (at least the graph's cases); ``case_persons``: ``source, source_id,
    person_id``, optional ``seq`` (0 for the first-named person: breaks centrality ties).

    Returns ``groups`` (``GROUP_COLUMNS``: ``group_id, size, cases, group_cases`` (群体访 among them),
    ``first_seen, last_seen, max_level`` (a ``schema.Level`` value or None), ``levels`` (list, lowest
    first), ``townships`` (sorted 9-character codes), ``category_code`` (most common), ``central`` (the
    top-3 person ids by centrality)), sorted by size descending then id; ``members`` (``group_id,
    person_id, joined_at, centrality``); ``group_cases`` (``group_id, source, source_id``).
    """
    S.require_columns(cases.columns, CASE_NEEDED, "find_groups(cases)")
    S.require_columns(case_persons.columns, CASE_PERSON_NEEDED, "find_groups(case_persons)")
    if min_size < 2 or min_households < 1:
        raise ValueError("find_groups: min_size >= 2 and min_households >= 1")
    projection = person_projection(graph)
    found = communities(projection, min_size, seed, method, resolution)
    community_of = {p: i for i, c in enumerate(found) for p in c}
    case_of = _assign_cases(graph, community_of)
    first_named = _first_named(case_persons)
    case_info = _case_frame(cases, set(case_of))
    groups, members, group_cases = [], [], []
    keys_of: dict[int, list[str]] = defaultdict(list)
    for key, i in sorted(case_of.items()):
        keys_of[i].append(key)
    for i, persons in enumerate(found):
        keys, inside = keys_of[i], set(persons)
        part = [(k, p[1]) for k in keys for p in graph.neighbors(("c", k)) if p[1] in inside]
        joined = pd.DataFrame(part, columns=[CASE_KEY, PERSON_ID]).merge(case_info[[CASE_KEY, S.RECEIVED_AT]],
                                                                          on=CASE_KEY)
        joined_at = joined.groupby(PERSON_ID)[S.RECEIVED_AT].min()
        kept = sorted(joined_at.index)
        if len(kept) < min_size or _households(projection, kept) < min_households:
            continue
        central = _centrality(projection, kept)
        top = sorted(kept, key=lambda p: (-round(central[p], 12), -first_named.get(p, 0), p))[:TOP_CENTRAL]
        groups.append(_describe(case_info.loc[case_info[CASE_KEY].isin(keys)], kept, top))
        members.append(pd.DataFrame({PERSON_ID: kept, "joined_at": joined_at.loc[kept].to_numpy(),
                                     "centrality": [central[p] for p in kept]}))
        group_cases.append(keys)
    ids = _group_ids([m[PERSON_ID].iloc[0] for m in members], taken=set())
    return _frames(ids, groups, members, group_cases)


def _assign_cases(graph: nx.Graph, community_of: Mapping[str, int]) -> dict[str, int]:
    """Each case node -> the community holding most of its persons (ties: the lower community index)."""
    out: dict[str, int] = {}
    for node, data in graph.nodes(data=True):
        if data.get("kind") != "case":
            continue
        votes = Counter(community_of[p[1]] for p in graph.neighbors(node) if p[1] in community_of)
        if votes:
            out[node[1]] = min(votes, key=lambda c: (-votes[c], c))
    return out


def _first_named(case_persons: pd.DataFrame) -> dict[str, int]:
    if S.SEQ not in case_persons.columns:
        return {}
    first = case_persons.loc[pd.to_numeric(case_persons[S.SEQ], errors="coerce") == 0, PERSON_ID]
    return {str(k): int(v) for k, v in first.astype(str).value_counts().items()}


def _case_frame(cases: pd.DataFrame, keys: set[str]) -> pd.DataFrame:
    frame = cases.assign(**{CASE_KEY: _case_key(cases)})
    frame = frame.loc[frame[CASE_KEY].isin(keys)].drop_duplicates(CASE_KEY)
    return frame.assign(**{S.RECEIVED_AT: pd.to_datetime(frame[S.RECEIVED_AT])})


def _households(projection: nx.Graph, persons: list[str]) -> int:
    """Members tied by a shared phone or address count as one household."""
    ties = nx.Graph()
    ties.add_nodes_from(persons)
    ties.add_edges_from((u, v) for u, v, d in projection.subgraph(persons).edges(data=True)
                        if HOUSEHOLD_KINDS & set(d["kinds"]))
    return nx.number_connected_components(ties)


def _centrality(projection: nx.Graph, persons: list[str]) -> dict[str, float]:
    """Weighted degree inside the group over the group's largest (1.0 for the most connected member)."""
    strength = dict(projection.subgraph(persons).degree(weight="weight"))
    top = max(strength.values()) or 1.0
    return {p: float(strength[p]) / top for p in persons}


def known_levels(values: pd.Series) -> list[str]:
    """The distinct ``schema.Level`` values among ``values`` (others ignored), lowest first."""
    known = {str(v) for v in values.dropna()} & {lv.value for lv in S.Level}
    return sorted(known, key=lambda v: S.LEVEL_RANK[S.Level(v)])


def township_codes(regions: pd.Series) -> list[str]:
    """The distinct township codes (first ``TOWNSHIP_LEN`` characters) of region codes that have one, sorted."""
    codes = regions.dropna().astype(str)
    return sorted({c[:TOWNSHIP_LEN] for c in codes if len(c) >= TOWNSHIP_LEN})


def most_common(values: pd.Series) -> Any:
    """The most frequent value (as text; ties: the smallest), None when there is none."""
    counts = values.dropna().astype(str).value_counts()
    if counts.empty:
        return None
    return min(counts.index, key=lambda v: (-counts[v], v))


def _describe(frame: pd.DataFrame, persons: list[str], central: list[str]) -> dict[str, Any]:
    levels = known_levels(frame[S.LEVEL])
    is_group = frame[S.IS_GROUP].fillna(False).astype(bool)
    return {"size": len(persons), "cases": len(frame), "group_cases": int(is_group.sum()),
            "first_seen": frame[S.RECEIVED_AT].min(), "last_seen": frame[S.RECEIVED_AT].max(),
            "max_level": levels[-1] if levels else None, "levels": levels,
            "townships": township_codes(frame[S.REGION_CODE]), S.CATEGORY_CODE: most_common(frame[S.CATEGORY_CODE]),
            "central": central}


def new_group_id(smallest_person_id: str) -> str:
    """``G`` and 6 hex digits of a digest of the group's smallest member (collisions: ``_group_ids``)."""
    return "G" + hashlib.blake2b(str(smallest_person_id).encode(), digest_size=3).hexdigest()


def _group_ids(smallest: list[str], taken: set[str]) -> list[str]:
    """``new_group_id`` per group, salted (deterministically) where it collides with ``taken`` or with a
    group of a smaller smallest member."""
    out: dict[int, str] = {}
    used = set(taken)
    for i in sorted(range(len(smallest)), key=lambda j: smallest[j]):
        gid, salt = new_group_id(smallest[i]), 0
        while gid in used:
            salt += 1
            gid = new_group_id(f"{smallest[i]}#{salt}")
        out[i] = gid
        used.add(gid)
    return [out[i] for i in range(len(smallest))]


def _frames(ids: list[str], groups: list[dict[str, Any]], members: list[pd.DataFrame], group_cases: list[list[str]]
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    g = pd.DataFrame([{GROUP_ID: gid, **row} for gid, row in zip(ids, groups, strict=True)],
                     columns=list(GROUP_COLUMNS))
    g = g.sort_values(["size", GROUP_ID], ascending=[False, True], ignore_index=True)
    for col in ("first_seen", "last_seen"):
        g[col] = pd.to_datetime(g[col])
    m = (pd.concat([f.assign(**{GROUP_ID: gid}) for gid, f in zip(ids, members, strict=True)], ignore_index=True)
         if members else pd.DataFrame(columns=list(MEMBER_COLUMNS)))
    m = m[list(MEMBER_COLUMNS)].sort_values([GROUP_ID, PERSON_ID], ignore_index=True)
    m["joined_at"] = pd.to_datetime(m["joined_at"])
    m["centrality"] = m["centrality"].astype(float)
    rows = [(gid, *k.split(":", 1)) for gid, keys in zip(ids, group_cases, strict=True) for k in keys]
    c = pd.DataFrame(rows, columns=list(GROUP_CASE_COLUMNS)).sort_values(list(GROUP_CASE_COLUMNS), ignore_index=True)
    return g, m, c


# --- ids across runs ------------------------------------------------------------------------------
def match_group_ids(members: pd.DataFrame, previous: pd.DataFrame, min_jaccard: float = 0.5) -> dict[str, str]:
    """New group id -> its id from now on.

    A new group takes the id of the previous group with which it shares most members when their Jaccard
    index is at least ``min_jaccard``: pairs best first (Jaccard, then shared members, then ids), each id
    used once. A group matching none keeps its own id unless that id is now another group's or was a
    previous group's (then salted): an id never passes to a different group.
    """
    S.require_columns(members.columns, (GROUP_ID, PERSON_ID), "carry_group_ids(members)")
    S.require_columns(previous.columns, (GROUP_ID, PERSON_ID), "carry_group_ids(previous)")
    new = members[[GROUP_ID, PERSON_ID]].astype(str).drop_duplicates()
    old = previous[[GROUP_ID, PERSON_ID]].astype(str).drop_duplicates()
    both = new.merge(old, on=PERSON_ID, suffixes=("", "_old"))
    inter = both.groupby([GROUP_ID, "group_id_old"]).size().rename("inter").reset_index()
    inter["n_new"] = inter[GROUP_ID].map(new.groupby(GROUP_ID).size()).astype(float)
    inter["n_old"] = inter["group_id_old"].map(old.groupby(GROUP_ID).size()).astype(float)
    inter["jaccard"] = inter["inter"] / (inter["n_new"] + inter["n_old"] - inter["inter"])
    inter = inter.loc[inter["jaccard"] >= min_jaccard].sort_values(
        ["jaccard", "inter", GROUP_ID, "group_id_old"], ascending=[False, False, True, True])
    chosen: dict[str, str] = {}
    for gid, old_id in zip(inter[GROUP_ID], inter["group_id_old"], strict=True):
        if gid not in chosen and old_id not in chosen.values():
            chosen[gid] = old_id
    rest = sorted(set(new[GROUP_ID]) - set(chosen))
    used = set(chosen.values()) | set(old[GROUP_ID])
    keep, clash = [g for g in rest if g not in used], [g for g in rest if g in used]
    chosen.update({g: g for g in keep})
    smallest = new.groupby(GROUP_ID)[PERSON_ID].min()
    chosen.update(zip(clash, _group_ids([smallest[g] for g in clash], used | set(keep)), strict=True))
    return chosen


def carry_group_ids(groups: pd.DataFrame, members: pd.DataFrame, group_cases: pd.DataFrame, previous: pd.DataFrame
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Groups keep the previous run's ids (``match_group_ids``), so signals can follow them: the three
    frames of ``find_groups`` renamed (groups re-sorted by size, then id). ``previous``: the previous
    run's members (``group_id, person_id``)."""
    mapping = match_group_ids(members, previous)
    groups, members, cases = (f.assign(**{GROUP_ID: f[GROUP_ID].astype(str).map(mapping).fillna(f[GROUP_ID])})
                              for f in (groups, members, group_cases))
    return (groups.sort_values(["size", GROUP_ID], ascending=[False, True], ignore_index=True),
            members.sort_values([GROUP_ID, PERSON_ID], ignore_index=True),
            cases.sort_values(list(GROUP_CASE_COLUMNS), ignore_index=True))
