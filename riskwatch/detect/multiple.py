"""Hundreds of series, one week: which alarms become signals (pure).

Two steps, in this order:

1. **False discovery rate.** Each series alarms at its own level (Farrington alpha 0.01, EARS 0.001, a
   CUSUM crossing), so 900 series give several chance alarms every week. The alarms' p-values go through
   the Benjamini-Hochberg step-up procedure over every series scored that week (valid under the positive
   dependence that nested count series have): only alarms with ``p <= q * rank / m`` are kept.
2. **One signal per event across the trees.** A township spike also lifts its district and the city, and
   its leaf category lifts the top category. A kept alarm is dropped when a series inside it (a
   descendant in the category tree, the region tree or both) alarms the same week and carries at least
   ``share`` of its excess: the most specific series that explains the event speaks for it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.forecast.series import CATEGORY, PARENT_CATEGORY, PARENT_REGION, REGION, series_id


def benjamini_hochberg(p: np.ndarray, q: float) -> np.ndarray:
    """Bool mask of the hypotheses rejected by the BH step-up at level ``q``; NaN p-values count in ``m``
    (they were tested) but are never rejected."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    filled = np.where(np.isnan(p), np.inf, p)
    order = np.argsort(filled, kind="stable")
    below = filled[order] <= q * np.arange(1, m + 1) / m
    keep = np.zeros(m, dtype=bool)
    if below.any():
        last = int(np.flatnonzero(below).max())
        keep[order[: last + 1]] = True
    return keep & ~np.isnan(p)


def parents(catalog: pd.DataFrame) -> dict[str, list[str]]:
    """series_id -> the series one level up in the category tree and in the region tree (those built)."""
    freq = {sid: sid.split(":", 1)[0] for sid in catalog[S.SERIES_ID]}
    known = set(catalog[S.SERIES_ID])
    out: dict[str, list[str]] = {}
    for sid, cat, reg, pcat, preg in zip(catalog[S.SERIES_ID], catalog[CATEGORY], catalog[REGION],
                                         catalog[PARENT_CATEGORY], catalog[PARENT_REGION], strict=True):
        ups = []
        if pcat:
            ups.append(series_id(freq[sid], pcat, reg))
        if preg:
            ups.append(series_id(freq[sid], cat, preg))
        out[sid] = [u for u in ups if u in known]
    return out


def ancestors(sid: str, up: dict[str, list[str]]) -> set[str]:
    """Every series that contains ``sid`` (through either tree), ``sid`` excluded."""
    seen: set[str] = set()
    todo = list(up.get(sid, []))
    while todo:
        a = todo.pop()
        if a not in seen:
            seen.add(a)
            todo.extend(up.get(a, []))
    return seen


def explained_by(excess: pd.Series, expected: pd.Series, alarmed: Iterable[str], explainers: Iterable[str],
                 up: dict[str, list[str]], share: float, lift: float = 1.5) -> dict[str, str]:
    """For each alarmed series, the descendant that explains it ("" when none).

    ``excess`` (observed - expected) and ``expected`` of every series this period (index series_id). A
    descendant explains an alarmed series when it is among ``explainers`` (alarmed this period, or with a
    signal still open), carries at least ``share`` of the series' excess, and rises out of proportion:
    its relative excess is at least ``lift`` times the series' own (a township rising with its whole
    district explains nothing: the district speaks). Of several, the one with the smallest sufficient
    excess (the most specific) is named.
    """
    alarmed = list(alarmed)
    targets = set(alarmed)
    out = dict.fromkeys(alarmed, "")
    best: dict[str, float] = {}
    for d in sorted(set(explainers)):
        d_excess, d_expected = float(excess.get(d, np.nan)), float(expected.get(d, np.nan))
        if not (d_excess > 0 and d_expected > 0):
            continue
        for a in ancestors(d, up) & targets:
            a_excess, a_expected = float(excess[a]), float(expected[a])
            out_of_proportion = d_excess / d_expected >= lift * a_excess / max(a_expected, 1e-9)
            if d_excess >= share * a_excess and out_of_proportion and d_excess < best.get(a, np.inf):
                out[a], best[a] = d, d_excess
    return out


def part_of(excess: pd.Series, expected: pd.Series, speakers: Iterable[str], up: dict[str, list[str]],
            factor: float = 2.0) -> dict[str, str]:
    """Alarmed series that are part of a broader event: for each of ``speakers`` (kept alarms no single
    descendant explains), every other speaker inside it whose share of its excess is at most ``factor``
    times its share of its expected count (it rises in proportion with the whole, not on its own).
    Returns part -> the broadest such ancestor."""
    speakers = sorted(set(speakers))
    chosen = set(speakers)
    out: dict[str, str] = {}
    for d in speakers:
        broad = [a for a in ancestors(d, up) & chosen
                 if float(excess[a]) > 0 and float(expected[a]) > 0
                 and float(excess[d]) / float(excess[a]) <= factor * float(expected[d]) / float(expected[a])]
        if broad:
            out[d] = max(broad, key=lambda a: (float(expected[a]), a))
    return out


def same_event_family(a: str, b: str, up: dict[str, list[str]]) -> bool:
    """Whether two series can show one lasting change: one contains the other, or both count the same
    top-level category (a policy or a programme moves a category in many areas at once)."""
    if a in ancestors(b, up) or b in ancestors(a, up):
        return True
    cat_a, cat_b = a.split(":")[1], b.split(":")[1]
    return cat_a != "*" and cat_b != "*" and cat_a[:2] == cat_b[:2]
