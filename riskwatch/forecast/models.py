"""Model families: each is ``(SeriesData, horizon) -> ModelForecast`` (see ``base``).

Every model returns the predictive median as ``mean`` (the engine scores with MAE) and central 80% and
95% intervals; it raises ``ModelFailed`` rather than return a forecast it cannot stand behind.

==============  =====================================================================================
seasonal_naive  the value one season back; intervals from the in-sample seasonal differences
ets             STL (robust) + damped-trend ETS on log1p(y), the last seasonal cycle re-added
nb_glm          negative-binomial GLM: trend (if significant), annual Fourier terms, calendar regressors
sparse_nb       the recent rate with negative-binomial quantiles; short, intermittent or all-zero series
prophet         Prophet on log1p(y) with the calendar regressors (``prophet_model``, imported lazily)
==============  =====================================================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy import special, stats

from riskwatch.forecast.base import PERIODS_PER_YEAR, ModelFailed, ModelForecast, SeriesData, days_in_periods
from riskwatch.forecast.features import FEATURE_COLUMNS

QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)   # lower95, lower80, median, upper80, upper95
SPARSE_WINDOW = {"D": 28, "W": 52, "M": 12}  # periods in sparse_nb's recent window
TREND_P_VALUE = 0.01
MAX_GROWTH = 20.0  # a median above MAX_GROWTH * (max(y) + 1) is treated as a failed fit
MAX_LOG_SE = 3.0   # nb_glm: a log-mean standard error above this means the fit did not identify it
_GH_Z, _GH_W = hermegauss(16)
_GH_W = _GH_W / _GH_W.sum()

Model = Callable[[SeriesData, int], ModelForecast]


# --- shared helpers ---------------------------------------------------------------------------
def check_input(data: SeriesData, horizon: int, model: str) -> None:
    """Raise ``ModelFailed`` unless ``horizon >= 1`` and ``data.y`` is a non-empty, finite, non-negative array."""
    if horizon < 1:
        raise ModelFailed(f"{model}: horizon must be >= 1, got {horizon}")
    y = np.asarray(data.y, dtype=float)
    if y.size == 0:
        raise ModelFailed(f"{model}: empty history")
    if not np.isfinite(y).all() or (y < 0).any():
        raise ModelFailed(f"{model}: history has NaN, infinite or negative values")


def from_quantiles(model: str, q: np.ndarray, note: str = "", expected: np.ndarray | None = None
                   ) -> ModelForecast:
    """A forecast from an array of ``QUANTILES`` (rows) by horizon (columns) and the predictive mean."""
    return ModelForecast.make(model, q[2], q[1], q[3], q[0], q[4], note, expected)


def check_plausible(model: str, median: np.ndarray, y: np.ndarray) -> None:
    """Raise ``ModelFailed`` when the median runs far beyond anything in the history."""
    if not np.isfinite(median).all():
        raise ModelFailed(f"{model}: non-finite forecast")
    if median.max() > MAX_GROWTH * (float(np.max(y)) + 1.0):
        raise ModelFailed(f"{model}: explosive forecast (median {median.max():.0f} vs history max {np.max(y):.0f})")


def _mixture_cdf(k: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    """CDF at counts ``k`` (Q, H) of the NB2 mixture over the quadrature means ``mu`` (nodes, H)."""
    kk = np.maximum(k, 0.0)[:, None, :]
    if alpha < 1e-8:
        c = special.gammaincc(kk + 1.0, mu[None])                       # Poisson
    else:
        size = 1.0 / alpha
        c = special.betainc(size, kk + 1.0, size / (size + mu[None]))   # NB2
    return np.where(k >= 0, np.einsum("qjh,j->qh", c, _GH_W), 0.0)


def nb_quantiles(eta: np.ndarray, se: np.ndarray, alpha: float,
                 qs: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Quantiles of a negative binomial whose log-mean is uncertain.

    The count is NB2 (variance ``mu + alpha mu^2``; Poisson when ``alpha`` is ~0) with
    ``log mu ~ Normal(eta, se^2)``; the mixture is integrated by Gauss-Hermite quadrature and each
    quantile (the smallest count whose CDF reaches it) is found by integer bisection.

    Returns
    -------
    Array ``(len(qs), len(eta))`` of integer-valued quantiles. Raises ``ModelFailed`` when the mixture
    has no finite quantiles (an overflowing mean).
    """
    eta = np.asarray(eta, dtype=float)
    se = np.broadcast_to(np.asarray(se, dtype=float), eta.shape)
    pairs, inverse = np.unique(np.column_stack([eta, se]), axis=0, return_inverse=True)
    if len(pairs) < len(eta):                                            # e.g. a flat forecast
        return nb_quantiles(pairs[:, 0], pairs[:, 1], alpha, qs)[:, inverse.ravel()]
    with np.errstate(over="ignore"):
        mu = np.exp(eta[None, :] + se[None, :] * _GH_Z[:, None])        # (nodes, H)
    if not np.isfinite(mu).all() or not np.isfinite(alpha) or alpha < 0:
        raise ModelFailed("predictive mean overflows")
    q = np.asarray(qs, dtype=float)[:, None]
    mu_max = mu.max(axis=0)
    guess = np.ceil(mu_max + 4 * np.sqrt(mu_max + alpha * mu_max ** 2) + 1)
    hi = np.broadcast_to(guess, (len(qs), len(eta))).copy()
    while not (ok := _mixture_cdf(hi, mu, alpha) >= q).all():          # widen until cdf(hi) >= q
        if hi.max() > 1e15:
            raise ModelFailed("predictive quantiles beyond any count")
        hi = np.where(ok, hi, 2 * hi + 1)
    lo = np.full_like(hi, -1.0)                                          # cdf(lo) < q
    while (hi - lo > 1).any():
        mid = np.floor((lo + hi) / 2)
        ok = _mixture_cdf(mid, mu, alpha) >= q
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi


def _moment_alpha(y: np.ndarray, mu: np.ndarray, n_params: int) -> float:
    """NB2 dispersion by the method of moments: sum((y - mu)^2 - y) / sum(mu^2), df-corrected, >= 0."""
    dof = max(len(y) - n_params, 1)
    alpha = float(((y - mu) ** 2 - y).sum() / max((mu ** 2).sum(), 1e-12)) * len(y) / dof
    return max(alpha, 0.0)


# --- seasonal naive, naive, sparse ------------------------------------------------------------
def _rate_forecast(model: str, window: np.ndarray, horizon: int, note: str = "") -> ModelForecast:
    """A flat forecast at the window's mean rate with NB quantiles (dispersion and rate uncertainty)."""
    k = len(window)
    total = float(window.sum())
    if total <= 0:
        upper80, upper95 = -np.log(0.1) / k, -np.log(0.025) / k   # zero-count rate bounds (rule of three)
        zero = np.zeros(horizon)
        reason = f"no case in the last {k} periods: upper bounds are rate bounds"
        return ModelForecast.make(model, zero, zero, np.full(horizon, upper80), zero,
                                  np.full(horizon, upper95), "; ".join(x for x in (note, reason) if x), zero)
    mu = total / k
    alpha = _moment_alpha(window, np.full(k, mu), 1) if k >= 2 else 0.0
    se = np.sqrt(np.log1p(1.0 / total + alpha / k))     # CV of the estimated rate
    q = nb_quantiles(np.full(horizon, np.log(mu)), np.full(horizon, se), alpha)
    return from_quantiles(model, q, note, np.full(horizon, mu))


def sparse_nb(data: SeriesData, horizon: int) -> ModelForecast:
    """The recent mean rate (last season; D: last 28 days; all history if shorter) with NB quantiles.

    An all-zero window gives 0 and the zero-count upper rate bounds ``-ln(1 - q) / n`` (the rule of
    three at q = 0.95). Never fails on a valid history of length >= 1.
    """
    check_input(data, horizon, "sparse_nb")
    y = np.asarray(data.y, dtype=float)
    return _rate_forecast("sparse_nb", y[-SPARSE_WINDOW[data.freq]:], horizon)


def seasonal_naive(data: SeriesData, horizon: int) -> ModelForecast:
    """``y[t+h] = y[t+h-m k]`` (``m = data.season``, ``k = ceil(h / m)``).

    Intervals: empirical quantiles of the in-sample seasonal differences ``y[t] - y[t-m]``, scaled by
    ``sqrt(k)``, added to the point, and at least as wide as Poisson quantiles around the point. With ``n < m + 4`` it falls back to the recent mean (model "naive").
    """
    check_input(data, horizon, "seasonal_naive")
    y = np.asarray(data.y, dtype=float)
    n, m = len(y), data.season
    if n < m + 4:
        recent = y[-min(n, 7 if data.freq == "D" else 4):]
        return _rate_forecast("naive", recent, horizon,
                              f"naive (mean of the last {len(recent)}): {n} periods < one season ({m}) + 4")
    h = np.arange(1, horizon + 1)
    k = -(-h // m)
    point = y[n - 1 + h - m * k]
    dq = np.quantile(y[m:] - y[:-m], QUANTILES)
    q = point[None, :] + dq[:, None] * np.sqrt(k)[None, :]
    q[2] = point
    # counts: never narrower than Poisson noise around the point (a sparse history's seasonal differences
    # are mostly 0, which would give an interval of zero width)
    floor = stats.poisson.ppf(np.asarray(QUANTILES)[:, None], np.maximum(point, 1e-9)[None, :])
    q = np.vstack([np.minimum(q[:2], floor[:2]), q[2:3], np.maximum(q[3:], floor[3:])])
    return from_quantiles("seasonal_naive", q)


# --- ETS --------------------------------------------------------------------------------------
STL_SEASONAL = 11  # STL seasonal smoother: a local mean (degree 0) over ~11 cycles, i.e. the years seen


def ets(data: SeriesData, horizon: int) -> ModelForecast:
    """Damped-trend ETS(A,Ad,N) on ``log1p(y)``, after a robust STL (period ``m``, D: 7) when ``n >= 2m``.

    The STL seasonal is a local mean over cycles (``seasonal=11, seasonal_deg=0``: with a few years it
    averages them rather than extrapolating last year's noise); the seasonal component of the last cycle
    is re-added (``STLForecast``). Intervals are the ETS prediction intervals on the log scale, widened
    when the STL seasonal has absorbed noise: the noise scale is taken from the seasonal differences,
    ``sd(z[t] - z[t-m]) / sqrt(2)``, times ``sqrt(1 + m / n)`` for the error of the seasonal estimate.
    Mapped back with ``expm1`` (the log-scale mean is the count median).
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.stl import STLForecast

    check_input(data, horizon, "ets")
    y = np.asarray(data.y, dtype=float)
    n, m = len(y), data.season
    if np.ptp(y) == 0:
        raise ModelFailed("ets: constant history")
    z = np.log1p(y)
    kwargs = {"error": "add", "trend": "add", "damped_trend": True}
    seasonal = n >= 2 * m
    if not seasonal and n < 10:
        raise ModelFailed(f"ets: {n} periods (needs >= 10)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if seasonal:
                res = STLForecast(pd.Series(z), ETSModel, model_kwargs=kwargs, period=m, robust=True,
                                  seasonal=STL_SEASONAL, seasonal_deg=0).fit(
                    outer_iter=5, fit_kwargs={"disp": False})
            else:
                res = ETSModel(pd.Series(z), **kwargs).fit(disp=False)
            pred = res.get_prediction(n, n + horizon - 1)
            frames = {a: pred.summary_frame(alpha=a) for a in (0.05, 0.2)}
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise ModelFailed(f"ets: fit failed: {exc}") from exc
    center = frames[0.05]["mean"].to_numpy()
    widen = 1.0
    if seasonal:
        noise = float(np.std(z[m:] - z[:-m])) / np.sqrt(2.0) * np.sqrt(1.0 + m / n)
        h1 = (frames[0.2].iloc[0, -1] - center[0]) / stats.norm.ppf(0.9)   # one-step sd of the ETS
        widen = max(1.0, noise / h1) if h1 > 0 else 1.0

    def bounds(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = frame.iloc[:, -2].to_numpy(), frame.iloc[:, -1].to_numpy()   # pi / mean_ci lower, upper
        return center - (center - lo) * widen, center + (hi - center) * widen

    (l95, u95), (l80, u80) = bounds(frames[0.05]), bounds(frames[0.2])
    q = np.expm1(np.vstack([l95, l80, center, u80, u95]))
    check_plausible("ets", q[2], y)
    note = "" if seasonal else f"no seasonal component: {n} periods < 2 seasons ({2 * m})"
    sd = (u80 - center) / stats.norm.ppf(0.9)                       # log-scale sd, as widened
    expected = np.expm1(center + np.square(np.maximum(sd, 0.0)) / 2)  # log-normal mean
    return from_quantiles("ets", q, note, expected)


# --- negative-binomial regression -------------------------------------------------------------
def _annual_terms(ds: pd.DatetimeIndex, freq: str, n_hist: int) -> tuple[np.ndarray, list[str]]:
    """Annual seasonality: month dummies (M with >= 3 years) or Fourier pairs at mid-period."""
    if freq == "M" and n_hist >= 36:
        month = np.asarray(ds.month)
        return np.column_stack([(month == k).astype(float) for k in range(2, 13)]), \
            [f"month_{k}" for k in range(2, 13)]
    K = {"D": 3, "W": 4, "M": 3}[freq]
    days = np.asarray((ds - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1), dtype=float)
    t = (days + (days_in_periods(ds, freq) - 1) / 2) / 365.25   # mid-period, in years
    cols, names = [], []
    for k in range(1, K + 1):
        cols += [np.sin(2 * np.pi * k * t), np.cos(2 * np.pi * k * t)]
        names += [f"sin{k}", f"cos{k}"]
    return np.column_stack(cols), names


def _independent(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Indices of the columns kept, in order, dropping any that is (nearly) a combination of earlier ones.

    In a QR decomposition ``|R[j, j]|`` is the norm of column ``j`` less its projection on the earlier ones.
    """
    norms = np.linalg.norm(X, axis=0)
    r = np.zeros(X.shape[1])
    diag = np.abs(np.diag(np.linalg.qr(X, mode="r")))
    r[:len(diag)] = diag                     # fewer rows than columns: the last columns are dependent
    return [j for j in range(X.shape[1]) if norms[j] > 0 and r[j] > tol * norms[j]]


def _nb_design(data: SeriesData, horizon: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """History and future design matrices: intercept, trend, annual, day of week, calendar regressors."""
    n, freq = data.n, data.freq
    ds = data.ds.append(data.future_ds(horizon))
    per_year = PERIODS_PER_YEAR[freq]
    t = np.asarray((ds - ds[0]) / pd.Timedelta(days=1)) / 365.25
    cols: list[np.ndarray] = [np.ones(len(ds))]
    names = ["intercept"]
    if n >= 2 * per_year:
        t_last = t[n - 1]
        cols.append(np.minimum(t, t_last + 1.0))   # the trend is held one year after the last period
        names.append("trend")
    if n >= per_year:
        annual, annual_names = _annual_terms(ds, freq, n)
        cols += list(annual.T)
        names += annual_names
    if freq == "D" and n >= 14:
        dow = np.asarray(ds.day_of_week)
        cols += [(dow == k).astype(float) for k in range(1, 7)]
        names += [f"dow_{k}" for k in range(1, 7)]
    exog = data.exog.reindex(ds)
    y = np.asarray(data.y, dtype=float)
    for c in FEATURE_COLUMNS:
        if c in exog:
            v = exog[c].to_numpy(dtype=float)
            # constant in the history, or never active when there were cases: no estimable effect
            if np.isfinite(v).all() and np.ptp(v[:n]) > 1e-9 and y[v[:n] > 0].sum() > 0:
                cols.append(v)
                names.append(c)
    X = np.column_stack(cols)
    keep = _independent(X[:n])
    return X[:n, keep], X[n:, keep], [names[i] for i in keep]


@dataclass(frozen=True)
class NBFit:
    """A negative-binomial (NB2, log link) GLM fit: coefficients, their covariance, the dispersion."""

    params: np.ndarray
    cov: np.ndarray
    alpha: float
    iterations: int

    def pvalue(self, j: int) -> float:
        """Two-sided Wald p-value of coefficient ``j``."""
        return float(2 * stats.norm.sf(abs(self.params[j]) / np.sqrt(max(self.cov[j, j], 1e-300))))


def _deviance(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    if alpha < 1e-8:
        return float(2 * (ylogy - (y - mu)).sum())
    return float(2 * (ylogy - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu))).sum())


def fit_nb_glm(y: np.ndarray, X: np.ndarray, alpha: float, start: np.ndarray | None = None,
               maxiter: int = 100, tol: float = 1e-10) -> NBFit:
    """IRLS for a GLM with log link and variance ``mu + alpha mu^2`` (Poisson at ``alpha = 0``).

    The same estimates as statsmodels ``GLM(y, X, family=NegativeBinomial(alpha))``, at a fraction of its
    overhead. Raises ``ModelFailed`` when it does not converge or the information matrix is singular.
    """
    eta = X @ start if start is not None else np.log((y + max(float(y.mean()), 1e-3)) / 2)
    dev_old, iterations = np.inf, 0
    for it in range(1, maxiter + 1):
        mu = np.exp(np.clip(eta, -30, 30))
        w = mu / (1 + alpha * mu)
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], (eta + (y - mu) / mu) * sw, rcond=None)[0]
        eta = X @ beta
        dev = _deviance(y, np.exp(np.clip(eta, -30, 30)), alpha)
        if abs(dev - dev_old) <= tol * (abs(dev) + 1.0):
            iterations = it
            break
        dev_old = dev
    if not iterations:
        raise ModelFailed("nb_glm: IRLS did not converge")
    mu = np.exp(np.clip(eta, -30, 30))
    w = mu / (1 + alpha * mu)
    try:
        cov = np.linalg.inv(X.T @ (X * w[:, None]))
    except np.linalg.LinAlgError as exc:
        raise ModelFailed("nb_glm: singular information matrix") from exc
    if not (np.isfinite(beta).all() and np.isfinite(cov).all()):
        raise ModelFailed("nb_glm: non-finite coefficients")
    return NBFit(beta, cov, alpha, iterations)


def _fit_nb(y: np.ndarray, X: np.ndarray) -> NBFit:
    """NB2 GLM with the dispersion by moments: Poisson start, then two rounds of alpha and IRLS."""
    fit = fit_nb_glm(y, X, 0.0)
    for _ in range(2):
        alpha = max(_moment_alpha(y, np.exp(np.clip(X @ fit.params, -30, 30)), X.shape[1]), 1e-6)
        fit = fit_nb_glm(y, X, alpha, start=fit.params)
    return fit


def nb_regression(data: SeriesData, horizon: int) -> ModelForecast:
    """Negative-binomial GLM (log link) with calendar regressors; predictive NB quantiles.

    Terms: intercept; a linear trend in years (only with >= 2 years and kept only if significant at 1%;
    held at its level one year after the last period, so it never compounds beyond a season); annual
    Fourier terms (W: K=4, M: K=3 or month dummies from 3 years, D: K=3 and day-of-week dummies); the
    ``FEATURE_COLUMNS`` of ``data.exog`` not constant in the history and with some case in the periods
    where they are active (else the fit separates). Dispersion by the method of moments; the
    predictive mixes NB(mu, alpha) over the normal uncertainty of ``log mu``.
    """
    check_input(data, horizon, "nb_glm")
    y = np.asarray(data.y, dtype=float)
    if y.sum() <= 0:
        raise ModelFailed("nb_glm: all-zero history")
    X, Xf, names = _nb_design(data, horizon)
    if len(y) < X.shape[1] + 8:
        raise ModelFailed(f"nb_glm: {len(y)} periods for {X.shape[1]} parameters")
    with np.errstate(all="ignore"):
        fit = _fit_nb(y, X)
        if "trend" in names and fit.pvalue(names.index("trend")) > TREND_P_VALUE:
            keep = [i for i, nm in enumerate(names) if nm != "trend"]
            X, Xf, names = X[:, keep], Xf[:, keep], [names[i] for i in keep]
            fit = fit_nb_glm(y, X, fit.alpha, start=fit.params[keep])
    eta = Xf @ fit.params
    se = np.sqrt(np.maximum(np.einsum("hi,ij,hj->h", Xf, fit.cov, Xf), 0.0))
    if not (np.isfinite(eta).all() and np.isfinite(se).all()):
        raise ModelFailed("nb_glm: non-finite forecast")
    if se.max() > MAX_LOG_SE:
        raise ModelFailed(f"nb_glm: forecast not identified (log-mean s.e. {se.max():.1f}; separation?)")
    check_plausible("nb_glm", np.exp(eta), y)
    expected = np.exp(eta + np.square(se) / 2)   # E[mu] under the normal uncertainty of log mu
    return from_quantiles("nb_glm", nb_quantiles(eta, se, fit.alpha), expected=expected)


# --- registry ---------------------------------------------------------------------------------
def prophet(data: SeriesData, horizon: int) -> ModelForecast:
    """Prophet (``prophet_model.prophet``), imported only when called."""
    from riskwatch.forecast.prophet_model import prophet as fit_prophet

    return fit_prophet(data, horizon)


MODELS: dict[str, Model] = {
    "seasonal_naive": seasonal_naive,
    "ets": ets,
    "nb_glm": nb_regression,
    "sparse_nb": sparse_nb,
    "prophet": prophet,
}
