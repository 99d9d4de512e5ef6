"""Repeat petitions (重复信访): same person + same matter (同人 + 同事), counts and share (pure).

A case *repeats* an earlier one when at least one person is the same and the matter is essentially the
same (DOMAIN.md, "Repeat petitions"). The link "repeats case X" is kept; cases are never merged.

**Links.** Only two cases that share a person are ever compared (grouped by person, so the work grows
with the persons' case counts, not with the square of all cases). Two such cases are *the same matter*
when

1. the category agrees at the top level: the first ``RepeatOptions.category_level`` (2) characters
   of ``category_code`` are equal (``0402`` and ``0401`` agree, ``0402`` and ``0101`` do not; a code
   known only to the top level, ``04``, agrees with its leaves). A case ``UNCLASSIFIED`` (``99``) or
   without a code agrees with any category, since an unknown category is no evidence of another
   matter, **and**
2. the place agrees: after reading a GB/T 2260 city code (``339900``) as its prefix ``3399``, the two
   region codes have the same district (first 6 characters), or one code is a prefix (an ancestor) of
   the other (a case known only to the city, or to nothing, agrees with every place), **and**
3. either the texts are similar (``similarity >= RepeatOptions.text_threshold``), or both cases have the
   same category leaf (the whole code) and the same township (first 9 characters, both known): a repeat
   petitioner rewords, but a second complaint of the same kind from the same person in the same
   township is the same matter far more often than not.

**Text similarity** is the cosine of character-bigram TF-IDF vectors of ``summary + content``
(each character in its NFKC lower-case form, bigrams only of letters, digits and Han characters, not
across punctuation): term frequency times the smoothed inverse document frequency
``ln((1 + N) / (1 + df)) + 1`` over the N cases given (so a figure depends on the set of cases, never
on their order), rows scaled to unit length (the scikit-learn ``TfidfVectorizer`` definition with
``analyzer="char", ngram_range=(2, 2)``). Character n-grams need no word segmentation and survive
rewording; IDF discounts the phrases every complaint shares (``反映``, ``请求``, ``再次反映``) so the
specifics (site, company, amount) carry the weight.

**Matters** are the connected components of the links (so two cases of one matter may be linked only
through a third); ``matter_id`` is the smallest ``"source:source_id"`` of the component, whatever the
row order. Cases are ordered by ``(received_at, source, source_id)``:
a case is a *repeat* when an earlier case of its matter shares a person with it; ``repeat_of`` is the
earliest such case. Run ``find_matters`` on the whole history, not on the reporting window alone, or
the first case inside the window of a long-running matter looks new.

**Pathological persons.** Each case is compared with at most ``RepeatOptions.window`` previous cases of
the same person (older ones of the same matter are reached through the chain); a person with more than
``RepeatOptions.max_person_cases`` cases (a switchboard phone, 匿名, a mis-resolved cluster) links
nothing, though the cases still count as repeats when another shared person links them.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from riskwatch.schema import (
    CATEGORY_CODE,
    CONTENT,
    RECEIVED_AT,
    REGION_CODE,
    SOURCE,
    SOURCE_ID,
    SUMMARY,
    UNCLASSIFIED,
    require_columns,
)
from riskwatch.schema import (  # the matter frame's columns, named once in schema
    IS_REPEAT as IS_REPEAT,
)
from riskwatch.schema import (
    MATTER_ID as MATTER_ID,
)
from riskwatch.schema import (
    PERSON_ID as PERSON_ID,
)
from riskwatch.schema import (
    REPEAT_COLUMNS as REPEAT_COLUMNS,
)
from riskwatch.schema import (
    REPEAT_OF_SOURCE as REPEAT_OF_SOURCE,
)
from riskwatch.schema import (
    REPEAT_OF_SOURCE_ID as REPEAT_OF_SOURCE_ID,
)
from riskwatch.schema import (
    SIMILARITY as SIMILARITY,
)

log = logging.getLogger(__name__)

# --- column names (frames of this module) -----------------------------------------------------------
CASES = "cases"
REPEATS = "repeats"
MATTERS = "matters"
PERSONS = "persons"
FIRST_RECEIVED = "first_received"
LAST_RECEIVED = "last_received"
PERIOD = "period"
SHARE = "share"

CASE_INPUT: tuple[str, ...] = (SOURCE, SOURCE_ID, RECEIVED_AT, CATEGORY_CODE, REGION_CODE, CONTENT, SUMMARY)
CASE_PERSON_INPUT: tuple[str, ...] = (SOURCE, SOURCE_ID, PERSON_ID)
COUNT_INPUT: tuple[str, ...] = (SOURCE, SOURCE_ID, MATTER_ID, IS_REPEAT, RECEIVED_AT, CATEGORY_CODE,
                                REGION_CODE)
PERSON_COUNT_COLUMNS: tuple[str, ...] = (PERSON_ID, CASES, REPEATS, MATTERS, FIRST_RECEIVED, LAST_RECEIVED)
MATTER_COUNT_COLUMNS: tuple[str, ...] = (MATTER_ID, CASES, REPEATS, PERSONS, FIRST_RECEIVED, LAST_RECEIVED,
                                         CATEGORY_CODE, REGION_CODE)
SHARE_COLUMNS: tuple[str, ...] = (PERIOD, REGION_CODE, CASES, REPEATS, SHARE)

DISTRICT_LEN = 6   # region code: 6 district, 9 township, 12 community, 15 grid
TOWNSHIP_LEN = 9


@dataclass(frozen=True)
class RepeatOptions:
    """Thresholds of ``find_matters``.

    text_threshold
        Cosine of char-bigram TF-IDF at or above which two texts tell the same matter. On the demo city
        (``benchmarks/persons_repeats.py``) one matter retold (a repeat prefix, another grid in the
        address) scores 0.65-1.0 (1st percentile 0.77), two cases of one top-level category but
        different leaves in one district score at most 0.35 (99th percentile 0.22): 0.5 sits in the
        middle of that empty gap. Two different matters of one leaf (one template, another site or
        company) score 0.15-1.0 (median 0.63), which no threshold separates; only cases of one person
        in one district are compared, so it takes such a person for the text to join two matters.
    category_level
        Leading characters of ``category_code`` that must agree: 2 = the top level (``04`` for
        ``0402``). Intake officers disagree on the leaf far more often than on the top level.
    leaf_township
        Same leaf category and same township link two cases of one person whatever their text, because
        a repeat petitioner rewords. False turns the rule off.
    window
        Each case is compared with at most this many previous cases of each of its persons. The
        busiest true petitioners of the demo city have about 100 cases, and one matter links through
        its chain, so 50 loses nothing real and bounds the pairs at ``50 x cases``.
    max_person_cases
        A person with more cases than this links nothing (a switchboard phone, 匿名, a mis-resolved
        cluster); ten times the busiest real petitioner.
    """

    text_threshold: float = 0.5
    category_level: int = 2
    leaf_township: bool = True
    window: int = 50
    max_person_cases: int = 1000


# --- text ------------------------------------------------------------------------------------------
def char_ngram_tfidf(texts: pd.Series, n: int = 2) -> sparse.csr_matrix:
    """Unit-length character n-gram TF-IDF rows of ``texts`` (one row per text, same order).

    Each character is read in its NFKC, lower-case form (full-width ``Ａ１`` as ``a1``; a character
    whose form is several characters counts as punctuation); an n-gram is n consecutive letters /
    digits / Han characters (punctuation and spaces break them). IDF is ``ln((1 + N) / (1 + df)) + 1``. A text
    with no n-gram gets a zero row (similarity 0 with everything).
    """
    docs = texts.astype(object).where(texts.notna(), "").astype(str).str.replace("\x00", " ", regex=False)
    n_docs = len(docs)
    if n_docs == 0:
        return sparse.csr_matrix((0, 0))
    chars = np.frombuffer(("\x00".join(docs.tolist()) + "\x00").encode("utf-32-le"), dtype=np.uint32)
    doc = np.cumsum(chars == 0) - (chars == 0)   # document of each character (a NUL ends its own)
    # each distinct character to its NFKC lower-case form (full-width Ａ１ to a1), by a lookup table
    table = np.zeros(0x110000, dtype=np.int64)
    table[chars] = 1
    raw = np.flatnonzero(table)
    canon = np.array([_canonical_char(u) for u in raw.tolist()], dtype=np.int64)
    uniq, dense = np.unique(canon, return_inverse=True)
    table[raw] = dense
    code = table[chars]
    word = np.array([u > 0 and chr(u).isalnum() for u in uniq.tolist()], dtype=bool)[code]
    m = len(chars) - n + 1
    ok = np.ones(max(m, 0), dtype=bool)
    gram = np.zeros(max(m, 0), dtype=np.int64)
    for k in range(n):
        ok &= word[k:k + m] & (doc[k:k + m] == doc[:m])
        gram = gram * len(uniq) + code[k:k + m]
    gram, rows = gram[ok], doc[:m][ok]
    if len(gram) == 0:
        return sparse.csr_matrix((n_docs, 0))
    cols = np.unique(gram, return_inverse=True)[1] if len(uniq) ** n > 50_000_000 else _dense_codes(gram)
    tf = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(n_docs, int(cols.max()) + 1))
    tf.sum_duplicates()
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    tf.data *= (np.log((1 + n_docs) / (1 + df)) + 1)[tf.indices]
    norms = np.sqrt(np.asarray(tf.multiply(tf).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(np.where(norms > 0, 1 / np.where(norms > 0, norms, 1), 0)) @ tf)


def _canonical_char(point: int) -> int:
    """Code point of the NFKC, lower-case form of one character; 0 when that form is not one character."""
    form = unicodedata.normalize("NFKC", chr(point)).lower()
    return ord(form) if len(form) == 1 else 0


def _dense_codes(values: np.ndarray) -> np.ndarray:
    """Rank of each non-negative integer among the distinct values, by a lookup table (no sort)."""
    table = np.zeros(int(values.max()) + 1, dtype=np.int64)
    table[values] = 1
    table[table.astype(bool)] = np.arange(int(table.sum()))
    return table[values]


def pair_similarity(vectors: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of rows ``a[i]`` and ``b[i]`` of unit-length ``vectors``."""
    if len(a) == 0:
        return np.empty(0)
    return np.asarray(vectors[a].multiply(vectors[b]).sum(axis=1)).ravel()


# --- links -----------------------------------------------------------------------------------------
def _ordered_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases in time order (received_at, source, source_id), with ``key`` = ``source:source_id``."""
    if cases[RECEIVED_AT].isna().any():
        raise ValueError("find_matters: received_at is null in some cases")
    c = cases[list(CASE_INPUT)].copy()
    c[SOURCE] = c[SOURCE].astype(str)
    c[SOURCE_ID] = c[SOURCE_ID].astype(str)
    dup = c.duplicated([SOURCE, SOURCE_ID])
    if dup.any():
        raise ValueError(f"find_matters: {int(dup.sum())} duplicate (source, source_id) in cases")
    c = c.sort_values([RECEIVED_AT, SOURCE, SOURCE_ID], kind="stable").reset_index(drop=True)
    c["key"] = c[SOURCE] + ":" + c[SOURCE_ID]
    return c


def _person_rows(c: pd.DataFrame, case_persons: pd.DataFrame) -> pd.DataFrame:
    """Distinct (pos, person) rows: ``pos`` the case's position in time order, ``person`` a code."""
    cp = case_persons[list(CASE_PERSON_INPUT)].dropna()
    key = cp[SOURCE].astype(str) + ":" + cp[SOURCE_ID].astype(str)
    pos = pd.Series(np.arange(len(c)), index=c["key"].to_numpy()).reindex(key.to_numpy()).to_numpy()
    known = ~np.isnan(pos)
    person = pd.factorize(cp[PERSON_ID].astype(str).to_numpy()[known], sort=True)[0]
    rows = pd.DataFrame({"pos": pos[known].astype(np.int64), "person": person}).drop_duplicates()
    return rows.sort_values(["person", "pos"]).reset_index(drop=True)


def _candidate_pairs(rows: pd.DataFrame, options: RepeatOptions) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (a, b), a earlier than b, of cases sharing a person within the window."""
    size = rows.groupby("person")["pos"].transform("size").to_numpy()
    big = size > options.max_person_cases
    if big.any():
        log.warning("find_matters: %d person(s) with more than %d cases link nothing",
                    rows.loc[big, "person"].nunique(), options.max_person_cases)
    person = rows["person"].to_numpy()[~big]
    pos = rows["pos"].to_numpy()[~big]
    a_parts, b_parts = [], []
    for lag in range(1, options.window + 1):
        same = person[lag:] == person[:-lag]
        if not same.any():
            break
        a_parts.append(pos[:-lag][same])
        b_parts.append(pos[lag:][same])
    if not a_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(a_parts), np.concatenate(b_parts)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _place_path(region: pd.Series) -> np.ndarray:
    """Region codes as prefix paths: a GB/T 2260 city (``xxxx00``) or province (``xx0000``) code shortened."""
    r = region.astype(object).where(region.notna(), "").astype(str)
    r = r.where(~((r.str.len() == 6) & r.str.endswith("00")), r.str[:4])
    r = r.where(~((r.str.len() == 4) & r.str.endswith("00")), r.str[:2])
    return r.to_numpy(dtype=object)


def _same_place(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Same district, or one path is a prefix (ancestor) of the other."""
    return np.array([x[:DISTRICT_LEN] == y[:DISTRICT_LEN] or x.startswith(y) or y.startswith(x)
                     for x, y in zip(pa.tolist(), pb.tolist(), strict=True)], dtype=bool)


def _links(c: pd.DataFrame, a: np.ndarray, b: np.ndarray, vectors: sparse.csr_matrix,
           options: RepeatOptions) -> tuple[np.ndarray, np.ndarray]:
    cat = c[CATEGORY_CODE].astype(object).where(c[CATEGORY_CODE].notna(), UNCLASSIFIED).astype(str).to_numpy()
    top = np.array([s[:options.category_level] for s in cat.tolist()], dtype=object)
    unknown = (top == UNCLASSIFIED[:options.category_level]) | (top == "")
    ok = (top[a] == top[b]) | unknown[a] | unknown[b]
    a, b = a[ok], b[ok]
    path = _place_path(c[REGION_CODE])
    ok = _same_place(path[a], path[b])
    a, b = a[ok], b[ok]
    linked = pair_similarity(vectors, a, b) >= options.text_threshold
    if options.leaf_township:
        town = np.array([p[:TOWNSHIP_LEN] if len(p) >= TOWNSHIP_LEN else "" for p in path.tolist()], dtype=object)
        linked |= (cat[a] == cat[b]) & ~unknown[a] & (town[a] == town[b]) & (town[a] != "")
    return a[linked], b[linked]


# --- public ----------------------------------------------------------------------------------------
def find_matters(cases: pd.DataFrame, case_persons: pd.DataFrame,
                 options: RepeatOptions = RepeatOptions()) -> pd.DataFrame:
    """Matter of every case and the earlier case it repeats.

    Parameters
    ----------
    cases
        ``source, source_id, received_at, category_code, region_code, content, summary`` (summary,
        category and region may be null; received_at may not). One row per ``(source, source_id)``.
    case_persons
        ``source, source_id, person_id``: the persons of each case (several for a joint letter or a
        group case). Rows of unknown cases and null persons are ignored; a case without persons is a
        matter of its own.

    Returns
    -------
    One row per case, ordered by ``(source, source_id)``: ``source, source_id, matter_id,
    repeat_of_source, repeat_of_source_id, is_repeat, similarity``. ``repeat_of_*`` name the earliest
    earlier case of the same matter that shares a person (null when ``is_repeat`` is False);
    ``similarity`` is the text similarity to it (NaN when not a repeat).
    """
    require_columns(cases.columns, CASE_INPUT, "find_matters")
    require_columns(case_persons.columns, CASE_PERSON_INPUT, "find_matters")
    c = _ordered_cases(cases)
    n = len(c)
    rows = _person_rows(c, case_persons)
    vectors = char_ngram_tfidf(c[SUMMARY].fillna("") + "\n" + c[CONTENT].fillna(""))
    a, b = _candidate_pairs(rows, options)
    a, b = _links(c, a, b, vectors, options)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    matter = c["key"].groupby(comp).transform("min").to_numpy(dtype=object)
    # earliest case of each (person, matter); a case repeats the earliest of these among its persons
    rows["matter"] = comp[rows["pos"].to_numpy()]
    rows["first"] = rows.groupby(["person", "matter"])["pos"].transform("min")
    first = rows.groupby("pos")["first"].min()
    repeat_of = np.arange(n)
    repeat_of[first.index.to_numpy()] = first.to_numpy()
    is_repeat = repeat_of < np.arange(n)
    sim = np.full(n, np.nan)
    sim[is_repeat] = pair_similarity(vectors, np.flatnonzero(is_repeat), repeat_of[is_repeat])
    out = pd.DataFrame({
        SOURCE: c[SOURCE], SOURCE_ID: c[SOURCE_ID], MATTER_ID: matter,
        REPEAT_OF_SOURCE: c[SOURCE].to_numpy()[repeat_of], REPEAT_OF_SOURCE_ID: c[SOURCE_ID].to_numpy()[repeat_of],
        IS_REPEAT: is_repeat, SIMILARITY: sim,
    })
    out[REPEAT_OF_SOURCE] = out[REPEAT_OF_SOURCE].where(out[IS_REPEAT])
    out[REPEAT_OF_SOURCE_ID] = out[REPEAT_OF_SOURCE_ID].where(out[IS_REPEAT])
    out[MATTER_ID] = out[MATTER_ID].astype(str)
    return out.sort_values([SOURCE, SOURCE_ID]).reset_index(drop=True)[list(REPEAT_COLUMNS)]


def _mode(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Most common non-null value per group; ties go to the smallest value."""
    f = pd.DataFrame({"g": groups.to_numpy(), "v": values.to_numpy()}).dropna()
    counts = f.groupby(["g", "v"]).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "v"], ascending=[True, False, True])
    return counts.drop_duplicates("g").set_index("g")["v"]


def repeat_counts(repeats: pd.DataFrame, case_persons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeat petitions per person and per matter.

    Parameters
    ----------
    repeats
        ``find_matters``' output merged with the cases: ``source, source_id, matter_id, is_repeat,
        received_at, category_code, region_code``.
    case_persons
        ``source, source_id, person_id`` (as given to ``find_matters``).

    Returns
    -------
    persons
        ``person_id, cases, repeats, matters, first_received, last_received``, sorted by repeats
        (descending) then person_id. ``repeats`` counts the person's cases that follow an earlier case
        *of the same person* in the same matter (= cases - matters): a group member's first appearance
        is not their repeat even when the group's case is one.
    matters
        ``matter_id, cases, repeats, persons, first_received, last_received, category_code`` (the most
        common), ``region_code`` (the most common district, ``region_code[:6]``), sorted by repeats
        and cases (descending) then matter_id. ``repeats`` counts the matter's cases with
        ``is_repeat``; a matter of cases without persons counts 0 persons.
    """
    require_columns(repeats.columns, COUNT_INPUT, "repeat_counts")
    require_columns(case_persons.columns, CASE_PERSON_INPUT, "repeat_counts")
    r = repeats[list(COUNT_INPUT)]
    cp = case_persons[list(CASE_PERSON_INPUT)].dropna().drop_duplicates()
    cp = cp.merge(r[[SOURCE, SOURCE_ID, MATTER_ID, RECEIVED_AT]], on=[SOURCE, SOURCE_ID])
    g = cp.groupby(PERSON_ID)
    persons = pd.DataFrame({CASES: g.size(), MATTERS: g[MATTER_ID].nunique(),
                            FIRST_RECEIVED: g[RECEIVED_AT].min(), LAST_RECEIVED: g[RECEIVED_AT].max()})
    persons[REPEATS] = persons[CASES] - persons[MATTERS]
    persons = (persons.rename_axis(PERSON_ID).reset_index()
               .sort_values([REPEATS, PERSON_ID], ascending=[False, True]).reset_index(drop=True))
    gm = r.groupby(MATTER_ID)
    matters = pd.DataFrame({CASES: gm.size(), REPEATS: gm[IS_REPEAT].sum().astype(np.int64),
                            PERSONS: cp.groupby(MATTER_ID)[PERSON_ID].nunique(),
                            FIRST_RECEIVED: gm[RECEIVED_AT].min(), LAST_RECEIVED: gm[RECEIVED_AT].max()})
    matters[PERSONS] = matters[PERSONS].fillna(0).astype(np.int64)
    matters[CATEGORY_CODE] = _mode(r[CATEGORY_CODE], r[MATTER_ID])
    matters[REGION_CODE] = _mode(r[REGION_CODE].str[:DISTRICT_LEN], r[MATTER_ID])
    matters = (matters.rename_axis(MATTER_ID).reset_index()
               .sort_values([REPEATS, CASES, MATTER_ID], ascending=[False, False, True]).reset_index(drop=True))
    return persons[list(PERSON_COUNT_COLUMNS)], matters[list(MATTER_COUNT_COLUMNS)]


def repeat_share(cases: pd.DataFrame, repeats: pd.DataFrame, freq: str = "M",
                 region_level: int = 6) -> pd.DataFrame:
    """重复信访占比 = repeat cases / all cases received in the period and area (DOMAIN.md).

    Parameters
    ----------
    cases
        ``source, source_id, received_at, region_code``: the cases that make the denominator (e.g. the
        reporting window). Every one of them must be in ``repeats``.
    repeats
        ``find_matters``' output (``source, source_id, is_repeat``), best run on the whole history so
        that a case repeating one from before the window counts.
    freq
        A pandas period frequency: ``"M"`` month, ``"W"`` week (Monday), ``"Q"``, ``"Y"``.
    region_level
        Characters of ``region_code`` that make the area (6 district, 9 township, ...). A case known only
        to a shorter code keeps that code (``339900``: the city, district unknown).

    Returns
    -------
    ``period`` (start of the period), ``region_code`` (``""`` for the whole city, one row per period),
    ``cases``, ``repeats``, ``share`` (repeats / cases), sorted by period then region_code; only
    periods and areas with cases appear. A case with a null region counts in the city-wide row only.
    """
    require_columns(cases.columns, (SOURCE, SOURCE_ID, RECEIVED_AT, REGION_CODE), "repeat_share")
    require_columns(repeats.columns, (SOURCE, SOURCE_ID, IS_REPEAT), "repeat_share")
    c = cases[[SOURCE, SOURCE_ID, RECEIVED_AT, REGION_CODE]].merge(
        repeats[[SOURCE, SOURCE_ID, IS_REPEAT]], on=[SOURCE, SOURCE_ID], how="left", validate="one_to_one")
    missing = int(c[IS_REPEAT].isna().sum())
    if missing:
        raise ValueError(f"repeat_share: {missing} case(s) not in repeats")
    c[PERIOD] = c[RECEIVED_AT].dt.to_period(freq).dt.start_time
    c[REPEATS] = c[IS_REPEAT].astype(bool).astype(np.int64)
    area = c[REGION_CODE].astype(object).where(c[REGION_CODE].notna(), "").astype(str).str[:region_level]
    parts = [c.assign(**{REGION_CODE: ""})]
    if region_level > 0:
        parts.append(c.assign(**{REGION_CODE: area})[area.to_numpy() != ""])
    both = pd.concat(parts, ignore_index=True)
    out = both.groupby([PERIOD, REGION_CODE]).agg(**{CASES: (REPEATS, "size"), REPEATS: (REPEATS, "sum")})
    out = out.reset_index()
    out[SHARE] = out[REPEATS] / out[CASES]
    return out.sort_values([PERIOD, REGION_CODE]).reset_index(drop=True)[list(SHARE_COLUMNS)]
