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
   union-find that refuses to join two clusters holding different valid ID numbers; a pair that agrees on
   the name (and district) alone, or whose full names differ outright without a shared ID, is never a
   link (``never_linked``). Labels are the smallest record id of each cluster, so
   the result does not depend on row order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskwatch.persons import features as F

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


@dataclass(frozen=True)
class LinkageOptions:
    max_block: int = 300          # a blocking group larger than this is skipped for its key
    threshold: float = 0.95       # match probability above which a pair is a link
    em_iterations: int = 50
    u_sample: int = 200_000       # random pairs that estimate u
    seed: int = 17


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


# --- blocking -------------------------------------------------------------------------------------
def _pairs_within(keys: pd.Series, max_block: int) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs of positions sharing a non-empty key (groups above ``max_block`` skipped)."""
    keys = keys[keys.astype(bool)]
    if keys.empty:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    codes, uniques = pd.factorize(keys, sort=False)
    sizes = np.bincount(codes)
    keep = (sizes >= 2) & (sizes <= max_block)
    skipped = int((sizes > max_block).sum())
    pos = keys.index.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    left, right = [], []
    for g in np.flatnonzero(keep):
        members = pos[order[bounds[g]:bounds[g + 1]]]
        i, j = np.triu_indices(len(members), 1)
        left.append(members[i])
        right.append(members[j])
    if not left:
        return np.empty(0, np.int64), np.empty(0, np.int64), skipped
    return np.concatenate(left), np.concatenate(right), skipped


BLOCKING_KEYS: tuple[str, ...] = ("id_body", "phone", "name_district", "pinyin_birth")
# EM sessions (as Splink trains): the pairs one key proposed, and the fields whose m they can estimate
# (not those the key fixes). Phone pairs are not a session: households share phones and would teach
# the model that a different name is normal for one person.
EM_SESSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id_body", ("phone", "name", "address", "district")),
    ("name_district", ("id", "phone", "address")),
)


def blocking_keys(feats: pd.DataFrame) -> dict[str, pd.Series]:
    """The blocking keys of each record (positional index), empty string where a key does not apply."""
    full = feats[F.NAME_KIND].to_numpy() == "full"
    name = feats[F.NAME_KEY].where(full, "")
    pinyin = feats[F.NAME_PINYIN].where(full, "")
    district = feats[F.DISTRICT].fillna("")
    birth = feats[F.BIRTH].fillna("")
    return {
        "id_body": feats[F.ID_BODY].fillna(""),
        "phone": feats[F.PHONE_KEY].fillna(""),
        "name_district": (name + "|" + district).where(name.astype(bool) & district.astype(bool), ""),
        "pinyin_birth": (pinyin + "|" + birth).where(pinyin.astype(bool) & birth.astype(bool), ""),
    }


def candidate_pairs(feats: pd.DataFrame, options: LinkageOptions = LinkageOptions()
                    ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Unique candidate pairs ``(left, right)`` of positions (left < right) with ``keys``, a bit mask of
    the blocking keys that proposed the pair (bit i = ``BLOCKING_KEYS[i]``), and, per key, the number of
    groups skipped for being larger than ``max_block``."""
    feats = feats.reset_index(drop=True)
    n = len(feats) + 1
    codes, bits, skipped = [], [], {}
    for bit, (key, values) in enumerate(blocking_keys(feats).items()):
        a, b, k = _pairs_within(values, options.max_block)
        codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
        bits.append(np.full(len(a), 1 << bit, dtype=np.int64))
        skipped[key] = k
    code, bit = np.concatenate(codes), np.concatenate(bits)
    uniq, inverse = np.unique(code, return_inverse=True)
    mask = np.zeros(len(uniq), dtype=np.int64)
    np.bitwise_or.at(mask, inverse, bit)
    return pd.DataFrame({"left": uniq // n, "right": uniq % n, "keys": mask}), skipped


# --- comparisons ----------------------------------------------------------------------------------
def compare(feats: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """The comparison level of every field for each pair of positions (``NULL``: no evidence)."""
    feats = feats.reset_index(drop=True)
    a, b = feats.iloc[left].reset_index(drop=True), feats.iloc[right].reset_index(drop=True)
    out = {}
    has_id = a[F.ID18].astype(bool) & b[F.ID18].astype(bool)
    dist = F.id_distance(a[F.ID18], b[F.ID18])
    out["id"] = np.where(has_id, np.minimum(dist, 3), NULL)
    has_phone = a[F.PHONE_KEY].astype(bool) & b[F.PHONE_KEY].astype(bool)
    out["phone"] = np.where(has_phone, np.where(a[F.PHONE_KEY] == b[F.PHONE_KEY], 0, 1), NULL)
    full = (a[F.NAME_KIND] == "full") & (b[F.NAME_KIND] == "full")
    same = a[F.NAME_KEY] == b[F.NAME_KEY]
    homophone = a[F.NAME_PINYIN] == b[F.NAME_PINYIN]
    todo = (full & ~same & ~homophone).to_numpy()
    similar = np.zeros(len(a), dtype=bool)
    if todo.any():   # on the characters: 赵静 / 赵强 share a surname and most of the pinyin, not a person
        similar[todo] = F.jaro_winkler_many(a.loc[todo, F.NAME_KEY].to_numpy(dtype=object),
                                            b.loc[todo, F.NAME_KEY].to_numpy(dtype=object)) >= NAME_SIMILAR
    # a surname-only name (王先生) still tells the surname: 吴女士 is not 孔俊娜
    partial = ~full & (a[F.NAME_KIND] != "anonymous") & (b[F.NAME_KIND] != "anonymous")
    other_surname = partial & a[F.SURNAME].astype(bool) & b[F.SURNAME].astype(bool) & (a[F.SURNAME] != b[F.SURNAME])
    out["name"] = np.where(full, np.select([same, homophone, similar], [0, 1, 2], 3),
                           np.where(other_surname, 3, NULL))
    has_addr = a[F.ADDRESS_KEY].astype(bool) & b[F.ADDRESS_KEY].astype(bool)
    overlap = _token_overlap(a[F.ADDRESS_TOKENS], b[F.ADDRESS_TOKENS])
    out["address"] = np.where(has_addr, np.select([a[F.ADDRESS_KEY] == b[F.ADDRESS_KEY],
                                                   overlap >= ADDRESS_OVERLAP], [0, 1], 2), NULL)
    has_district = a[F.DISTRICT].astype(bool) & b[F.DISTRICT].astype(bool)
    out["district"] = np.where(has_district, np.where(a[F.DISTRICT] == b[F.DISTRICT], 0, 1), NULL)
    return pd.DataFrame({f: np.asarray(v, dtype=np.int8) for f, v in out.items()})


def _tokens(value: object) -> frozenset[str]:
    if isinstance(value, (tuple, list, frozenset, set)):
        return frozenset(value)
    return frozenset(str(value).split()) if value else frozenset()


def _token_overlap(a: pd.Series, b: pd.Series) -> np.ndarray:
    out = np.zeros(len(a))
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        tx, ty = _tokens(x), _tokens(y)
        if tx and ty:
            out[i] = len(tx & ty) / min(len(tx), len(ty))
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


def _em(gamma: pd.DataFrame, fields: Sequence[str], m: dict[str, np.ndarray], u: dict[str, np.ndarray],
        iterations: int, name_u: np.ndarray | None, update_m: bool = True
        ) -> tuple[dict[str, np.ndarray], float]:
    """Expectation–maximisation of m (for ``fields``) and the share of matches, u held fixed."""
    g = {f: gamma[f].to_numpy() for f in fields}
    m = {f: m[f].copy() for f in fields}
    log_u = {f: _log_u(gamma, f, u, name_u) for f in fields}
    prior = 0.5
    for _ in range(iterations):
        lm = np.full(len(gamma), np.log(prior))
        lu = np.full(len(gamma), np.log(1 - prior)) + sum(log_u.values())
        for f in fields:
            ok = g[f] != NULL
            lm[ok] += np.log(m[f][g[f][ok]])
        p = 1.0 / (1.0 + np.exp(np.clip(lu - lm, -700, 700)))
        new_prior = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        if update_m:
            for f in fields:
                ok = g[f] != NULL
                counts = np.bincount(g[f][ok], weights=p[ok], minlength=len(LEVELS[f]))
                m[f] = _floored(counts / max(counts.sum(), 1e-12))
        converged = abs(new_prior - prior) < 1e-7
        prior = new_prior
        if converged:
            break
    return m, prior


def estimate(feats: pd.DataFrame, pairs: pd.DataFrame, gamma: pd.DataFrame,
             options: LinkageOptions = LinkageOptions()) -> Model:
    """u from random pairs; m by EM sessions on the pairs of one blocking key each (``EM_SESSIONS``),
    averaged over the sessions that could estimate a field; then the share of matches among all
    candidate pairs (the prior of a candidate pair) by EM with m and u fixed."""
    feats = feats.reset_index(drop=True)
    rng = np.random.default_rng(options.seed)
    n = len(feats)
    i = rng.integers(0, n, options.u_sample)
    j = rng.integers(0, n, options.u_sample)
    keep = i != j
    random_gamma = compare(feats, i[keep], j[keep])
    u = {f: _level_freq(random_gamma[f].to_numpy(), len(LEVELS[f])) for f in FIELDS}
    start = {f: np.linspace(0.9, 0.1, len(LEVELS[f])) / np.linspace(0.9, 0.1, len(LEVELS[f])).sum()
             for f in FIELDS}
    estimates: dict[str, list[np.ndarray]] = {f: [] for f in FIELDS}
    tf = feats.loc[feats[F.NAME_KIND] == "full", F.NAME_KEY].value_counts(normalize=True)
    name_u = _name_u(feats, pairs, tf)
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


def _name_u(feats: pd.DataFrame, pairs: pd.DataFrame, tf: pd.Series) -> np.ndarray:
    """Per pair, the frequency of the left record's name (the u of an exact name match)."""
    names = feats[F.NAME_KEY].to_numpy()[pairs["left"].to_numpy()]
    return pd.Series(names).map(tf).fillna(1.0 / max(len(feats), 1)).to_numpy()


def score(feats: pd.DataFrame, pairs: pd.DataFrame, gamma: pd.DataFrame, model: Model) -> np.ndarray:
    """Match probability of each candidate pair; an exact name's u is that name's frequency."""
    feats = feats.reset_index(drop=True)
    name_u = _name_u(feats, pairs, model.name_tf)
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
    strong = np.isin(gamma["id"], [0, 1, 2]) | (gamma["phone"] == 0) | (gamma["address"] == 0)
    other_person = (gamma["name"] == 3) & ~np.isin(gamma["id"], [0, 1])
    return (~strong | other_person).to_numpy()


def cluster(record_ids: Sequence[str], valid_ids: Sequence[str], pairs: pd.DataFrame, prob: np.ndarray,
            gamma: pd.DataFrame, threshold: float) -> np.ndarray:
    """Cluster label (the smallest record id of the cluster) of each record.

    Links (probability >= ``threshold``, not ``never_linked``) are taken strongest first, ties by record ids;
    two clusters holding different valid ID numbers are never joined.
    """
    rid = np.asarray(record_ids, dtype=object)
    n = len(rid)
    parent = np.arange(n)
    ids: list[set[str]] = [{v} if v else set() for v in valid_ids]

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ok = (prob >= threshold) & ~never_linked(gamma)
    left, right, p = pairs["left"].to_numpy()[ok], pairs["right"].to_numpy()[ok], prob[ok]
    lo = np.minimum(rid[left], rid[right]).astype(str)
    hi = np.maximum(rid[left], rid[right]).astype(str)
    order = np.lexsort((hi, lo, -p))
    for k in order:
        ra, rb = find(int(left[k])), find(int(right[k]))
        if ra == rb:
            continue
        if ids[ra] and ids[rb] and not ids[ra] & ids[rb]:
            continue   # two different valid ID numbers: two persons
        parent[rb] = ra
        ids[ra] |= ids[rb]
    roots = np.array([find(x) for x in range(n)])
    labels = pd.Series(rid.astype(str)).groupby(roots).transform("min")
    return labels.to_numpy()


def resolve(feats: pd.DataFrame, options: LinkageOptions = LinkageOptions()) -> tuple[np.ndarray, Model, dict]:
    """Cluster labels of every record (aligned with ``feats``), the fitted model and blocking figures."""
    feats = feats.reset_index(drop=True)
    pairs, skipped = candidate_pairs(feats, options)
    gamma = compare(feats, pairs["left"].to_numpy(), pairs["right"].to_numpy())
    model = estimate(feats, pairs, gamma, options)
    prob = score(feats, pairs, gamma, model)
    valid = feats[F.ID_BODY].where(feats[F.ID_VALID].astype(bool), "").fillna("")
    labels = cluster(feats[F.RECORD_ID].astype(str).tolist(), valid.tolist(), pairs, prob, gamma, options.threshold)
    return labels, model, {"pairs": len(pairs), "skipped_groups": skipped}
