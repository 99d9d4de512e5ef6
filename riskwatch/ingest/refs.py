"""Lookups built once from the configuration, and the resolution of category labels and region names
to codes (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskwatch.config import GroupRules, IngestSettings, RegionTree, Settings, Taxonomy
from riskwatch.schema import REGION_DEPTH, UNCLASSIFIED

_REGION_SUFFIXES = ("街道办事处", "办事处", "社区居委会", "居委会", "村委会", "街道", "社区", "网格", "区", "县",
                    "市", "镇", "乡", "村")


def label_key(text: object) -> str:
    """Comparable form of a label: NFKC, lower-case, without whitespace, punctuation and symbols."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    return "".join(ch for ch in s if unicodedata.category(ch)[0] in "LN")


def _strip_suffix(key: str) -> str:
    for suf in _REGION_SUFFIXES:
        if key.endswith(suf) and len(key) > len(suf):
            return key[: -len(suf)]
    return key


@dataclass(frozen=True)
class Refs:
    """Lookup tables built once from the configuration (``build_refs``)."""

    city_code: str
    region_parent: Mapping[str, str]
    region_depth: Mapping[str, int]
    region_by_parent: Mapping[tuple[str, str], str]  # (parent code, name key) -> code
    region_by_depth: Mapping[tuple[int, str], tuple[str, ...]]  # (depth, name key) -> codes
    category_by_label: Mapping[str, str]  # label key -> code (leaf, top, "top+leaf")
    category_child: Mapping[tuple[str, str], str]  # (top code, leaf key) -> leaf code
    category_parent: Mapping[str, str]
    min_group_headcount: int
    max_field_chars: int
    earliest_received: pd.Timestamp

    def is_under(self, code: str, ancestor: str) -> bool:
        while code:
            if code == ancestor:
                return True
            code = self.region_parent.get(code, "")
        return False


def make_refs(regions: RegionTree, taxonomy: Taxonomy, group: GroupRules, ingest: IngestSettings) -> Refs:
    """Precompute the region, category and rule lookups used by ``normalize_chunk``."""
    by_parent: dict[tuple[str, str], str] = {}
    by_depth: dict[tuple[int, str], list[str]] = {}
    depth = {c: REGION_DEPTH[r.level] for c, r in regions.regions.items()}
    for code, r in regions.regions.items():
        keys = {label_key(r.name), _strip_suffix(label_key(r.name))}
        parent = regions.regions.get(r.parent)
        if parent is not None:  # "丰北社区第1网格" may be written "第1网格"
            pk = label_key(parent.name)
            if label_key(r.name).startswith(pk) and len(label_key(r.name)) > len(pk):
                short = label_key(r.name)[len(pk):]
                keys |= {short, _strip_suffix(short)}
        for k in keys - {""}:
            by_parent.setdefault((r.parent, k), code)
            lst = by_depth.setdefault((depth[code], k), [])
            if code not in lst:
                lst.append(code)
    cats: dict[str, str] = {}
    child: dict[tuple[str, str], str] = {}
    tops = {c.code: c for c in taxonomy.categories.values() if not c.parent}
    for c in taxonomy.categories.values():
        names = [label_key(n) for n in (c.name, *c.aliases)]
        for k in names:
            cats.setdefault(k, c.code)
        if c.parent:
            top = tops[c.parent]
            for k in names:
                child.setdefault((c.parent, k), c.code)
                for t in (top.name, *top.aliases):
                    cats.setdefault(label_key(t) + k, c.code)
    cats.pop("", None)
    return Refs(
        city_code=regions.root, region_parent={c: r.parent for c, r in regions.regions.items()},
        region_depth=depth, region_by_parent=by_parent,
        region_by_depth={k: tuple(v) for k, v in by_depth.items()},
        category_by_label=cats, category_child=child,
        category_parent={c.code: c.parent for c in taxonomy.categories.values()},
        min_group_headcount=group.min_headcount, max_field_chars=ingest.max_field_chars,
        earliest_received=pd.Timestamp(ingest.earliest_received),
    )


def build_refs(settings: Settings) -> Refs:
    """``make_refs`` over the sections of ``settings`` (regions, taxonomy, group rules, ingest limits)."""
    return make_refs(settings.regions, settings.taxonomy, settings.group, settings.ingest)


def resolve_category(refs: Refs, label: str | None, l1: str | None, l2: str | None) -> tuple[str, bool]:
    """Category code for a combined label or an (l1, l2) pair; ``(code, known)``."""
    cats = refs.category_by_label
    if label:
        k = label_key(label)
        if k in cats:
            return cats[k], True
        parts = [label_key(p) for p in re.split(r"[-/>›»|\\、:·_—–]+", label) if label_key(p)]
        if len(parts) >= 2:
            top = cats.get(parts[0])
            if top and (top, parts[-1]) in refs.category_child:
                return refs.category_child[(top, parts[-1])], True
            if parts[-1] in cats:
                return cats[parts[-1]], True
            if top and not refs.category_parent.get(top):
                return top, True
    if l1 or l2:
        top = cats.get(label_key(l1)) if l1 else None
        if top and refs.category_parent.get(top):  # l1 was a leaf label
            top = refs.category_parent[top]
        if l2:
            k2 = label_key(l2)
            if top and (top, k2) in refs.category_child:
                return refs.category_child[(top, k2)], True
            if k2 in cats and (not top or refs.category_parent.get(cats[k2]) in (top, "")):
                return cats[k2], True
        if top:
            return top, True
    return UNCLASSIFIED, False


def resolve_region(refs: Refs, code: str | None, names: tuple[str | None, ...]) -> tuple[str, str]:
    """Deepest region code from a code and/or names (district, township, community, grid).

    Returns ``(code, problem)``; ``problem`` is ``""`` when everything written was resolved.
    """
    current = refs.city_code
    problem = ""
    if code:
        c = "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch.isalnum())
        while c and c not in refs.region_depth:
            c = c[:-3] if len(c) > 6 else ""
        if c:
            current = c
            if c != "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch.isalnum()):
                problem = f"region code {code} unknown, kept parent {c}"
        else:
            problem = f"region code {code} unknown"
    for depth, name in enumerate(names, start=1):
        if not name:
            continue
        cur_depth = refs.region_depth.get(current, 0)
        if depth <= cur_depth:
            continue  # the code already went deeper
        key = label_key(name)
        found = None
        if depth == cur_depth + 1:
            found = refs.region_by_parent.get((current, key)) or refs.region_by_parent.get((current, _strip_suffix(key)))
        if found is None:
            cands = [c for k in (key, _strip_suffix(key)) for c in refs.region_by_depth.get((depth, k), ())
                     if refs.is_under(c, current)]
            cands = list(dict.fromkeys(cands))
            found = cands[0] if len(cands) == 1 else None
        if found is None:
            problem = (problem + "; " if problem else "") + f"{name} not found under {current}, kept parent"
            break
        current = found
    if current == refs.city_code and not problem:
        problem = "no region given, city root used" if not (code or any(names)) else "city root used"
    return current, problem


def resolve_distinct(key: pd.DataFrame, fn: Any) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn(*row)`` once per distinct row of ``key``; returns the two result arrays per row."""
    if not len(key):
        return np.array([], dtype=object), np.array([], dtype=object)
    filled = key.astype(object).fillna("\x00").astype(str)
    joined = filled.iloc[:, 0]
    for col in filled.columns[1:]:
        joined = joined + "\x1f" + filled[col]
    codes, uniq = pd.factorize(joined)  # one string per row factorizes far faster than a MultiIndex
    a, b = [], []
    for text in uniq:
        r = fn(*[None if v == "\x00" else v for v in str(text).split("\x1f")])
        a.append(r[0])
        b.append(r[1])
    first = np.array(a, dtype=object)[codes]
    second = np.array(b, dtype=object)[codes]
    if second.dtype == object and len(second) and isinstance(b[0], bool | np.bool_):
        second = second.astype(bool)
    return first, second

