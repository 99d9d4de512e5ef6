"""Probabilistic record linkage of parties into persons (pure): the orchestration of its parts.

1. ``encoding``: every feature turned once into integer codes, which all the parts work on;
2. ``blocking``: only pairs of records that share a key are compared (``candidate_pairs``);
3. ``comparison``: per pair and field, a level of agreement (``compare``);
4. ``fellegi_sunter``: ``u`` from random pairs, ``m`` and the prior by EM (``estimate``), the match
   probability of each pair (``score``);
5. ``clustering``: links above the threshold joined by a union-find that respects valid ID numbers and the
   analysts' decisions (``Constraints``); labels are the smallest record id of each person.

``resolve`` runs them all on a set of records; ``resolve_incremental`` places new records among persons
already resolved, with a fitted model and without comparing the known records with each other (it encodes
only the known records that may share a blocking key with a new one, and their persons).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskwatch.persons import features as F
from riskwatch.persons.blocking import candidate_pairs
from riskwatch.persons.clustering import (
    NO_CONSTRAINTS,
    ConstraintConflict,
    Constraints,
    NameRule,
    link_records,
    make_links,
    smallest_record_ids,
)
from riskwatch.persons.comparison import NAME_SIMILAR, compare
from riskwatch.persons.encoding import Coded, encode, factorize
from riskwatch.persons.fellegi_sunter import Model, estimate, name_frequencies, score
from riskwatch.schema import require_columns

__all__ = ["PERSON_ID", "ConstraintConflict", "Constraints", "LinkageOptions", "Model", "Resolution", "resolve",
           "resolve_incremental"]

PERSON_ID = "person_id"  # the person label of a known record (``resolve_incremental``)


@dataclass(frozen=True)
class LinkageOptions:
    max_block: int = 300          # a blocking group larger than this is skipped for its key
    threshold: float = 0.95       # match probability above which a pair is a link
    em_iterations: int = 50
    u_sample: int = 200_000       # random pairs that estimate u
    seed: int = 17


@dataclass
class Resolution:
    labels: np.ndarray        # per record (aligned with the input feats): the person label
    confidence: np.ndarray    # per record, in [0,1]: the probability of the strongest accepted link that holds it in its person; 1.0 for a person of one record; 1.0 for must-linked records
    model: Model
    pairs: int                # candidate pairs compared
    skipped_groups: dict[str, int]
    merged: dict[str, str]    # incremental only: an existing person label -> the label it was merged into (a new record bridged two known persons); {} for a full run


def resolve(feats: pd.DataFrame, options: LinkageOptions = LinkageOptions(),
            constraints: Constraints = NO_CONSTRAINTS) -> Resolution:
    """Resolve records into persons: blocking, comparison, EM fit, scoring and constrained clustering.

    ``feats``: ``FEATURE_COLUMNS`` (``party_features``). Returns the person label of every record
    (aligned with ``feats``: the smallest record id of its person), the confidence of each record's
    place, the fitted model and the blocking figures.
    """
    c = encode(feats)
    pairs, skipped = candidate_pairs(c, options.max_block)
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    gamma = compare(c, left, right)
    model = estimate(c, pairs, gamma, u_sample=options.u_sample, em_iterations=options.em_iterations,
                     seed=options.seed)
    prob = score(c, pairs, gamma, model)
    links = make_links(c.record_id, pairs, prob, gamma, options.threshold, constraints)
    root, conf = link_records(len(c), c.rank, c.valid_id, links, name_rule(c))
    return Resolution(labels=smallest_record_ids(root, c.rank, c.record_id), confidence=conf, model=model,
                      pairs=len(pairs), skipped_groups=skipped, merged={})


def name_rule(c: Coded) -> NameRule:
    """The full name of each record and when two names can be one person's: the same key, the same
    pinyin (homophones) or Jaro–Winkler of the characters at least ``NAME_SIMILAR`` (as ``compare``)."""
    code = np.where(c.full, c.name, -1).astype(np.int64)
    pinyin = np.full(len(c.names), -1, dtype=np.int64)
    pinyin[c.name] = c.pinyin
    cache: dict[tuple[int, int], bool] = {}

    def compatible(x: int, y: int) -> bool:
        key = (x, y) if x < y else (y, x)
        got = cache.get(key)
        if got is None:
            got = bool(x == y or pinyin[x] == pinyin[y]
                       or F.jaro_winkler(str(c.names[x]), str(c.names[y])) >= NAME_SIMILAR)
            cache[key] = got
        return got

    return NameRule(code=code, compatible=compatible)


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
                        constraints: Constraints = NO_CONSTRAINTS) -> Resolution:
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
    pairs, skipped = candidate_pairs(c, options.max_block, new=is_new)
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    gamma = compare(c, left, right)
    prob = score(c, pairs, gamma, model)
    person = np.r_[np.full(n_new, "", dtype=object), part[PERSON_ID].astype(str).to_numpy(dtype=object)]
    person_code, person_names = factorize(person)
    links = make_links(c.record_id, pairs, prob, gamma, options.threshold, constraints, initial=person_code)
    root, conf = link_records(len(c), c.rank, c.valid_id, links, name_rule(c))
    labels, merged = _incremental_labels(root, c, person_code, person_names)
    return Resolution(labels=labels[:n_new], confidence=conf[:n_new], model=model, pairs=len(pairs),
                      skipped_groups=skipped, merged=merged)


def _incremental_labels(root: np.ndarray, c: Coded, person_code: np.ndarray, person_names: np.ndarray
                        ) -> tuple[np.ndarray, dict[str, str]]:
    """Per record, its cluster's smallest known person label, or the smallest record id where the
    cluster holds no known record; and the known persons merged into another."""
    labels = smallest_record_ids(root, c.rank, c.record_id).copy()
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
