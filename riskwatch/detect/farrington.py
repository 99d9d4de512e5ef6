"""Farrington-flexible outbreak detection with Noufaily et al.'s improvements (pure numpy / scipy).

Noufaily A, Enki DG, Farrington P, Garthwaite P, Andrews N, Charlett A (2013), "An improved algorithm for
outbreak detection in multiple surveillance systems", Stat Med 32:1206-1222; as R
``surveillance::farringtonFlexible(noPeriods=10, pastWeeksNotIncluded=26, weightsThreshold=2.58,
thresholdMethod="nbPlugin")``.

For a period ``t`` the baseline is every period of the last ``b`` years from ``t - b years - w`` up to
``t - past_weeks_not_included - 1``: the windows ``t - k years + (-w..w)`` form the reference level of a
seasonal factor and the periods between two windows are cut into ``no_periods - 1`` blocks, each a level
of its own. A quasi-Poisson log-linear GLM with intercept, linear trend and that factor is fitted by
IRLS; past outbreaks are down-weighted through their Anscombe residuals and the model refitted; the trend
is kept only when significant and when it does not predict above every baseline count. The upper
threshold is the ``1 - alpha`` quantile of a negative binomial with the predicted mean ``mu0`` and
variance ``phi * mu0``.

Differences from ``surveillance`` (checked against surveillance 1.20.3; with ``periods_per_year=52,
trend_dispersion="surveillance"`` the alarms agree with ``farringtonFlexible`` on every one of 31,200
simulated weeks of ``benchmarks/detect_noufaily.py --check``; two thresholds differ by one count, where a
1e-5 difference in ``phi`` falls on a quantile boundary):

* Year length. By default a week is one year back when it lies ``round(k * 365.25 / 7)`` weeks back (the
  closest same weekday, as ``surveillance`` does for an ``sts`` with dates); ``surveillance`` without dates
  steps back exactly ``freq`` periods, which ``periods_per_year=52`` reproduces. With calendar-week data
  the default keeps the windows on the same dates; with 52-week years it shifts them by a week from the
  third year back on, which blurs a sharp seasonal pattern.
* Trend test. ``surveillance`` (``algo.farrington.fitGLM.flexible``) stores the Anscombe weights in
  ``model$weights``, the slot of the IRLS working weights ``mu``, before ``algo.farrington.glm`` calls
  ``summary.glm``; the Wald test of the trend therefore uses ``sum(omega * ((y - mu) / mu)^2) / df``
  instead of the Pearson ``sum(omega * (y - mu)^2 / mu) / df``, i.e. a dispersion wrong by about a factor
  ``1 / mu``. Below about one case a week the test almost never keeps a trend (in the benchmark's
  low-count series 10% of weeks with a true trend, against 59% here), above a few cases a week it keeps
  spurious ones (68% of weeks without a trend at about 20 cases a week, against 5% here). The threshold's
  ``phi`` is computed before the overwrite and is right. Here the test uses the Pearson dispersion
  (``trend_dispersion="pearson"``); ``"surveillance"`` reproduces the other for comparison. (With
  ``threshold="muan"`` the same value enters surveillance's standard error of the prediction.)
* Short history: fewer than ``years_back`` years are used when the history is shorter (at least
  ``min_years``; ``surveillance`` stops with an error).
* ``score`` is scaled by ``mu0`` (``surveillance`` uses the linear predictor with ``nbPlugin``; the alarm
  rule ``y > U`` is the same).
* A reweighted fit that does not converge makes the week insufficient (``surveillance`` uses it).

At fewer than one case a week the trend test is in any case fragile: cases of a past outbreak late in the
baseline that are too few per week to be down-weighted look like a rising trend (in the benchmark's
low-count series without a true trend, 36% of weeks with an outbreak in the baseline keep a trend, 9%
without), which raises the threshold. ``surveillance``'s dispersion error hides this by dropping nearly every
trend at such counts, at the price of more false alarms; this module keeps the documented rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

PERIODS_IN_YEAR: dict[int, float] = {52: 365.25 / 7, 12: 12.0}  # keyed by ``season`` (forecast.base.SEASON)
THRESHOLDS: tuple[str, ...] = ("nbinom", "muan", "poisson")
TREND_DISPERSIONS: tuple[str, ...] = ("pearson", "surveillance")
_ETA_BOUND = 30.0   # |log mean| cap in IRLS, so an all-zero factor level does not diverge
_MAX_ITER = 25      # as R's glm.control
_TOL = 1e-8


@dataclass(frozen=True)
class FarringtonOptions:
    """Tuning of :func:`farrington_flexible`; defaults are Noufaily et al.'s for weekly data.

    ``threshold``: "nbinom" (negative-binomial quantile at the predicted mean, surveillance's
    ``nbPlugin``), "muan" (the same at the ``1 - alpha`` quantile of the predicted mean, which adds the
    estimation error) or "poisson" (Poisson quantile, ignoring over-dispersion). For monthly series use
    ``half_window=1, past_weeks_not_included=6``.

    ``periods_per_year``: length of a year in periods, for the reference windows and the trend's unit;
    None (default) means the calendar year, ``365.25 / 7`` weeks or 12 months. Pass 52 for a series whose
    years are exactly 52 periods (a simulation, a 52-week reporting calendar), as ``surveillance`` does for
    an ``sts`` without dates.

    ``trend_dispersion``: dispersion in the Wald test of the trend (and in the standard error of the
    prediction for "muan"): "pearson" (default; Pearson chi2 / df of the final, reweighted fit) or
    "surveillance" (what surveillance 1.20.3 computes in effect, see the module docstring; only for
    reproducing it).
    """

    years_back: int = 5
    half_window: int = 3
    no_periods: int = 10
    alpha: float = 0.01
    trend_p: float = 0.05
    past_weeks_not_included: int = 26
    reweight: bool = True
    weights_threshold: float = 2.58
    threshold: str = "nbinom"
    min_cases: int = 5
    min_weeks: int = 4
    min_years: int = 3
    periods_per_year: float | None = None
    trend_dispersion: str = "pearson"

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.alpha < 1:
            problems.append(f"alpha={self.alpha} (must be in (0, 1))")
        if self.threshold not in THRESHOLDS:
            problems.append(f"threshold={self.threshold!r} (one of {', '.join(THRESHOLDS)})")
        if self.trend_dispersion not in TREND_DISPERSIONS:
            problems.append(f"trend_dispersion={self.trend_dispersion!r} (one of {', '.join(TREND_DISPERSIONS)})")
        if self.periods_per_year is not None and not self.periods_per_year > 2 * self.half_window + 1:
            problems.append(f"periods_per_year={self.periods_per_year} (must exceed 2 * half_window + 1)")
        if self.years_back < 1 or not 1 <= self.min_years <= self.years_back:
            problems.append(f"years_back={self.years_back}, min_years={self.min_years} "
                            "(need 1 <= min_years <= years_back)")
        if self.half_window < 0 or self.no_periods < 1 or self.past_weeks_not_included < 0:
            problems.append("half_window, past_weeks_not_included must be >= 0 and no_periods >= 1")
        if self.min_weeks < 1 or self.min_cases < 0:
            problems.append(f"min_weeks={self.min_weeks}, min_cases={self.min_cases}")
        if problems:
            raise ValueError("FarringtonOptions: " + "; ".join(problems))


@dataclass(frozen=True)
class FarringtonScore:
    """One value per scored position (NaN / False where the history is insufficient)."""

    index: np.ndarray       # positions t scored
    expected: np.ndarray    # predicted mean mu0
    upper: np.ndarray       # upper threshold U: alarm when y > U
    p_value: np.ndarray     # P(Y >= y_t) under the predictive distribution
    score: np.ndarray       # (y - mu0) / (U - mu0); > 1 means above the threshold
    alarm: np.ndarray       # bool: y > U and the min-cases rule holds
    sufficient: np.ndarray  # bool: enough history to fit
    trend: np.ndarray       # bool: the linear trend was kept
    phi: np.ndarray         # dispersion used (>= 1)


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    mu: np.ndarray
    xtwx_inv: np.ndarray    # (X' W X)^-1, W = prior weights * mu
    dispersion: float       # Pearson chi2 / residual df (not floored)
    working_dispersion: float  # sum(prior * ((y - mu) / mu)^2) / df: surveillance's value after reweighting
    df_resid: int
    converged: bool


def _irls(x: np.ndarray, y: np.ndarray, prior: np.ndarray) -> _Fit:
    """Poisson log-link GLM by iteratively reweighted least squares (R's ``glm.fit`` start and stop)."""
    eta = np.log(y + 0.1)
    dev_old, converged = np.inf, False
    for _ in range(_MAX_ITER):
        mu = np.exp(eta)
        sw = np.sqrt(prior * mu)
        z = eta + (y - mu) / mu
        beta = np.linalg.lstsq(x * sw[:, None], z * sw, rcond=None)[0]
        eta = np.clip(x @ beta, -_ETA_BOUND, _ETA_BOUND)
        mu = np.exp(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2.0 * np.sum(prior * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < _TOL:
            converged = True
            break
        dev_old = dev
    w = prior * mu
    xtwx_inv = np.linalg.pinv((x * w[:, None]).T @ x)
    df_resid = int(np.count_nonzero(prior > 0)) - x.shape[1]
    pearson = float(np.sum(prior * (y - mu) ** 2 / mu))
    working = float(np.sum(prior * np.square((y - mu) / mu)))
    dispersion = pearson / df_resid if df_resid > 0 else np.nan
    working_dispersion = working / df_resid if df_resid > 0 else np.nan
    return _Fit(beta, mu, xtwx_inv, dispersion, working_dispersion, df_resid, converged)


def _anscombe_weights(x: np.ndarray, y: np.ndarray, fit: _Fit, phi: float, threshold: float) -> np.ndarray:
    """Farrington (1996) weights: ``gamma * s^-2`` where the standardized Anscombe residual ``s`` exceeds
    ``threshold``, ``gamma`` elsewhere, with ``gamma`` making them sum to the number of observations."""
    mu = fit.mu
    wx = x * np.sqrt(mu)[:, None]
    hat = np.einsum("ij,jk,ik->i", wx, fit.xtwx_inv, wx)
    raw = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - np.sqrt(mu))
    one_minus_h = 1.0 - hat
    s = np.where(one_minus_h > 1e-10, raw / np.sqrt(phi * np.maximum(one_minus_h, 1e-10)), 0.0)
    high = s > threshold
    base = np.where(high, 1.0 / np.square(np.where(high, s, 1.0)), 1.0)
    return base * (len(s) / base.sum())


def _fit_quasipoisson(x: np.ndarray, y: np.ndarray, opts: FarringtonOptions) -> tuple[_Fit, float]:
    """Fit, estimate ``phi = max(1, Pearson / df)``, and refit once with Anscombe weights if asked."""
    fit = _irls(x, y, np.ones(len(y)))
    phi = max(fit.dispersion, 1.0) if np.isfinite(fit.dispersion) else 1.0
    if opts.reweight and fit.converged:
        fit = _irls(x, y, _anscombe_weights(x, y, fit, phi, opts.weights_threshold))
        phi = max(fit.dispersion, 1.0) if np.isfinite(fit.dispersion) else 1.0
    return fit, phi


def _per_year(season: int, opts: FarringtonOptions) -> float:
    return PERIODS_IN_YEAR[season] if opts.periods_per_year is None else float(opts.periods_per_year)


def _window_centres(t: int, per_year: float, years: int) -> np.ndarray:
    """Positions one, two, ... ``years`` years before ``t`` (element 0 is ``t`` itself)."""
    return np.array([t - int(round(k * per_year)) for k in range(years + 1)])


def _baseline(y: np.ndarray, t: int, season: int, opts: FarringtonOptions
              ) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Rows of the baseline before ``t``: (positions, seasonal level, years used), or None when fewer than
    ``min_years`` years have an observed value in their reference window.

    Level 0 is the windows around the same period of past years (and the current one); the periods
    between two windows are split into at most ``no_periods - 1`` consecutive blocks, levels 1, 2, ...
    """
    w = opts.half_window
    centres = _window_centres(t, _per_year(season, opts), opts.years_back)
    years = 0
    for k in range(1, opts.years_back + 1):
        lo = centres[k] - w
        if lo < 0 or not np.isfinite(y[lo:centres[k] + w + 1]).any():
            break
        years = k
    if years < opts.min_years:
        return None
    start = centres[years] - w
    level = np.full(t + 1 - start, -1)
    level[max(t - w, start) - start:] = 0
    for k in range(1, years + 1):
        ref = centres[k]
        level[ref - w - start:ref + w + 1 - start] = 0
        gap_lo, gap_hi = ref + w + 1, centres[k - 1] - w  # periods strictly between two windows
        n_gap = gap_hi - gap_lo
        if opts.no_periods > 1 and n_gap > 0:
            blocks = min(opts.no_periods - 1, n_gap)
            lengths = np.full(blocks, n_gap // blocks)
            lengths[: n_gap % blocks] += 1
            level[gap_lo - start:gap_hi - start] = np.repeat(np.arange(1, blocks + 1), lengths)
    pos = np.arange(start, t + 1)
    keep = (level >= 0) & (pos < t - opts.past_weeks_not_included) & np.isfinite(y[start:t + 1])
    return pos[keep], level[keep], years


def _design(pos: np.ndarray, level: np.ndarray, t: int, per_year: float, trend: bool) -> np.ndarray:
    """Intercept (level 0), optional trend in years from ``t`` (0 at ``t``), dummies of other levels."""
    cols = [np.ones(len(pos))]
    if trend:
        cols.append((pos - t) / per_year)
    cols.extend((level == lv).astype(float) for lv in np.unique(level) if lv != 0)
    return np.column_stack(cols)


def _predict(y: np.ndarray, t: int, season: int, opts: FarringtonOptions
             ) -> tuple[float, float, float, bool] | None:
    """(mu0, se of log mu0, phi, trend kept) at ``t`` from the baseline before it, or None."""
    got = _baseline(y, t, season, opts)
    if got is None:
        return None
    pos, level, years = got
    resp = y[pos]
    # surveillance overwrites the working weights only when it reweights
    surveillance = opts.trend_dispersion == "surveillance" and opts.reweight
    if resp.sum() == 0:
        return 0.0, 0.0, 1.0, False
    for trend in (True, False):
        x = _design(pos, level, t, _per_year(season, opts), trend)
        if len(resp) <= x.shape[1]:
            return None
        fit, phi = _fit_quasipoisson(x, resp, opts)
        if not fit.converged:
            continue
        # the prediction row is [1, 0, 0...]: level 0 at time offset 0
        test_disp = fit.working_dispersion if surveillance else fit.dispersion
        eta0, var0 = float(fit.beta[0]), float(fit.xtwx_inv[0, 0]) * (test_disp if surveillance else phi)
        if trend:
            se = np.sqrt(fit.xtwx_inv[1, 1] * test_disp)
            p = 2.0 * stats.t.sf(abs(fit.beta[1]) / se, fit.df_resid) if se > 0 else 1.0
            if not (years >= 3 and p < opts.trend_p and np.exp(eta0) <= resp.max()):
                continue
        return float(np.exp(eta0)), float(np.sqrt(max(var0, 0.0))), phi, trend
    return None


def _upper_and_p(mu0: float, phi: float, yt: float, opts: FarringtonOptions) -> tuple[float, float]:
    """The ``1 - alpha`` quantile of the predictive and ``P(Y >= yt)`` (NaN when ``yt`` is missing)."""
    k = np.ceil(yt) - 1.0 if np.isfinite(yt) else np.nan
    if opts.threshold == "poisson" or phi <= 1.0:
        return float(stats.poisson.ppf(1.0 - opts.alpha, mu0)), float(stats.poisson.sf(k, mu0))
    size, prob = mu0 / (phi - 1.0), 1.0 / phi
    return float(stats.nbinom.ppf(1.0 - opts.alpha, size, prob)), float(stats.nbinom.sf(k, size, prob))


def farrington_flexible(y: np.ndarray, season: int, positions: Sequence[int] | np.ndarray,
                        options: FarringtonOptions = FarringtonOptions()) -> FarringtonScore:
    """Score ``positions`` of the count series ``y`` prospectively with Farrington-flexible (Noufaily).

    Parameters
    ----------
    y : array of float
        A regular count series (non-negative; NaN for missing periods, which are left out of the fits).
    season : int
        Periods per year as in ``forecast.base.SEASON``: 52 (weekly) or 12 (monthly). Daily series are
        not supported (raises ``ValueError``).
    positions : sequence of int
        Positions ``t`` to score; each is judged on ``y[:t]`` only, ``y[t]`` being compared with the
        threshold.
    options : FarringtonOptions
        Tuning; for monthly series pass ``half_window=1, past_weeks_not_included=6``.

    Returns
    -------
    FarringtonScore
        Per position: ``expected`` (mu0), ``upper``, ``p_value`` (P(Y >= y_t)), ``score``
        ((y - mu0) / (U - mu0)), ``alarm`` (y > U and at least ``min_cases`` in the last ``min_weeks``
        periods), ``sufficient`` (False when fewer than ``min_years`` years of baseline exist or the fit
        failed: the values are then NaN and ``alarm`` False), ``trend`` and ``phi``.
    """
    if season not in PERIODS_IN_YEAR:
        raise ValueError(f"farrington_flexible: season {season} not supported (52 weekly or 12 monthly)")
    y = np.asarray(y, dtype=float)
    pos = np.asarray(list(positions), dtype=int)
    if len(pos) and (pos.min() < 0 or pos.max() >= len(y)):
        raise ValueError(f"farrington_flexible: positions must lie in [0, {len(y)})")
    if np.any(y[np.isfinite(y)] < 0):
        raise ValueError("farrington_flexible: negative counts in y")
    n = len(pos)
    out = {k: np.full(n, np.nan) for k in ("expected", "upper", "p_value", "score", "phi")}
    alarm, sufficient, trend = (np.zeros(n, dtype=bool) for _ in range(3))
    z = stats.norm.ppf(1.0 - options.alpha)
    for i, t in enumerate(pos):
        got = _predict(y, int(t), season, options)
        if got is None:
            continue
        mu0, se_eta, phi, trend[i] = got
        sufficient[i] = True
        mu_q = mu0 * np.exp(z * se_eta) if options.threshold == "muan" else mu0
        yt = y[t]
        upper, out["p_value"][i] = _upper_and_p(mu_q, phi, yt, options)
        out["expected"][i], out["upper"][i], out["phi"][i] = mu0, upper, phi
        if not np.isfinite(yt):
            continue
        out["score"][i] = (yt - mu0) / (upper - mu0) if upper > mu0 else np.nan
        recent = np.nansum(y[max(0, t - options.min_weeks + 1):t + 1])
        alarm[i] = bool(yt > upper and recent >= options.min_cases)
    return FarringtonScore(pos, out["expected"], out["upper"], out["p_value"], out["score"], alarm,
                           sufficient, trend, out["phi"])
