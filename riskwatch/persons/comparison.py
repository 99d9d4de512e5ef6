"""Comparison vectors (pure): per pair of records and field, a level of agreement.

``compare`` gives, per pair and field (``FIELDS``), a level (``LEVELS``): ID (same / same body / one typo /
different), phone (same / different), name (same / homophone / similar / different), address (same /
overlapping / different), district (same / different), time (the records' days within a month / a year /
further apart: a phone or an address shared years apart says less; the EM weighs it, and on the synthetic
city, whose petitioners come back over years, it weighs little). A field missing on either side, or a name that is
only a surname or anonymous (王先生, 李女士, 匿名), gives no evidence either way (``NULL``), except that a
surname-only name with another surname is a different name. Similarities (names, address tokens) are
computed once per distinct pair of codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskwatch.persons import features as F
from riskwatch.persons.encoding import Coded, as_coded, unique_pairs

FIELDS: tuple[str, ...] = ("id", "phone", "name", "address", "district", "time")
NULL = -1   # level of a field that gives no evidence
LEVELS: dict[str, tuple[str, ...]] = {
    "id": ("same", "same_body", "one_typo", "different"),
    "phone": ("same", "different"),
    "name": ("same", "homophone", "similar", "different"),
    "address": ("same", "overlap", "different"),
    "district": ("same", "different"),
    "time": ("month", "year", "apart"),   # the records' days within 31 days, within a year, further apart
}
NAME_SIMILAR = 0.88      # Jaro–Winkler of the characters above which two different names are "similar"
ADDRESS_OVERLAP = 0.8    # share of place tokens in common above which two addresses "overlap"
CHUNK = 1_000_000        # pairs compared at a time (bounds the temporaries)


def compare(feats: pd.DataFrame | Coded, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """The comparison level of every field for each pair of positions (``NULL``: no evidence)."""
    c = as_coded(feats)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    parts = [_compare_chunk(c, left[s:s + CHUNK], right[s:s + CHUNK]) for s in range(0, len(left), CHUNK)]
    if not parts:
        return pd.DataFrame({f: np.empty(0, dtype=np.int8) for f in FIELDS})
    return pd.DataFrame({f: np.concatenate([p[f] for p in parts]) for f in FIELDS})


def _compare_chunk(c: Coded, a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    has_id = c.has_id[a] & c.has_id[b]
    dist = np.full(len(a), 3, dtype=np.int8)
    if has_id.any():
        dist[has_id] = F.id_matrix_distance(c.id_mat[a[has_id]], c.id_mat[b[has_id]])
    out["id"] = np.where(has_id, dist, NULL)
    pa, pb = c.phone[a], c.phone[b]
    out["phone"] = np.where((pa >= 0) & (pb >= 0), np.where(pa == pb, 0, 1), NULL)
    full = c.full[a] & c.full[b]
    same = c.name[a] == c.name[b]
    homophone = c.pinyin[a] == c.pinyin[b]
    todo = full & ~same & ~homophone
    similar = np.zeros(len(a), dtype=bool)
    if todo.any():   # on the characters: 赵静 / 赵强 share a surname and most of the pinyin, not a person
        similar[todo] = _name_jw(c, c.name[a[todo]], c.name[b[todo]]) >= NAME_SIMILAR
    # a surname-only name (王先生) still tells the surname: 吴女士 is not 孔俊娜
    partial = ~full & ~c.anonymous[a] & ~c.anonymous[b]
    sa, sb = c.surname[a], c.surname[b]
    other_surname = partial & (sa >= 0) & (sb >= 0) & (sa != sb)
    out["name"] = np.where(full, np.select([same, homophone, similar], [0, 1, 2], 3),
                           np.where(other_surname, 3, NULL))
    ka, kb = c.address[a], c.address[b]
    has_addr = (ka >= 0) & (kb >= 0)
    equal_addr = ka == kb
    overlap = np.zeros(len(a))
    todo = has_addr & ~equal_addr
    if todo.any():
        overlap[todo] = _token_overlap(c, c.tokens[a[todo]], c.tokens[b[todo]])
    out["address"] = np.where(has_addr, np.select([equal_addr, overlap >= ADDRESS_OVERLAP], [0, 1], 2), NULL)
    da, db = c.district[a], c.district[b]
    out["district"] = np.where((da >= 0) & (db >= 0), np.where(da == db, 0, 1), NULL)
    ta, tb = c.day[a], c.day[b]
    gap = np.abs(ta - tb)
    out["time"] = np.where((ta >= 0) & (tb >= 0), np.select([gap <= 31, gap <= 366], [0, 1], 2), NULL)
    return {f: np.asarray(v, dtype=np.int8) for f, v in out.items()}


def _name_jw(c: Coded, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jaro–Winkler of the name keys of code pairs, once per distinct pair."""
    ux, uy, inverse = unique_pairs(x, y)
    return F.jaro_winkler_many(c.names[ux], c.names[uy])[inverse]


def _token_overlap(c: Coded, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of place tokens in common (over the shorter token set) of address-token code pairs."""
    out = np.zeros(len(x))
    ok = (x >= 0) & (y >= 0)
    if not ok.any():
        return out
    ux, uy, inverse = unique_pairs(x[ok], y[ok])
    ta, tb = c.token_mat[ux], c.token_mat[uy]
    common = np.zeros(len(ux), dtype=np.int64)
    for k in range(ta.shape[1]):
        token = ta[:, k:k + 1]
        common += ((tb == token) & (token >= 0)).any(axis=1)
    shorter = np.minimum(c.token_size[ux], c.token_size[uy])
    share = np.where(shorter > 0, common / np.maximum(shorter, 1), 0.0)
    out[ok] = share[inverse]
    return out
