"""Count series for every (category, region) cell of both trees, as known at a date (pure).

Cells: the category tree gives ``*`` (all), each top-level code and each leaf code (a top-level code
without children is its own leaf); the region tree gives the city, each district and each township. A case
recorded above a level (region known only to the district, or only to the city) goes to that parent's
"not located further" bucket at the finer level, coded ``<parent code>*`` (``339901*`` = 339901, township
unknown), so that the cells of a level always add up to their parent.

Series built (``LEVELS``): city x {all, top, leaf}, district x {all, top, leaf}, township x {all, top}.
Every cell of a level is built, however sparse: the engine gives sparse cells a model fit for them.

A case counts in the series built at ``as_of`` only when it had been received before ``as_of`` *and*
entered (``registered_at``) by then. The history ends with the last period complete at ``as_of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.config import RegionTree, Taxonomy
from riskwatch.forecast.base import PANDAS_FREQ, period_start

ALL = "*"
CATEGORY_LEVELS = ("all", "top", "leaf")
REGION_LEVELS = ("city", "district", "township")
#: (category level, region level) of the series that are built.
LEVELS: tuple[tuple[str, str], ...] = (
    ("all", "city"), ("top", "city"), ("leaf", "city"),
    ("all", "district"), ("top", "district"), ("leaf", "district"),
    ("all", "township"), ("top", "township"),
)
# catalog columns
CATEGORY = "category"
REGION = "region"
CATEGORY_LEVEL = "category_level"
REGION_LEVEL = "region_level"
FREQ = "freq"
LABEL = "label"
PARENT_CATEGORY = "parent_category"  # the category one level up ("" for all categories)
PARENT_REGION = "parent_region"      # the region one level up ("" for the city)
CATALOG_COLUMNS: tuple[str, ...] = (S.SERIES_ID, FREQ, CATEGORY, REGION, CATEGORY_LEVEL, REGION_LEVEL, LABEL,
                                    PARENT_CATEGORY, PARENT_REGION)
KNOWN_AT = "known_at"
WEIGHT = "weight"


def series_id(freq: str, category: str, region: str) -> str:
    """``W:0101:339901``; ``*`` for all categories."""
    return f"{freq}:{category}:{region}"


@dataclass(frozen=True)
class CellKeys:
    """For each case, its cell key at every level of both trees."""

    category: Mapping[str, np.ndarray]  # level -> key per case
    region: Mapping[str, np.ndarray]


def _category_keys(codes: pd.Series, taxonomy: Taxonomy) -> dict[str, np.ndarray]:
    cats = taxonomy.categories
    uniq = pd.unique(codes.to_numpy())
    top: dict[str, str] = {}
    leaf: dict[str, str] = {}
    has_children = {c.parent for c in cats.values() if c.parent}
    for code in uniq:
        c = cats.get(code) or cats[S.UNCLASSIFIED]
        if c.parent:
            top[code], leaf[code] = c.parent, c.code
        else:  # a top-level code: its own leaf when it has no children, else "top, leaf unknown"
            top[code] = c.code
            leaf[code] = f"{c.code}*" if c.code in has_children else c.code
    arr = codes.to_numpy()
    return {"all": np.full(len(arr), ALL, dtype=object),
            "top": pd.Series(arr).map(top).to_numpy(dtype=object),
            "leaf": pd.Series(arr).map(leaf).to_numpy(dtype=object)}


def _region_keys(codes: pd.Series, regions: RegionTree) -> dict[str, np.ndarray]:
    uniq = pd.unique(codes.to_numpy())
    out: dict[str, dict[str, str]] = {lvl: {} for lvl in REGION_LEVELS}
    for code in uniq:
        chain = regions.ancestors(code) if code in regions.regions else [regions.root]
        by_level = {regions.regions[c].level.value: c for c in chain}
        parent = regions.root
        for lvl in REGION_LEVELS:
            key = by_level.get(lvl)
            if key is None:  # recorded above this level: the parent's bucket
                key = parent if parent.endswith("*") else f"{parent}*"
            out[lvl][code] = key
            parent = key
    arr = pd.Series(codes.to_numpy())
    return {lvl: arr.map(m).to_numpy(dtype=object) for lvl, m in out.items()}


def cell_keys(cases: pd.DataFrame, taxonomy: Taxonomy, regions: RegionTree) -> CellKeys:
    """Cell keys of each case (columns ``category_code``, ``region_code``)."""
    S.require_columns(cases.columns, (S.CATEGORY_CODE, S.REGION_CODE), "cell_keys")
    return CellKeys(_category_keys(cases[S.CATEGORY_CODE].astype(str), taxonomy),
                    _region_keys(cases[S.REGION_CODE].astype(str), regions))


def known_cases(cases: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cases received before ``as_of`` and entered by then; adds ``known_at`` = max(received, registered)."""
    S.require_columns(cases.columns, (S.RECEIVED_AT, S.REGISTERED_AT), "known_cases")
    received = pd.to_datetime(cases[S.RECEIVED_AT])
    known_at = pd.to_datetime(cases[S.REGISTERED_AT]).fillna(received)
    known_at = known_at.where(known_at > received, received)
    keep = (received < as_of) & (known_at <= as_of)
    out = cases.loc[keep].copy()
    out[KNOWN_AT] = known_at[keep]
    return out


def history_periods(first_received: pd.Timestamp, as_of: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    """Complete periods from the first one fully covered by the data to the last one ended by ``as_of``."""
    first = period_start(pd.DatetimeIndex([first_received]), freq)[0]
    if first < first_received.normalize():  # the data starts inside this period: it is incomplete
        first = pd.date_range(first, periods=2, freq=PANDAS_FREQ[freq])[1]
    current = period_start(pd.DatetimeIndex([as_of]), freq)[0]  # started by as_of, so not complete
    return pd.date_range(first, current, freq=PANDAS_FREQ[freq], inclusive="left")


def _labels(cat: str, reg: str, taxonomy: Taxonomy, regions: RegionTree) -> str:
    if cat == ALL:
        c_label = "全部类别"
    elif cat.endswith("*"):
        c_label = f"{taxonomy.label(cat[:-1])}›未细分"
    else:
        c_label = taxonomy.label(cat)
    if reg.endswith("*"):
        base = reg[:-1]
        r_label = f"{regions.regions[base].name}（未细分）" if base in regions.regions else "未定位"
    else:
        r_label = regions.regions[reg].name if reg in regions.regions else reg
    return f"{c_label} · {r_label}"


def build_series(cases: pd.DataFrame, taxonomy: Taxonomy, regions: RegionTree, as_of: pd.Timestamp,
                 freq: str, weights: np.ndarray | None = None,
                 levels: tuple[tuple[str, str], ...] = LEVELS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly / monthly / daily count series of every cell, as known at ``as_of``.

    Parameters
    ----------
    cases
        Columns ``received_at, registered_at, category_code, region_code`` (other columns ignored).
    weights
        Optional per-case weight aligned with ``cases`` (``nowcast.completeness_weights``); ``y`` is the
        weighted count (the nowcast), ``y_observed`` the plain count.

    Returns
    -------
    (series, catalog): ``series`` with columns ``series_id, ds, y, y_observed`` (every cell has every
    period, zeros included); ``catalog`` with ``series_id, freq, category, region, category_level,
    region_level, label, parent_category, parent_region``, one row per series.
    """
    S.require_columns(cases.columns, (S.RECEIVED_AT, S.REGISTERED_AT, S.CATEGORY_CODE, S.REGION_CODE),
                      "build_series")
    w_all = np.ones(len(cases)) if weights is None else np.asarray(weights, dtype=float)
    if len(w_all) != len(cases):
        raise ValueError("build_series: weights must have one value per case")
    known = known_cases(cases.assign(**{WEIGHT: w_all}), as_of)
    if known.empty:
        return (pd.DataFrame(columns=list(S.SERIES_COLUMNS)), pd.DataFrame(columns=list(CATALOG_COLUMNS)))
    periods = history_periods(pd.Timestamp(known[S.RECEIVED_AT].min()), as_of, freq)
    p = period_start(known[S.RECEIVED_AT], freq)
    in_range = np.asarray((p >= periods[0]) & (p <= periods[-1])) if len(periods) else np.zeros(len(p), bool)
    known = known.loc[in_range]
    p = p[in_range]
    keys = cell_keys(known, taxonomy, regions)
    w = known[WEIGHT].to_numpy(dtype=float)
    frames, catalog = [], []
    for cat_level, reg_level in levels:
        grouped = (pd.DataFrame({CATEGORY: keys.category[cat_level], REGION: keys.region[reg_level],
                                 S.DS: p, S.Y: w, S.Y_OBSERVED: 1.0})
                   .groupby([CATEGORY, REGION, S.DS], sort=True)[[S.Y, S.Y_OBSERVED]].sum())
        cells = grouped.index.droplevel(S.DS).unique()
        if cat_level == "leaf":  # a childless top is its own leaf: already built at the top level
            cells = cells[[not _is_childless_top(c, taxonomy) for c in cells.get_level_values(0)]]
        full = pd.MultiIndex.from_tuples([(c, r, d) for c, r in cells for d in periods],
                                         names=[CATEGORY, REGION, S.DS])
        filled = grouped.reindex(full, fill_value=0.0).reset_index()
        ids = {(c, r): series_id(freq, c, r) for c, r in cells}
        filled[S.SERIES_ID] = [ids[(c, r)] for c, r in zip(filled[CATEGORY], filled[REGION], strict=True)]
        frames.append(filled[list(S.SERIES_COLUMNS)])
        catalog += [{S.SERIES_ID: ids[(c, r)], FREQ: freq, CATEGORY: c, REGION: r,
                     CATEGORY_LEVEL: cat_level, REGION_LEVEL: reg_level,
                     LABEL: _labels(c, r, taxonomy, regions),
                     PARENT_CATEGORY: _category_parent(c, taxonomy) or "",
                     PARENT_REGION: _region_parent(r, regions) or ""} for c, r in cells]
    series = pd.concat(frames, ignore_index=True)
    series[S.DS] = pd.to_datetime(series[S.DS]).astype("datetime64[us]")
    cat_frame = pd.DataFrame(catalog, columns=list(CATALOG_COLUMNS)).drop_duplicates(S.SERIES_ID)
    series = series.drop_duplicates([S.SERIES_ID, S.DS])
    return series.reset_index(drop=True), cat_frame.reset_index(drop=True)


def _is_childless_top(code: str, taxonomy: Taxonomy) -> bool:
    c = taxonomy.categories.get(code)
    return c is not None and not c.parent


def _category_parent(cat: str, taxonomy: Taxonomy) -> str | None:
    if cat == ALL:
        return None
    if cat.endswith("*"):
        return cat[:-1]
    c = taxonomy.categories.get(cat)
    return c.parent if c is not None and c.parent else ALL


def _region_parent(reg: str, regions: RegionTree) -> str | None:
    if reg.endswith("*"):
        base = reg[:-1]
        return base if base in regions.regions else None
    r = regions.regions.get(reg)
    return r.parent if r is not None and r.parent else None
