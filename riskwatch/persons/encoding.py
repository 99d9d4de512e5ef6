"""Integer codes of the comparison features (pure): what blocking, comparison, Fellegi–Sunter and
clustering work on.

Every feature of ``features.FEATURE_COLUMNS`` is turned once into integer codes (``encode``): blocking
groups codes, comparisons test codes for equality (and look up the distinct values only for the pairs
that need a similarity), and the EM counts comparison patterns of codes. ``Coded`` holds them, one row per
record, by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskwatch.persons import features as F
from riskwatch.schema import require_columns


def factorize(values: Any, empty_missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
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


def unique_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(x, y)`` code pairs (x, y >= -1) and, per input pair, the index of its distinct pair."""
    x, y = x.astype(np.int64, copy=False), y.astype(np.int64, copy=False)
    width = int(max(x.max(initial=0), y.max(initial=0))) + 2
    key = (x + 1) * width + (y + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq // width - 1, uniq % width - 1, inverse


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
    day: np.ndarray          # days since 1970-01-01, -1 unknown

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
    name, names = factorize(feats[F.NAME_KEY], empty_missing=False)
    pinyin, _ = factorize(feats[F.NAME_PINYIN], empty_missing=False)
    id_mat, has_id = F.id_matrix(feats[F.ID18].to_numpy(dtype=object))
    id_body, _ = factorize(feats[F.ID_BODY])
    valid = feats[F.ID_VALID].fillna(False).to_numpy(dtype=bool)
    tokens, token_text = factorize(feats[F.ADDRESS_TOKENS])
    token_mat, token_size = _token_matrix(token_text)
    return Coded(
        record_id=rid, rank=rank, full=kind == F.FULL, anonymous=kind == F.ANONYMOUS,
        name=name, names=names, pinyin=pinyin, surname=factorize(feats[F.SURNAME])[0],
        id_mat=id_mat, has_id=has_id, id_body=id_body, valid_id=np.where(valid, id_body, -1),
        birth=factorize(feats[F.BIRTH])[0], phone=factorize(feats[F.PHONE_KEY])[0],
        address=factorize(feats[F.ADDRESS_KEY])[0], tokens=tokens, token_mat=token_mat, token_size=token_size,
        district=factorize(feats[F.DISTRICT])[0],
        day=feats[F.DAY].fillna(-1).to_numpy(dtype=np.int64),
    )


def as_coded(feats: pd.DataFrame | Coded) -> Coded:
    """``feats`` itself when already encoded, else ``encode(feats)``."""
    return feats if isinstance(feats, Coded) else encode(feats)


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
