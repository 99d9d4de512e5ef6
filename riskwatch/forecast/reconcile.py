"""Coherent forecasts across the category and region trees (pure numpy / scipy / pandas).

Forecasts exist for the city total, each top-level and leaf category, each district, category x district
cells and so on; made one by one they do not add up. ``reconcile`` makes them coherent by the linear
projection ``y~ = S G y^`` with ``G = (S' W^-1 S)^-1 S' W^-1`` (OLS, WLS, structural scaling or MinT with a
shrunk covariance); the structure may be grouped (cells summed along several trees), not only nested.
``fit_children_to_parent`` is the second stage under a parent already fixed (a district's townships
under the district total) and ``reconcile_bounds`` moves a forecast's interval bounds with its mean.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve

from riskwatch import schema as S

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("ols", "wls", "wls_struct", "mint_shrink")
MIN_RESIDUAL_ROWS = 8        # residual samples MinT needs; fewer and it falls back to WLS
VARIANCE_FLOOR = 1e-6        # relative to the largest variance: a zero-error series still gets a weight
BOUND_COLUMNS: tuple[str, ...] = (S.YHAT_LOWER_95, S.YHAT_LOWER_80, S.YHAT_UPPER_80, S.YHAT_UPPER_95)
SCALE_MIN_MEAN = 0.05        # bounds are scaled with the mean above this old mean, shifted below it


@dataclass(frozen=True)
class Hierarchy:
    """Which bottom series each aggregate sums.

    ``bottom``: ids of the bottom series (cells); ``aggregates``: aggregate id -> the bottom ids it sums. A
    grouped structure (cells summed by category and, separately, by district) is fine.
    """

    bottom: tuple[str, ...]
    aggregates: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        if len(set(self.bottom)) != len(self.bottom):
            raise ValueError("Hierarchy: duplicate bottom ids")
        known = set(self.bottom)
        for agg, members in self.aggregates.items():
            if agg in known:
                raise ValueError(f"Hierarchy: {agg!r} is both a bottom and an aggregate id")
            unknown = [m for m in members if m not in known]
            if unknown or not members:
                raise ValueError(f"Hierarchy: aggregate {agg!r} sums unknown or no bottom ids: {unknown[:5]}")

    @property
    def ids(self) -> list[str]:
        """Every series id: the aggregates (sorted), then the bottom series (in order)."""
        return sorted(self.aggregates) + list(self.bottom)

    def summing_matrix(self) -> tuple[list[str], np.ndarray]:
        """Row ids (aggregates sorted, then bottom) and ``S`` (n_all x n_bottom) of zeros and ones."""
        col = {b: j for j, b in enumerate(self.bottom)}
        aggs = sorted(self.aggregates)
        s = np.zeros((len(aggs) + len(self.bottom), len(self.bottom)))
        for i, agg in enumerate(aggs):
            s[i, [col[m] for m in set(self.aggregates[agg])]] = 1.0
        s[len(aggs):] = np.eye(len(self.bottom))
        return aggs + list(self.bottom), s


def reconcile(base: pd.DataFrame, hierarchy: Hierarchy, method: str = "wls",
              variances: pd.Series | None = None, residuals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Coherent, non-negative point forecasts from base forecasts of every node of ``hierarchy``.

    Parameters
    ----------
    base : index = every series id of the hierarchy, columns = forecast steps, values = base point forecasts.
    hierarchy : the summing structure.
    method : ``"ols"`` (W = I), ``"wls"`` (W = diag(``variances``), e.g. backtest mean squared errors),
        ``"wls_struct"`` (W = diag(number of bottom series under each node)) or ``"mint_shrink"`` (W = the
        Schafer-Strimmer shrunk covariance of ``residuals``; with fewer than ``MIN_RESIDUAL_ROWS`` complete
        rows, or residuals missing a series, it falls back to ``wls`` (``wls_struct`` without variances)).
    variances : one per series id (``wls``); non-positive values are floored.
    residuals : rows = samples (e.g. backtest errors at one step), columns = series ids (``mint_shrink``).

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``base``; every aggregate equals the sum of its bottom series. Negative
        reconciled bottom values are set to 0 and the aggregates summed again (so the result is coherent
        and non-negative, no longer an exact projection). ``attrs["method"]`` is the method really used,
        ``attrs["note"]`` why it differs or that negatives were clipped (``""`` otherwise).
    """
    ids, smat = hierarchy.summing_matrix()
    y = _base_matrix(base, ids)
    w, used, note = _weights(method, ids, smat, variances, residuals)
    if note:
        log.warning("reconcile: %s", note)
    bottom = _project(smat, y, w)
    if (bottom < 0).any():
        note = "; ".join(filter(None, [note, f"{int((bottom < 0).sum())} negative bottom value(s) set to 0"]))
        bottom = np.maximum(bottom, 0.0)
    out = pd.DataFrame(smat @ bottom, index=pd.Index(ids, name=base.index.name), columns=base.columns)
    out = out.loc[base.index]
    out.attrs.update(method=used, note=note)
    return out


def _base_matrix(base: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """The base forecasts in ``ids`` order, checked: every id present once, nothing else, all finite."""
    known = set(ids)
    missing = [i for i in ids if i not in base.index]
    extra = [i for i in base.index if i not in known]
    if missing or extra or base.index.has_duplicates:
        raise ValueError(f"reconcile: base index must be the hierarchy's ids exactly "
                         f"(missing {missing[:5]}, unknown {extra[:5]}, duplicated: {base.index.has_duplicates})")
    y = base.loc[ids].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError("reconcile: base forecasts must be finite")
    return y


def _weights(method: str, ids: list[str], smat: np.ndarray, variances: pd.Series | None,
             residuals: pd.DataFrame | None) -> tuple[np.ndarray, str, str]:
    """W as a vector (diagonal) or a matrix, the method really used, and why it differs ("" when not)."""
    if method not in METHODS:
        raise ValueError(f"reconcile: unknown method {method!r} (expected one of {', '.join(METHODS)})")
    if method == "ols":
        return np.ones(len(ids)), method, ""
    if method == "wls_struct":
        return smat.sum(axis=1), method, ""
    if method == "wls":
        if variances is None:
            raise ValueError("reconcile: method 'wls' needs variances (one per series id)")
        return _floor(_aligned(variances, ids)), method, ""
    reason = _mint_unusable(residuals, ids)
    if reason is None:
        assert residuals is not None
        return shrink_covariance(residuals[ids].dropna().to_numpy(dtype=float)), method, ""
    if variances is not None:
        return _floor(_aligned(variances, ids)), "wls", f"mint_shrink fell back to wls: {reason}"
    return smat.sum(axis=1), "wls_struct", f"mint_shrink fell back to wls_struct: {reason} and no variances"


def _mint_unusable(residuals: pd.DataFrame | None, ids: list[str]) -> str | None:
    """Why ``residuals`` cannot give MinT's covariance, or ``None`` when they can."""
    if residuals is None:
        return "no residuals given"
    missing = [i for i in ids if i not in residuals.columns]
    if missing:
        return f"residuals miss {len(missing)} series (e.g. {missing[0]!r})"
    rows = len(residuals[ids].dropna())
    if rows < MIN_RESIDUAL_ROWS:
        return f"{rows} complete residual rows (fewer than {MIN_RESIDUAL_ROWS})"
    return None


def _aligned(variances: pd.Series, ids: list[str]) -> np.ndarray:
    missing = [i for i in ids if i not in variances.index]
    if missing:
        raise ValueError(f"reconcile: variances missing for {len(missing)} series (e.g. {missing[0]!r})")
    v = variances.loc[ids].to_numpy(dtype=float)
    if not np.isfinite(v).all():
        raise ValueError("reconcile: variances must be finite")
    return v


def _floor(v: np.ndarray) -> np.ndarray:
    """Variances floored at ``VARIANCE_FLOOR`` times the largest (all ones when none is positive)."""
    top = float(v.max(initial=0.0))
    return np.maximum(v, VARIANCE_FLOOR * top) if top > 0 else np.ones_like(v)


def shrink_covariance(res: np.ndarray) -> np.ndarray:
    """Schafer-Strimmer shrinkage of the (uncentred) residual covariance towards its diagonal.

    As in MinT (Wickramasuriya, Athanasopoulos & Hyndman 2019, R ``hts::shrink.estim``): with ``R`` the
    residuals scaled to unit variance, ``lambda = sum Var(r_ij) / sum r_ij ** 2`` over the off-diagonal
    correlations, clipped to [0, 1]; ``W = lambda * diag + (1 - lambda) * cov``.
    """
    n = res.shape[0]
    cov = res.T @ res / n
    sd = np.sqrt(_floor(np.diag(cov).copy()))
    xs = res / sd
    corr = xs.T @ xs / n
    v = (xs**2).T @ (xs**2) / (n * (n - 1)) - corr**2 / (n - 1)  # Var of each r_ij
    np.fill_diagonal(v, 0.0)
    off = corr**2
    np.fill_diagonal(off, 0.0)
    lam = float(np.clip(v.sum() / off.sum(), 0.0, 1.0)) if off.sum() > 0 else 1.0
    shrunk = (1 - lam) * cov
    shrunk[np.diag_indices_from(shrunk)] = sd**2
    return shrunk


def _project(smat: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Reconciled bottom forecasts ``(S' W^-1 S)^-1 S' W^-1 y`` (W a diagonal vector or a matrix)."""
    if w.ndim == 1:
        winv_s, winv_y = smat / w[:, None], y / w[:, None]
    else:
        fac = cho_factor(w + 1e-9 * np.trace(w) / len(w) * np.eye(len(w)), lower=True)
        winv_s, winv_y = cho_solve(fac, smat), cho_solve(fac, y)
    return cho_solve(cho_factor(smat.T @ winv_s, lower=True), smat.T @ winv_y)


def fit_children_to_parent(children: np.ndarray, parent: np.ndarray,
                           variances: np.ndarray | None = None) -> np.ndarray:
    """Non-negative child forecasts that sum exactly to a fixed parent forecast.

    Minimises ``sum (x_i - c_i) ** 2 / v_i`` subject to ``sum x_i = parent`` and ``x_i >= 0`` for each step:
    each child moves by a share of the gap proportional to its variance; children driven below 0 are set
    to 0 and the gap is shared again among the others until none is negative.

    Parameters
    ----------
    children : k x h base forecasts (or a length-k vector for one step).
    parent : h fixed (already reconciled) parent forecasts; negative values are taken as 0.
    variances : k (or k x h) variances; ``None`` takes each child's own forecast (Poisson-like: the gap is
        shared in proportion to the children's sizes). When the children that may move have no variance
        (all zero), the gap is split in equal shares.

    Returns
    -------
    numpy.ndarray
        Same shape as ``children``, >= 0, columns summing to ``parent``.
    """
    c = np.asarray(children, dtype=float)
    one_step = c.ndim == 1
    c = c[:, None] if one_step else c
    p = np.broadcast_to(np.maximum(np.asarray(parent, dtype=float), 0.0), (c.shape[1],))
    if variances is None:
        v = np.maximum(c, 0.0)
    else:
        v = np.asarray(variances, dtype=float)
        v = np.broadcast_to(v[:, None] if v.ndim == 1 else v, c.shape)
    if not (np.isfinite(c).all() and np.isfinite(p).all() and np.isfinite(v).all()) or (v < 0).any():
        raise ValueError("fit_children_to_parent: forecasts and variances must be finite, variances >= 0")
    out = np.column_stack([_fit_step(c[:, j], p[j], v[:, j]) for j in range(c.shape[1])])
    return out[:, 0] if one_step else out


def _fit_step(c: np.ndarray, p: float, v: np.ndarray) -> np.ndarray:
    """One step of ``fit_children_to_parent``: ``x_i = max(0, c_i + v_i * mu)`` with ``sum x = p``."""
    k = len(c)
    x = np.zeros(k)
    if k == 0 or p <= 0:
        return x
    free = np.ones(k, dtype=bool)
    for _ in range(k):
        vf = v[free] if v[free].sum() > 0 else np.ones(int(free.sum()))
        x[:] = 0.0
        x[free] = c[free] + vf * (p - c[free].sum()) / vf.sum()
        if (x >= 0).all():
            break
        free &= x > 0
    x = np.maximum(x, 0.0)
    x[int(np.argmax(x))] += p - x.sum()   # exact sum (floating point)
    return x


def reconcile_bounds(base: pd.DataFrame, reconciled_mean: pd.Series) -> pd.DataFrame:
    """A forecast frame with ``yhat`` replaced by ``reconciled_mean`` and its bounds moved with it.

    ``base`` needs ``yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95``;
    ``reconciled_mean`` is aligned on ``base``'s index and must cover it. A median moved down scales every
    bound by new / old (a lower bound of 0 stays 0). A median moved up shifts the upper bounds by new - old
    and scales the lower bounds by new / old only where the old ``yhat`` is above ``SCALE_MIN_MEAN``: a
    small count's interval keeps 0 in it when reconciliation lifts its median a little. Then clipped at 0
    and kept in order ``lower95 <= lower80 <= yhat <= upper80 <= upper95``. Other columns are kept.
    """
    S.require_columns(base.columns, (S.YHAT, *BOUND_COLUMNS), "reconcile_bounds")
    new = reconciled_mean.reindex(base.index).to_numpy(dtype=float)
    if not np.isfinite(new).all():
        raise ValueError("reconcile_bounds: reconciled_mean must cover base's index with finite values")
    old = base[S.YHAT].to_numpy(dtype=float)
    scale = old > SCALE_MIN_MEAN
    ratio = np.divide(new, old, out=np.ones_like(new), where=scale)
    up = new >= old
    out = base.copy()
    moved = {}
    for col in BOUND_COLUMNS:
        v = out[col].to_numpy(dtype=float)
        if col in (S.YHAT_UPPER_80, S.YHAT_UPPER_95):
            moved[col] = np.where(up, v + (new - old), v * np.where(scale, ratio, 1.0))
        else:
            moved[col] = v * np.where(scale, ratio, 1.0)
    mean = np.maximum(new, 0.0)
    lo80 = np.minimum(np.maximum(moved[S.YHAT_LOWER_80], 0.0), mean)
    lo95 = np.minimum(np.maximum(moved[S.YHAT_LOWER_95], 0.0), lo80)
    up80 = np.maximum(moved[S.YHAT_UPPER_80], mean)
    up95 = np.maximum(moved[S.YHAT_UPPER_95], up80)
    for col, values in ((S.YHAT, mean), (S.YHAT_LOWER_80, lo80), (S.YHAT_LOWER_95, lo95),
                        (S.YHAT_UPPER_80, up80), (S.YHAT_UPPER_95, up95)):
        out[col] = values
    return out
