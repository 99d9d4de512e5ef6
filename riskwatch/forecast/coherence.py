"""Make the forecasts of all series add up across both trees (pure).

Stage 1, a grouped structure: the bottom series are the finest category cells built at the district level
(leaves x districts; a top-level category without children is its own leaf; "not located further"
buckets are districts like any other). Every other
city- or district-level series (all categories, a top-level category; city or district) is a sum of bottoms.
All of them are reconciled together (``reconcile.reconcile``: WLS with the backtest error variances by
default, MinT with a shrunk covariance on request).

Stage 2: townships are too sparse to be bottoms of the whole structure (30 leaves x 60 townships), so a
district's township series (all categories, and each top-level category) are fitted to the reconciled
district series (``reconcile.fit_children_to_parent``): they add up exactly, and each moves in proportion
to its error variance.

Bounds move with their median (``reconcile.reconcile_bounds``); ``yhat_base`` keeps the model's own median.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskwatch import schema as S
from riskwatch.forecast import series as SR
from riskwatch.forecast.backtest import ERROR
from riskwatch.forecast.reconcile import Hierarchy, fit_children_to_parent, reconcile, reconcile_bounds

YHAT_BASE = "yhat_base"
METHODS = ("wls", "wls_struct", "ols", "mint_shrink", "none")


def stage_one(catalog: pd.DataFrame) -> Hierarchy:
    """The grouped structure of the city- and district-level series of ``catalog`` (``series.CATALOG_COLUMNS``)."""
    S.require_columns(catalog.columns, SR.CATALOG_COLUMNS, "stage_one")
    upper = catalog[catalog[SR.REGION_LEVEL].isin(["city", "district"])]
    district = upper[upper[SR.REGION_LEVEL] == "district"]
    has_children = set(zip(district[SR.PARENT_CATEGORY], district[SR.REGION], strict=True))
    bottom = district[np.array([(c, r) not in has_children for c, r in
                                zip(district[SR.CATEGORY], district[SR.REGION], strict=True)], dtype=bool)]
    b_ids = bottom[S.SERIES_ID].to_numpy()
    b_top = bottom[SR.PARENT_CATEGORY].to_numpy()
    b_cat = bottom[SR.CATEGORY].to_numpy()
    b_reg = bottom[SR.REGION].to_numpy()
    aggregates: dict[str, tuple[str, ...]] = {}
    for row in upper[~upper[S.SERIES_ID].isin(b_ids)].itertuples(index=False):
        cat, reg = getattr(row, SR.CATEGORY), getattr(row, SR.REGION)
        cat_ok = np.ones(len(b_ids), bool) if cat == SR.ALL else (b_top == cat) | (b_cat == cat)
        reg_ok = np.ones(len(b_ids), bool) if getattr(row, SR.REGION_LEVEL) == "city" else b_reg == reg
        members = tuple(b_ids[cat_ok & reg_ok])
        if members:
            aggregates[getattr(row, S.SERIES_ID)] = members
    return Hierarchy(bottom=tuple(b_ids), aggregates=aggregates)


def error_variances(errors: pd.DataFrame, ids: pd.Index, fallback: pd.Series) -> pd.Series:
    """Mean squared backtest error per series; ``fallback`` (e.g. the forecast mean, Poisson-like) where
    a series has no backtest, and never below 0.25."""
    mse = errors[ERROR].astype(float).pow(2).groupby(errors[S.SERIES_ID]).mean()
    out = mse.reindex(ids)
    out = out.fillna(fallback.reindex(ids))
    return out.clip(lower=0.25).fillna(1.0)


def reconcile_forecasts(forecasts: pd.DataFrame, catalog: pd.DataFrame, errors: pd.DataFrame,
                        method: str = "wls") -> pd.DataFrame:
    """Coherent forecasts: ``forecasts`` (``FORECAST_COLUMNS``) with ``yhat`` and the bounds reconciled and
    the model's own median kept as ``yhat_base``. ``errors``: backtest errors (``backtest.ERROR_COLUMNS``)."""
    S.require_columns(forecasts.columns, S.FORECAST_COLUMNS, "reconcile_forecasts")
    if method not in METHODS:
        raise ValueError(f"reconcile_forecasts: unknown method {method!r} (one of {', '.join(METHODS)})")
    out = forecasts.copy()
    out[YHAT_BASE] = out[S.YHAT]
    if method == "none":
        return out
    wide = out.pivot(index=S.SERIES_ID, columns=S.STEP, values=S.YHAT)
    variances = error_variances(errors, wide.index, wide.mean(axis=1))
    hier = stage_one(catalog[catalog[S.SERIES_ID].isin(wide.index)])
    nodes = [*hier.aggregates, *hier.bottom]
    residuals = None
    if method == "mint_shrink" and not errors.empty:
        residuals = errors.pivot_table(index=["origin", S.STEP], columns=S.SERIES_ID, values=ERROR)
        residuals = residuals.reindex(columns=nodes)
    rec = reconcile(wide.loc[nodes], hier, method=method, variances=variances.loc[nodes], residuals=residuals)
    new = wide.copy()
    new.loc[rec.index] = rec.to_numpy()
    new = _stage_two(new, catalog, variances)
    mean = new.stack().rename(S.YHAT)
    keyed = out.set_index([S.SERIES_ID, S.STEP])
    fixed = reconcile_bounds(keyed, mean.reindex(keyed.index))
    fixed[YHAT_BASE] = keyed[YHAT_BASE]
    return fixed.reset_index()[list(out.columns)]


def _stage_two(wide: pd.DataFrame, catalog: pd.DataFrame, variances: pd.Series) -> pd.DataFrame:
    town = catalog[(catalog[SR.REGION_LEVEL] == "township") & catalog[S.SERIES_ID].isin(wide.index)]
    ids = {(c, r): sid for c, r, sid in zip(catalog[SR.CATEGORY], catalog[SR.REGION], catalog[S.SERIES_ID],
                                            strict=True)}
    for (cat, parent_region), group in town.groupby([SR.CATEGORY, SR.PARENT_REGION]):
        parent = ids.get((cat, parent_region))
        children = [sid for sid in group[S.SERIES_ID] if sid != parent]
        if parent is None or parent not in wide.index or not children:
            continue
        fitted = fit_children_to_parent(wide.loc[children].to_numpy(), wide.loc[parent].to_numpy(),
                                        variances.reindex(children).to_numpy())
        wide.loc[children] = fitted
    return wide
