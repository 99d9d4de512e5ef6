"""The Fellegi–Sunter model of record linkage (pure): fitting (``estimate``) and scoring (``score``).

``u`` (how often a level occurs between two different persons) comes from random pairs, ``m`` (between
records of the same person) and the match prior by expectation–maximisation on the blocked pairs, fields
independent given the match status; an exact name's ``u`` is the frequency of that name (a common name
such as 张伟 weighs little: ``name_frequencies``). ``m`` is fitted in EM sessions, as Splink trains: the
pairs one blocking key proposed, for the fields that key does not fix (``EM_SESSIONS``). The EM runs on the
distinct comparison patterns (with their counts), not on every pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskwatch.persons import features as F
from riskwatch.persons.blocking import BLOCKING_KEYS
from riskwatch.persons.comparison import FIELDS, LEVELS, NULL, compare
from riskwatch.persons.encoding import Coded, as_coded

# EM sessions (as Splink trains): the pairs one key proposed, and the fields whose m they can estimate
# (not those the key fixes). Phone pairs are not a session: households share phones and would teach
# the model that a different name is normal for one person.
EM_SESSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id_body", ("phone", "name", "address", "district", "time")),
    ("name_district", ("id", "phone", "address", "time")),
)
M_FLOOR = 0.001   # no level is impossible for one person (a move, a second phone, a typo)


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


def _level_freq(levels: np.ndarray, n_levels: int) -> np.ndarray:
    seen = levels[levels != NULL]
    counts = np.bincount(seen, minlength=n_levels).astype(float) + 0.5   # smoothed: no level has u = 0
    return counts / counts.sum()


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


def estimate(feats: pd.DataFrame | Coded, pairs: pd.DataFrame, gamma: pd.DataFrame, *, u_sample: int,
             em_iterations: int, seed: int) -> Model:
    """u from ``u_sample`` random pairs (drawn with ``seed``); m by EM sessions on the pairs of one
    blocking key each (``EM_SESSIONS``), averaged over the sessions that could estimate a field; then the
    share of matches among all candidate pairs (the prior of a candidate pair) by EM with m and u fixed.
    Each EM runs at most ``em_iterations`` iterations.

    ``pairs``: ``left, right, keys`` (``blocking.candidate_pairs``); ``gamma``: their levels
    (``comparison.compare``). The random pairs are drawn from the records in record-id order, so the model
    does not depend on row order.
    """
    c = as_coded(feats)
    rng = np.random.default_rng(seed)
    n = len(c)
    by_id = np.argsort(c.rank)
    draws = u_sample if n >= 2 else 0      # no pair to draw from fewer than two records: u stays at its floor
    i = by_id[rng.integers(0, max(n, 1), draws)]
    j = by_id[rng.integers(0, max(n, 1), draws)]
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
        got, _ = _em(gamma.loc[sel], free, start, u, em_iterations, name_u[sel])
        for f in free:
            estimates[f].append(got[f])
    m = {f: np.mean(estimates[f], axis=0) if estimates[f] else start[f] for f in FIELDS}
    _, prior = _em(gamma, FIELDS, m, u, em_iterations, name_u, update_m=False)
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
    c = as_coded(feats)
    name_u = _name_u(c, pairs, model.name_tf)
    weight = np.full(len(gamma), np.log(model.prior / (1 - model.prior)))
    for f in FIELDS:
        g = gamma[f].to_numpy()
        ok = g != NULL
        weight[ok] += np.log(model.m[f][g[ok]])
        weight -= _log_u(gamma, f, model.u, name_u)
    return 1.0 / (1.0 + np.exp(-np.clip(weight, -700, 700)))
