"""Probabilistic record linkage of parties into persons (pure): blocking, Fellegi–Sunter, clustering.

1. **Blocking** (``candidate_pairs``): only pairs that share a key are compared: the ID body (the first 17
   characters), the phone, the full name within a district, the name's pinyin with the birth date from
   the ID. Groups larger than ``max_block`` (a switchboard phone, a name shared by hundreds) are skipped
   for that key and counted.
2. **Comparison vectors** (``compare``): per pair and field, a level: ID (same / same body / one typo /
   different), phone (same / different), name (same / homophone / similar / different), address (same /
   overlapping / different), district (same / different); a field missing on either side, or a name
   that is only a surname or anonymous (王先生, 李女士, 匿名), gives no evidence either way, except that
   a surname-only name with another surname is a different name.
3. **Fellegi–Sunter** (``estimate``, ``score``): ``u`` (how often a level occurs between two different
   persons) from random pairs, ``m`` (between records of the same person) and the match prior by
   expectation–maximisation on the blocked pairs, fields independent given the match status; an exact
   name's ``u`` is the frequency of that name (a common name such as 张伟 weighs little).
4. **Clustering** (``cluster``): links above the threshold, strongest first, join records with a
   union-find that refuses to join two clusters holding different valid ID numbers, or the two sides of
   an analyst's split (``Constraints.cannot_link``); an analyst's ``must_link`` pairs are joined first. A
   pair that agrees on the name (and district) alone, or whose full names differ outright without a
   shared ID, is never a link (``never_linked``). Labels are the smallest record id of each cluster, so
   the result does not depend on row order.

``resolve`` runs all four on a set of records; ``resolve_incremental`` places new records among persons
already resolved, with a fitted model and without comparing the known records with each other.

Speed: every feature is turned once into integer codes (``encode``); comparisons, blocking and the EM
work on codes, the EM on the distinct comparison patterns (with their counts), and the sequential
union-find runs only on the connected components of links where a constraint could refuse a union (two
valid ID numbers, an analyst's split): elsewhere its result is the connected component itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from riskwatch.persons import features as F
from riskwatch.schema import require_columns

FIELDS: tuple[str, ...] = ("id", "phone", "name", "address", "district")
NULL = -1   # level of a field that gives no evidence
LEVELS: dict[str, tuple[str, ...]] = {
    "id": ("same", "same_body", "one_typo", "different"),
    "phone": ("same", "different"),
    "name": ("same", "homophone", "similar", "different"),
    "address": ("same", "overlap", "different"),
    "district": ("same", "different"),
}
NAME_SIMILAR = 0.88      # Jaro–Winkler of the characters above which two different names are "similar"
ADDRESS_OVERLAP = 0.8    # share of place tokens in common above which two addresses "overlap"
PERSON_ID = "person_id"  # the person label of a known record (``resolve_incremental``)
CHUNK = 1_000_000        # pairs compared at a time (bounds the temporaries)


@dataclass(frozen=True)
class LinkageOptions:
    max_block: int = 300          # a blocking group larger than this is skipped for its key
    threshold: float = 0.95       # match probability above which a pair is a link
    em_iterations: int = 50
    u_sample: int = 200_000       # random pairs that estimate u
    seed: int = 17


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


@dataclass
class Model:
    """Fellegi–Sunter parameters: per field and level, m and u; the prior match probability."""

    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float
    name_tf: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))   # name_key -> frequency

    def describe(self) -> pd.DataFrame:
        rows = []
        for f in FIELDS:
            for i, level in enumerate(LEVELS[f]):
                rows.append({"field": f, "level": level, "m": self.m[f][i], "u": self.u[f][i],
                             "weight": float(np.log2(self.m[f][i] / self.u[f][i]))})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``{"prior": p, "m": {field: [per level]}, "u": {field: [per level]}}`` (JSON-serializable;
        not the name frequencies, which are recomputed from the records when scoring)."""
        return {"prior": float(self.prior),
                "m": {f: [float(x) for x in self.m[f]] for f in FIELDS},
                "u": {f: [float(x) for x in self.u[f]] for f in FIELDS}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Model:
        """The model of ``to_dict``; raises ``ValueError`` naming a missing field or a wrong level count."""
        for key in ("prior", "m", "u"):
            if key not in d:
                raise ValueError(f"Model.from_dict: missing key {key!r}")
        arrays: dict[str, dict[str, np.ndarray]] = {"m": {}, "u": {}}
        for part in ("m", "u"):
            for f in FIELDS:
                if f not in d[part]:
                    raise ValueError(f"Model.from_dict: {part} has no field {f!r}")
                values = np.asarray(d[part][f], dtype=float)
                if values.shape != (len(LEVELS[f]),):
                    raise ValueError(f"Model.from_dict: {part}[{f!r}] has {values.size} levels, "
                                     f"expected {len(LEVELS[f])}")
                arrays[part][f] = values
        return cls(m=arrays["m"], u=arrays["u"], prior=float(d["prior"]))


@dataclass
class Resolution:
    labels: np.ndarray        # per record (aligned with the input feats): the person label
    confidence: np.ndarray    # per record, in [0,1]: the probability of the strongest accepted link that holds it in its person; 1.0 for a person of one record; 1.0 for must-linked records
    model: Model
    pairs: int                # candidate pairs compared
    skipped_groups: dict[str, int]
    merged: dict[str, str]    # incremental only: an existing person label -> the label it was merged into (a new record bridged two known persons); {} for a full run


# --- encoding -------------------------------------------------------------------------------------
def _factorize(values: Any, empty_missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``values`` and the distinct values (object array); ``""`` and missing values get
    -1 when ``empty_missing``."""
    s = pd.Series(np.asarray(values, dtype=object) if isinstance(values, np.ndarray) else values)
    codes, uniques = pd.factorize(s.fillna(""), sort=False)
    uniq = np.asarray(uniques, dtype=object)
    codes = codes.astype(np.int64, copy=False)
    if empty_missing and len(uniq):
        empty = np.flatnonzero(uniq == "")
        if len(empty):
            remap = np.arange(len(uniq), dtype=np.int64)
            remap[empty] = -1
            codes = remap[codes]
    return codes, uniq


@dataclass(frozen=True)
class Coded:
    """The comparison features of ``FEATURE_COLUMNS`` as integer codes (one row per record, by position).

    Text codes are -1 where the text is empty unless noted; ``rank`` orders the records by record id.
    """

    record_id: np.ndarray    # object
    rank: np.ndarray         # position of each record in the order of record ids
    full: np.ndarray         # bool: a full name
    anonymous: np.ndarray    # bool
    name: np.ndarray         # name_key code ("" included, never -1)
    names: np.ndarray        # the distinct name keys
    pinyin: np.ndarray       # name_pinyin code ("" included)
    surname: np.ndarray
    id_mat: np.ndarray       # N×18 uint8 of id18 (zeros where absent)
    has_id: np.ndarray       # bool
    id_body: np.ndarray
    valid_id: np.ndarray     # id_body code of a valid ID number, else -1
    birth: np.ndarray
    phone: np.ndarray
    address: np.ndarray
    tokens: np.ndarray       # address_tokens code
    token_mat: np.ndarray    # per address_tokens code: its token ids, padded with -1
    token_size: np.ndarray   # per address_tokens code: its number of distinct tokens
    district: np.ndarray

    def __len__(self) -> int:
        return len(self.record_id)


def encode(feats: pd.DataFrame) -> Coded:
    """The integer codes of a features frame (``FEATURE_COLUMNS``, as ``party_features`` returns)."""
    require_columns(feats.columns, F.FEATURE_COLUMNS, "encode")
    feats = feats.reset_index(drop=True)
    rid = np.asarray(feats[F.RECORD_ID].astype(str), dtype=object)
    order = np.argsort(rid, kind="stable")
    rank = np.empty(len(rid), dtype=np.int64)
    rank[order] = np.arange(len(rid))
    kind = feats[F.NAME_KIND].to_numpy(dtype=object)
    name, names = _factorize(feats[F.NAME_KEY], empty_missing=False)
    pinyin, _ = _factorize(feats[F.NAME_PINYIN], empty_missing=False)
    id_mat, has_id = F.id_matrix(feats[F.ID18].to_numpy(dtype=object))
    id_body, _ = _factorize(feats[F.ID_BODY])
    valid = feats[F.ID_VALID].fillna(False).to_numpy(dtype=bool)
    tokens, token_text = _factorize(feats[F.ADDRESS_TOKENS])
    token_mat, token_size = _token_matrix(token_text)
    return Coded(
        record_id=rid, rank=rank, full=kind == F.FULL, anonymous=kind == F.ANONYMOUS,
        name=name, names=names, pinyin=pinyin, surname=_factorize(feats[F.SURNAME])[0],
        id_mat=id_mat, has_id=has_id, id_body=id_body, valid_id=np.where(valid, id_body, -1),
        birth=_factorize(feats[F.BIRTH])[0], phone=_factorize(feats[F.PHONE_KEY])[0],
        address=_factorize(feats[F.ADDRESS_KEY])[0], tokens=tokens, token_mat=token_mat, token_size=token_size,
        district=_factorize(feats[F.DISTRICT])[0],
    )


def _coded(feats: pd.DataFrame | Coded) -> Coded:
    return feats if isinstance(feats, Coded) else encode(feats)


# --- blocking -------------------------------------------------------------------------------------
BLOCKING_KEYS: tuple[str, ...] = ("id_body", "phone", "name_district", "pinyin_birth")
# EM sessions (as Splink trains): the pairs one key proposed, and the fields whose m they can estimate
# (not those the key fixes). Phone pairs are not a session: households share phones and would teach
# the model that a different name is normal for one person.
EM_SESSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id_body", ("phone", "name", "address", "district")),
    ("name_district", ("id", "phone", "address")),
)


def _combine(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """One code per distinct ``(a, b)`` where ``ok`` and both are present, else -1."""
    ok = ok & (a >= 0) & (b >= 0)
    out = np.full(len(a), -1, dtype=np.int64)
    out[ok] = a[ok] * (int(b.max(initial=0)) + 1) + b[ok]
    return out


def blocking_keys(feats: pd.DataFrame | Coded) -> dict[str, np.ndarray]:
    """The blocking key codes of each record (by position), -1 where a key does not apply."""
    c = _coded(feats)
    return {
        "id_body": c.id_body,
        "phone": c.phone,
        "name_district": _combine(c.name, c.district, c.full),
        "pinyin_birth": _combine(c.pinyin, c.birth, c.full),
    }


def _pairs_within(codes: np.ndarray, max_block: int, new: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs of positions sharing a key code >= 0 (groups above ``max_block`` skipped and counted).

    With ``new`` (a mask of records), only the groups holding a new record, and only their pairs with at
    least one new record. Vectorized per group size (at most ``max_block`` sizes).
    """
    pos = np.flatnonzero(codes >= 0)
    empty = np.empty(0, np.int64)
    if not len(pos):
        return empty, empty, 0
    pos = pos[np.argsort(codes[pos], kind="stable")]
    c = codes[pos]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    sizes = np.diff(np.r_[starts, len(c)])
    relevant = np.ones(len(starts), dtype=bool)
    if new is not None:
        relevant = np.add.reduceat(new[pos].astype(np.int64), starts) > 0
    skipped = int((relevant & (sizes > max_block)).sum())
    keep = relevant & (sizes >= 2) & (sizes <= max_block)
    left, right = [], []
    for s in np.unique(sizes[keep]):
        members = pos[starts[keep & (sizes == s)][:, None] + np.arange(s)]
        i, j = np.triu_indices(int(s), 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        if new is not None:
            either = new[a] | new[b]
            a, b = a[either], b[either]
        left.append(a)
        right.append(b)
    if not left:
        return empty, empty, skipped
    return np.concatenate(left), np.concatenate(right), skipped


def _candidate_pairs(c: Coded, options: LinkageOptions, new: np.ndarray | None = None
                     ) -> tuple[pd.DataFrame, dict[str, int]]:
    n = len(c) + 1
    codes, bits, skipped = [], [], {}
    for index, (key, values) in enumerate(blocking_keys(c).items()):
        a, b, k = _pairs_within(values, options.max_block, new)
        codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
        bits.append(np.full(len(a), 1 << index, dtype=np.int64))
        skipped[key] = k
    code, bit = np.concatenate(codes), np.concatenate(bits)
    order = np.argsort(code, kind="stable")
    code, bit = code[order], bit[order]
    first = np.r_[True, code[1:] != code[:-1]] if len(code) else np.empty(0, dtype=bool)
    starts = np.flatnonzero(first)
    uniq = code[starts]
    mask = np.bitwise_or.reduceat(bit, starts) if len(starts) else np.empty(0, dtype=np.int64)
    return pd.DataFrame({"left": uniq // n, "right": uniq % n, "keys": mask}), skipped


def candidate_pairs(feats: pd.DataFrame | Coded, options: LinkageOptions = LinkageOptions()
                    ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Unique candidate pairs ``(left, right)`` of positions (left < right) with ``keys``, a bit mask of
    the blocking keys that proposed the pair (bit i = ``BLOCKING_KEYS[i]``), and, per key, the number of
    groups skipped for being larger than ``max_block``."""
    return _candidate_pairs(_coded(feats), options)


# --- comparisons ----------------------------------------------------------------------------------
def compare(feats: pd.DataFrame | Coded, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """The comparison level of every field for each pair of positions (``NULL``: no evidence)."""
    c = _coded(feats)
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
    return {f: np.asarray(v, dtype=np.int8) for f, v in out.items()}


def _unique_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(x, y)`` code pairs (x, y >= -1) and, per input pair, the index of its distinct pair."""
    x, y = x.astype(np.int64, copy=False), y.astype(np.int64, copy=False)
    width = int(max(x.max(initial=0), y.max(initial=0))) + 2
    key = (x + 1) * width + (y + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq // width - 1, uniq % width - 1, inverse


def _name_jw(c: Coded, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jaro–Winkler of the name keys of code pairs, once per distinct pair."""
    ux, uy, inverse = _unique_pairs(x, y)
    return F.jaro_winkler_many(c.names[ux], c.names[uy])[inverse]


def _token_matrix(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct ``address_tokens`` text: its distinct tokens as integer ids (a row padded with -1) and
    their number."""
    if not len(texts):
        return np.full((0, 1), -1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lists = pc.split_pattern(pa.array(texts.tolist(), type=pa.string()), " ")
    flat = np.asarray(pc.list_flatten(lists).to_numpy(zero_copy_only=False), dtype=object)
    parent = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    tok, _ = pd.factorize(flat)
    keep = flat != ""
    width = int(tok.max(initial=0)) + 1
    cell = np.unique(parent[keep] * width + tok[keep])       # distinct (text, token), sorted by text
    row, tok = cell // width, cell % width
    size = np.bincount(row, minlength=len(texts))
    starts = np.r_[0, np.cumsum(size)[:-1]]
    mat = np.full((len(texts), max(int(size.max(initial=0)), 1)), -1, dtype=np.int64)
    mat[row, np.arange(len(row)) - starts[row]] = tok
    return mat, size


def _token_overlap(c: Coded, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of place tokens in common (over the shorter token set) of address-token code pairs."""
    out = np.zeros(len(x))
    ok = (x >= 0) & (y >= 0)
    if not ok.any():
        return out
    ux, uy, inverse = _unique_pairs(x[ok], y[ok])
    ta, tb = c.token_mat[ux], c.token_mat[uy]
    common = np.zeros(len(ux), dtype=np.int64)
    for k in range(ta.shape[1]):
        token = ta[:, k:k + 1]
        common += ((tb == token) & (token >= 0)).any(axis=1)
    shorter = np.minimum(c.token_size[ux], c.token_size[uy])
    share = np.where(shorter > 0, common / np.maximum(shorter, 1), 0.0)
    out[ok] = share[inverse]
    return out


# --- Fellegi–Sunter -------------------------------------------------------------------------------
def _level_freq(levels: np.ndarray, n_levels: int) -> np.ndarray:
    seen = levels[levels != NULL]
    counts = np.bincount(seen, minlength=n_levels).astype(float) + 0.5   # smoothed: no level has u = 0
    return counts / counts.sum()


M_FLOOR = 0.001   # no level is impossible for one person (a move, a second phone, a typo)


def _floored(m: np.ndarray) -> np.ndarray:
    m = np.maximum(m, M_FLOOR)
    return m / m.sum()


def _log_u(gamma: pd.DataFrame, f: str, u: dict[str, np.ndarray], name_u: np.ndarray | None) -> np.ndarray:
    """log u of each pair's level of field ``f`` (0 where NULL); an exact name's u is its frequency."""
    g = gamma[f].to_numpy()
    out = np.zeros(len(g))
    ok = g != NULL
    out[ok] = np.log(u[f][g[ok]])
    if f == "name" and name_u is not None:
        exact = g == 0
        out[exact] = np.log(np.maximum(name_u[exact], 1e-12))
    return out


def _patterns(gamma: pd.DataFrame, name_u: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The distinct rows of ``(gamma, name_u where the name is exact)`` with their counts, in a canonical
    order (so that the EM's sums do not depend on the order of the pairs): the EM sees each comparison
    pattern once, weighted."""
    key = np.zeros(len(gamma), dtype=np.int64)
    for f in FIELDS:
        key = key * 5 + (gamma[f].to_numpy().astype(np.int64) + 1)
    exact_u = np.where(gamma["name"].to_numpy() == 0, name_u, 0.0)
    u_code, u_values = pd.factorize(exact_u)
    u_values = np.asarray(u_values, dtype=float)
    u_order = np.argsort(u_values, kind="stable")
    u_rank = np.empty(len(u_values), dtype=np.int64)
    u_rank[u_order] = np.arange(len(u_values))
    n_u = max(len(u_values), 1)
    codes, uniques = pd.factorize(key * n_u + u_rank[u_code])
    counts = np.bincount(codes, minlength=len(uniques)).astype(float)
    order = np.argsort(np.asarray(uniques), kind="stable")
    uniq, counts = np.asarray(uniques)[order], counts[order]
    levels, u_of = uniq // n_u, u_values[u_order][uniq % n_u] if len(u_values) else np.zeros(len(uniq))
    rows = {}
    for f in reversed(FIELDS):
        rows[f] = (levels % 5 - 1).astype(np.int8)
        levels = levels // 5
    return pd.DataFrame({f: rows[f] for f in FIELDS}), u_of, counts


def _em(gamma: pd.DataFrame, fields: Sequence[str], m: dict[str, np.ndarray], u: dict[str, np.ndarray],
        iterations: int, name_u: np.ndarray | None, update_m: bool = True
        ) -> tuple[dict[str, np.ndarray], float]:
    """Expectation–maximisation of m (for ``fields``) and the share of matches, u held fixed (on the
    distinct comparison patterns, each weighted by its count)."""
    gamma, name_u, weight = _patterns(gamma, name_u if name_u is not None else np.zeros(len(gamma)))
    total = max(weight.sum(), 1e-12)
    g = {f: gamma[f].to_numpy() for f in fields}
    m = {f: m[f].copy() for f in fields}
    log_u = sum(_log_u(gamma, f, u, name_u) for f in fields)
    prior = 0.5
    for _ in range(iterations):
        lm = np.full(len(gamma), np.log(prior))
        lu = np.full(len(gamma), np.log(1 - prior)) + log_u
        for f in fields:
            ok = g[f] != NULL
            lm[ok] += np.log(m[f][g[f][ok]])
        p = 1.0 / (1.0 + np.exp(np.clip(lu - lm, -700, 700)))
        new_prior = float(np.clip((p * weight).sum() / total, 1e-6, 1 - 1e-6))
        if update_m:
            for f in fields:
                ok = g[f] != NULL
                counts = np.bincount(g[f][ok], weights=(p * weight)[ok], minlength=len(LEVELS[f]))
                m[f] = _floored(counts / max(counts.sum(), 1e-12))
        converged = abs(new_prior - prior) < 1e-7
        prior = new_prior
        if converged:
            break
    return m, prior


def name_frequencies(feats: pd.DataFrame | Sequence[pd.DataFrame]) -> pd.Series:
    """``name_key`` -> share among the full names of the records (of one or several feature frames)."""
    frames = [feats] if isinstance(feats, pd.DataFrame) else list(feats)
    keys = pd.concat([f.loc[f[F.NAME_KIND] == F.FULL, F.NAME_KEY].astype(str) for f in frames],
                     ignore_index=True)
    return keys.value_counts(normalize=True)


def estimate(feats: pd.DataFrame | Coded, pairs: pd.DataFrame, gamma: pd.DataFrame,
             options: LinkageOptions = LinkageOptions()) -> Model:
    """u from random pairs; m by EM sessions on the pairs of one blocking key each (``EM_SESSIONS``),
    averaged over the sessions that could estimate a field; then the share of matches among all
    candidate pairs (the prior of a candidate pair) by EM with m and u fixed.

    The random pairs are drawn from the records in record-id order, so the model does not depend on
    row order.
    """
    c = _coded(feats)
    rng = np.random.default_rng(options.seed)
    n = len(c)
    by_id = np.argsort(c.rank)
    i = by_id[rng.integers(0, n, options.u_sample)]
    j = by_id[rng.integers(0, n, options.u_sample)]
    keep = i != j
    random_gamma = compare(c, i[keep], j[keep])
    u = {f: _level_freq(random_gamma[f].to_numpy(), len(LEVELS[f])) for f in FIELDS}
    start = {f: np.linspace(0.9, 0.1, len(LEVELS[f])) / np.linspace(0.9, 0.1, len(LEVELS[f])).sum()
             for f in FIELDS}
    estimates: dict[str, list[np.ndarray]] = {f: [] for f in FIELDS}
    tf = _name_tf(c)
    name_u = _name_u(c, pairs, tf)
    keys = pairs["keys"].to_numpy()
    for key, free in EM_SESSIONS:
        sel = (keys & (1 << BLOCKING_KEYS.index(key))) != 0
        if sel.sum() < 10:
            continue
        got, _ = _em(gamma.loc[sel], free, start, u, options.em_iterations, name_u[sel])
        for f in free:
            estimates[f].append(got[f])
    m = {f: np.mean(estimates[f], axis=0) if estimates[f] else start[f] for f in FIELDS}
    _, prior = _em(gamma, FIELDS, m, u, options.em_iterations, name_u, update_m=False)
    return Model(m=m, u=u, prior=prior, name_tf=tf)


def _name_tf(c: Coded) -> pd.Series:
    counts = np.bincount(c.name[c.full], minlength=len(c.names))
    present = np.flatnonzero(counts)
    tf = pd.Series(counts[present] / max(int(c.full.sum()), 1), index=c.names[present].astype(str))
    return tf.sort_values(ascending=False, kind="stable")


def _name_u(c: Coded, pairs: pd.DataFrame, tf: pd.Series) -> np.ndarray:
    """Per pair, the frequency of the left record's name (the u of an exact name match)."""
    per_name = tf.reindex(c.names.astype(str)).fillna(1.0 / max(len(c), 1)).to_numpy()
    return per_name[c.name[pairs["left"].to_numpy()]] if len(per_name) else np.zeros(len(pairs))


def score(feats: pd.DataFrame | Coded, pairs: pd.DataFrame, gamma: pd.DataFrame, model: Model) -> np.ndarray:
    """Match probability of each candidate pair; an exact name's u is that name's frequency."""
    c = _coded(feats)
    name_u = _name_u(c, pairs, model.name_tf)
    weight = np.full(len(gamma), np.log(model.prior / (1 - model.prior)))
    for f in FIELDS:
        g = gamma[f].to_numpy()
        ok = g != NULL
        weight[ok] += np.log(model.m[f][g[ok]])
        weight -= _log_u(gamma, f, model.u, name_u)
    return 1.0 / (1.0 + np.exp(-np.clip(weight, -700, 700)))


# --- clustering -----------------------------------------------------------------------------------
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
class _Links:
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


def _components(n: int, links: _Links) -> np.ndarray:
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


def _constrained(comp: np.ndarray, valid_id: np.ndarray, links: _Links) -> np.ndarray:
    """Mask of the components where a constraint could refuse a union: two valid ID numbers or a
    record on a side of a cannot-link."""
    flagged = np.zeros(int(comp.max(initial=-1)) + 1, dtype=bool)
    has = valid_id >= 0
    if has.any():
        comps, _, _ = _unique_pairs(comp[has], valid_id[has])
        per_comp = np.bincount(comps, minlength=len(flagged))
        flagged |= per_comp > 1
    for pos in links.sides:
        flagged[comp[pos]] = True
    return flagged


def _link(n: int, rank: np.ndarray, valid_id: np.ndarray, links: _Links) -> tuple[np.ndarray, np.ndarray]:
    """``(root, confidence)`` per record: the person (a component code) each record belongs to, and the
    probability of the strongest accepted link inside its person (1.0 alone or must-linked)."""
    comp = _components(n, links)
    flagged = _constrained(comp, valid_id, links)
    root = comp.copy()
    todo = flagged[comp]
    if todo.any():
        root[todo] = _union_find(np.flatnonzero(todo), rank, valid_id, links) + comp.max() + 1
    same = root[links.left] == root[links.right]
    conf = np.where(np.bincount(root, minlength=int(root.max(initial=0)) + 1)[root] == 1, 1.0, 0.0)
    np.maximum.at(conf, links.left[same], links.prob[same])
    np.maximum.at(conf, links.right[same], links.prob[same])
    conf[links.must_a] = 1.0
    conf[links.must_b] = 1.0
    return root, conf


def _union_find(members: np.ndarray, rank: np.ndarray, valid_id: np.ndarray, links: _Links) -> np.ndarray:
    """The sequential, constrained union-find on the records ``members`` (whole components): initial
    groups, then must-link pairs, then links strongest first, ties by record ids. Returns a root per
    member (a position)."""
    local = {int(p): k for k, p in enumerate(members.tolist())}
    parent = list(range(len(members)))
    ids: list[set[int]] = [{int(valid_id[p])} if valid_id[p] >= 0 else set() for p in members]
    sides: list[set[tuple[int, int]]] = [set(links.sides.get(int(p), ())) for p in members]

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(ra: int, rb: int) -> None:
        parent[rb] = ra
        ids[ra] |= ids[rb]
        sides[ra] |= sides[rb]

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
    for (a, b), names in zip(zip(links.must_a.tolist(), links.must_b.tolist(), strict=True), links.must_ids,
                             strict=True):
        if a not in local:
            continue
        ra, rb = find(local[a]), find(local[b])
        if ra == rb:
            continue
        if split(ra, rb):
            bad = next(k for k, s in sides[ra] if (k, 1 - s) in sides[rb])
            raise ConstraintConflict(names, bad)
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
        join(ra, rb)
    return members[np.array([find(k) for k in range(len(members))], dtype=np.int64)]


def _accepted(pairs: pd.DataFrame, prob: np.ndarray, gamma: pd.DataFrame, threshold: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = (prob >= threshold) & ~never_linked(gamma)
    return pairs["left"].to_numpy()[ok], pairs["right"].to_numpy()[ok], prob[ok]


def _smallest_id(root: np.ndarray, rank: np.ndarray, record_ids: np.ndarray) -> np.ndarray:
    """Per record, the smallest record id of its cluster."""
    best = np.full(int(root.max(initial=0)) + 1, len(rank), dtype=np.int64)
    np.minimum.at(best, root, rank)
    by_rank = np.argsort(rank)
    return record_ids[by_rank[best[root]]] if len(root) else np.empty(0, dtype=object)


def cluster(record_ids: Sequence[str], valid_ids: Sequence[str], pairs: pd.DataFrame, prob: np.ndarray,
            gamma: pd.DataFrame, threshold: float, constraints: Constraints = Constraints()) -> np.ndarray:
    """Cluster label (the smallest record id of the cluster) of each record.

    Links (probability >= ``threshold``, not ``never_linked``) are taken strongest first, ties by record ids;
    two clusters holding different valid ID numbers, or records of both sides of a cannot-link, are never
    joined; must-link pairs are joined first.
    """
    rid = np.asarray(record_ids, dtype=object).astype(str).astype(object)
    rank = np.empty(len(rid), dtype=np.int64)
    rank[np.argsort(rid, kind="stable")] = np.arange(len(rid))
    valid = _factorize(pd.Series(list(valid_ids), dtype=object))[0]
    root, _ = _link(len(rid), rank, valid, _make_links(rid, pairs, prob, gamma, threshold, constraints))
    return _smallest_id(root, rank, rid)


def _make_links(record_ids: np.ndarray, pairs: pd.DataFrame, prob: np.ndarray, gamma: pd.DataFrame,
                threshold: float, constraints: Constraints, initial: np.ndarray | None = None) -> _Links:
    left, right, p = _accepted(pairs, prob, gamma, threshold)
    ma, mb, must_ids, sides = _constraint_positions(record_ids, constraints)
    return _Links(left=left, right=right, prob=p, must_a=ma, must_b=mb, must_ids=must_ids, sides=sides,
                  initial=initial if initial is not None else np.full(len(record_ids), -1, dtype=np.int64))


def resolve(feats: pd.DataFrame, options: LinkageOptions = LinkageOptions(),
            constraints: Constraints = Constraints()) -> Resolution:
    """Resolve records into persons: blocking, comparison, EM fit, scoring and constrained clustering.

    ``feats``: ``FEATURE_COLUMNS`` (``party_features``). Returns the person label of every record
    (aligned with ``feats``: the smallest record id of its person), the confidence of each record's
    place, the fitted model and the blocking figures.
    """
    c = encode(feats)
    pairs, skipped = _candidate_pairs(c, options)
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    gamma = compare(c, left, right)
    model = estimate(c, pairs, gamma, options)
    prob = score(c, pairs, gamma, model)
    links = _make_links(c.record_id, pairs, prob, gamma, options.threshold, constraints)
    root, conf = _link(len(c), c.rank, c.valid_id, links)
    return Resolution(labels=_smallest_id(root, c.rank, c.record_id), confidence=conf, model=model,
                      pairs=len(pairs), skipped_groups=skipped, merged={})


# --- incremental ----------------------------------------------------------------------------------
def _isin(column: pd.Series, values: Any) -> np.ndarray:
    """Mask of the rows of a text column whose value is among ``values`` (Arrow's hash lookup: pandas'
    ``isin`` on Arrow strings walks the values in Python)."""
    col = pa.array(column.astype("str"), from_pandas=True)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.large_string())
    value_set = pa.array([str(v) for v in values], type=pa.string()).cast(col.type)
    return np.asarray(pc.fill_null(pc.is_in(col, value_set=value_set), False), dtype=bool)


def _touching(known: pd.DataFrame, new: pd.DataFrame, constraints: Constraints) -> np.ndarray:
    """Mask of the known records an incremental run needs: those that may share a blocking key with a
    new record (a superset), those named by a constraint, and every record of the persons they belong to
    (for their ID numbers and cannot-link sides)."""
    def among(col: str, where: pd.Series | None = None) -> np.ndarray:
        values = new[col] if where is None else new.loc[where, col]
        return _isin(known[col], pd.unique(values[values.astype(bool)].astype(str)))

    new_full = new[F.NAME_KIND] == F.FULL
    known_full = (known[F.NAME_KIND] == F.FULL).to_numpy(dtype=bool)
    hit = among(F.ID_BODY) | among(F.PHONE_KEY)
    hit |= known_full & among(F.NAME_KEY, new_full) & among(F.DISTRICT)
    hit |= known_full & among(F.NAME_PINYIN, new_full) & among(F.BIRTH)
    named = {r for x, y in constraints.must_link for r in (x, y)}
    named |= {r for a, b in constraints.cannot_link for r in (*a, *b)}
    if named:
        hit |= _isin(known[F.RECORD_ID], named)
    return _isin(known[PERSON_ID], pd.unique(known.loc[hit, PERSON_ID].astype(str)))


def resolve_incremental(known: pd.DataFrame, new: pd.DataFrame, model: Model,
                        options: LinkageOptions = LinkageOptions(),
                        constraints: Constraints = Constraints()) -> Resolution:
    """Place ``new`` records among the persons already resolved (``known``), with a fitted ``model``.

    ``known``: ``FEATURE_COLUMNS`` + ``person_id`` (kept as they are: a known record changes person only
    when a new record links strongly to two known persons whose ID numbers allow it, and the two whole
    persons merge, under the smaller label). ``new``: ``FEATURE_COLUMNS``. Only pairs with a new record
    are compared (new×new, new×known), scored with ``model`` (no refit; the name frequencies come from
    known + new), clustered as in ``resolve`` (ID numbers, ``constraints``). Known persons are taken as
    they are, even where they break a constraint. Returns, aligned with ``new``: the ``person_id`` (as text)
    each record joined, or, for a new person, its smallest record id; ``merged`` maps each absorbed person to
    the person it was merged into.
    """
    require_columns(known.columns, [*F.FEATURE_COLUMNS, PERSON_ID], "resolve_incremental (known)")
    require_columns(new.columns, F.FEATURE_COLUMNS, "resolve_incremental (new)")
    known = known.reset_index(drop=True)
    new = new.reset_index(drop=True)
    clash = _isin(known[F.RECORD_ID], new[F.RECORD_ID].astype(str).unique())
    if clash.any():
        raise ValueError(f"resolve_incremental: {int(clash.sum())} new record ids are already known, "
                         f"e.g. {known.loc[clash, F.RECORD_ID].iloc[0]!r}")
    model = replace(model, name_tf=name_frequencies([known, new]))
    part = known.loc[_touching(known, new, constraints)]
    sub = pd.concat([new[list(F.FEATURE_COLUMNS)], part[list(F.FEATURE_COLUMNS)]], ignore_index=True)
    c = encode(sub)
    n_new = len(new)
    is_new = np.arange(len(c)) < n_new
    pairs, skipped = _candidate_pairs(c, options, new=is_new)
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    gamma = compare(c, left, right)
    prob = score(c, pairs, gamma, model)
    person = np.r_[np.full(n_new, "", dtype=object), part[PERSON_ID].astype(str).to_numpy(dtype=object)]
    person_code, person_names = _factorize(person)
    links = _make_links(c.record_id, pairs, prob, gamma, options.threshold, constraints, initial=person_code)
    root, conf = _link(len(c), c.rank, c.valid_id, links)
    labels, merged = _incremental_labels(root, c, person_code, person_names)
    return Resolution(labels=labels[:n_new], confidence=conf[:n_new], model=model, pairs=len(pairs),
                      skipped_groups=skipped, merged=merged)


def _incremental_labels(root: np.ndarray, c: Coded, person_code: np.ndarray, person_names: np.ndarray
                        ) -> tuple[np.ndarray, dict[str, str]]:
    """Per record, its cluster's smallest known person label, or the smallest record id where the
    cluster holds no known record; and the known persons merged into another."""
    labels = _smallest_id(root, c.rank, c.record_id).copy()
    known = person_code >= 0
    frame = pd.DataFrame({"root": root[known], "person": person_names[person_code[known]].astype(str)})
    frame = frame.drop_duplicates()
    keep = frame.groupby("root")["person"].min()
    where = pd.Series(root).map(keep)
    has = where.notna().to_numpy()
    labels[has] = where[has].to_numpy(dtype=object)
    frame["into"] = frame["root"].map(keep)
    moved = frame[frame["person"] != frame["into"]]
    merged = dict(sorted(zip(moved["person"], moved["into"], strict=True)))
    return labels, merged
