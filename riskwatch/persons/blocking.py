"""Blocking (pure): which pairs of records are compared at all.

Only pairs that share a key are compared (``BLOCKING_KEYS``): the ID body (the first 17 characters), the
phone, the full name within a district, the name's pinyin with the birth date from the ID. Groups larger
than ``max_block`` (a switchboard phone, a name shared by hundreds) are skipped for that key and counted.
Pairs are generated on the integer codes (``encoding``), vectorized per group size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskwatch.persons.encoding import Coded, as_coded

BLOCKING_KEYS: tuple[str, ...] = ("id_body", "phone", "name_district", "pinyin_birth")


def _combine(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """One code per distinct ``(a, b)`` where ``ok`` and both are present, else -1."""
    ok = ok & (a >= 0) & (b >= 0)
    out = np.full(len(a), -1, dtype=np.int64)
    out[ok] = a[ok] * (int(b.max(initial=0)) + 1) + b[ok]
    return out


def blocking_keys(feats: pd.DataFrame | Coded) -> dict[str, np.ndarray]:
    """The blocking key codes of each record (by position), -1 where a key does not apply."""
    c = as_coded(feats)
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


def candidate_pairs(feats: pd.DataFrame | Coded, max_block: int, new: np.ndarray | None = None
                    ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Unique candidate pairs ``(left, right)`` of positions (left < right) with ``keys``, a bit mask of
    the blocking keys that proposed the pair (bit i = ``BLOCKING_KEYS[i]``), and, per key, the number of
    groups skipped for being larger than ``max_block``.

    With ``new`` (a mask of records, for an incremental run), only the pairs with at least one new record.
    """
    c = as_coded(feats)
    n = len(c) + 1
    codes, bits, skipped = [], [], {}
    for index, (key, values) in enumerate(blocking_keys(c).items()):
        a, b, k = _pairs_within(values, max_block, new)
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
