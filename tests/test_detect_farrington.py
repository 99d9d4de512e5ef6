"""Farrington-flexible (Noufaily) detector: prospective scoring, sufficiency, error rates, reweighting,
trend and the min-cases rule, on simulated series with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from riskwatch.detect.farrington import FarringtonOptions, farrington_flexible

WEEKS = 52


def seasonal_mean(n: int, level: float = 20.0, amplitude: float = 0.3, slope: float = 0.0) -> np.ndarray:
    """Weekly mean with a yearly cycle and an optional log-linear trend per year."""
    t = np.arange(n)
    return level * np.exp(amplitude * np.sin(2 * np.pi * t / 52.18) + slope * t / 52.18)


def negbin(rng: np.random.Generator, mu: np.ndarray, size: float = 10.0) -> np.ndarray:
    return rng.negative_binomial(size, size / (size + mu)).astype(float)


def test_no_look_ahead() -> None:
    rng = np.random.default_rng(1)
    y = negbin(rng, seasonal_mean(6 * WEEKS))
    t = 5 * WEEKS + 10
    before = farrington_flexible(y, WEEKS, [t])
    changed = y.copy()
    changed[t + 1:] = rng.integers(0, 1000, len(y) - t - 1)
    after = farrington_flexible(changed, WEEKS, [t])
    for field in ("expected", "upper", "p_value", "score", "alarm", "sufficient", "trend", "phi"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field), err_msg=field)
    assert before.sufficient[0]


def test_short_history_is_insufficient_and_never_alarms() -> None:
    y = np.full(2 * WEEKS + 20, 3.0)
    y[-1] = 500.0
    got = farrington_flexible(y, WEEKS, range(len(y) - 10, len(y)))
    assert not got.sufficient.any()
    assert not got.alarm.any()
    assert np.isnan(got.expected).all() and np.isnan(got.upper).all()


def test_three_years_are_enough_by_default() -> None:
    rng = np.random.default_rng(2)
    y = negbin(rng, seasonal_mean(3 * WEEKS + 10))
    got = farrington_flexible(y, WEEKS, [len(y) - 1])
    assert got.sufficient[0] and np.isfinite(got.upper[0])


def test_false_alarms_near_alpha_and_outbreaks_detected() -> None:
    rng = np.random.default_rng(7)
    n, size = 6 * WEEKS, 10.0
    mu = seasonal_mean(n)
    sd = np.sqrt(mu + mu**2 / size)
    outbreak_weeks = np.arange(n - 50, n, 6)
    false_alarms, detected = [], []
    for _ in range(15):
        y = negbin(rng, mu, size)
        clean = farrington_flexible(y, WEEKS, range(n - WEEKS, n))
        assert clean.sufficient.all()
        false_alarms.append(clean.alarm.mean())
        spiked = y.copy()
        spiked[outbreak_weeks] += np.round(5 * sd[outbreak_weeks])
        detected.append(farrington_flexible(spiked, WEEKS, outbreak_weeks).alarm.mean())
    assert np.mean(false_alarms) <= 0.03
    assert np.mean(detected) >= 0.85


def test_reweighting_limits_a_past_outbreak() -> None:
    rng = np.random.default_rng(3)
    n = 6 * WEEKS
    y = negbin(rng, seasonal_mean(n))
    t = n - 1
    clean = farrington_flexible(y, WEEKS, [t]).upper[0]
    hit = y.copy()
    hit[t - WEEKS] += 300.0  # in last year's reference window
    with_rw = farrington_flexible(hit, WEEKS, [t]).upper[0]
    without_rw = farrington_flexible(hit, WEEKS, [t], FarringtonOptions(reweight=False)).upper[0]
    assert without_rw > clean + 10
    assert with_rw < clean + 0.3 * (without_rw - clean)


def test_trend_kept_when_strong_dropped_when_flat() -> None:
    rng = np.random.default_rng(4)
    n = 6 * WEEKS
    rising = rng.poisson(seasonal_mean(n, level=10.0, slope=0.3)).astype(float)
    positions = range(n - 8, n)
    up = farrington_flexible(rising, WEEKS, positions)
    assert up.trend.all()
    # with the trend the expected value follows the rise instead of averaging five years
    no_trend = farrington_flexible(rising, WEEKS, positions, FarringtonOptions(trend_p=0.0))
    assert not no_trend.trend.any()
    assert (up.expected > no_trend.expected).all()
    # a flat series keeps a (spurious) trend only at about the test's level
    flat_kept = [farrington_flexible(rng.poisson(seasonal_mean(n, level=10.0)).astype(float), WEEKS,
                                     [n - 1]).trend[0] for _ in range(20)]
    assert np.mean(flat_kept) <= 0.2


def test_min_cases_rule_suppresses_tiny_alarm() -> None:
    rng = np.random.default_rng(5)
    y = rng.poisson(0.15, 6 * WEEKS).astype(float)
    y[-4:] = [0, 0, 0, 3]
    t = len(y) - 1
    got = farrington_flexible(y, WEEKS, [t])
    assert got.sufficient[0] and got.upper[0] <= 2
    assert got.score[0] > 1 and got.p_value[0] < 0.01
    assert not got.alarm[0]
    assert farrington_flexible(y, WEEKS, [t], FarringtonOptions(min_cases=3)).alarm[0]


def test_missing_values_are_skipped() -> None:
    rng = np.random.default_rng(6)
    y = negbin(rng, seasonal_mean(6 * WEEKS))
    y[rng.choice(5 * WEEKS, 40, replace=False)] = np.nan
    y[-2] = np.nan
    got = farrington_flexible(y, WEEKS, [len(y) - 2, len(y) - 1])
    assert got.sufficient.all() and np.isfinite(got.upper).all()
    assert np.isnan(got.p_value[0]) and not got.alarm[0]
    assert np.isfinite(got.p_value[1])


def test_all_zero_history() -> None:
    y = np.zeros(6 * WEEKS)
    y[-4:] = [2, 2, 1, 4]
    got = farrington_flexible(y, WEEKS, [len(y) - 1])
    assert got.expected[0] == 0 and got.upper[0] == 0 and got.alarm[0] and got.p_value[0] == 0


def test_monthly_series() -> None:
    rng = np.random.default_rng(8)
    t = np.arange(72)
    mu = 50 * np.exp(0.3 * np.sin(2 * np.pi * t / 12))
    y = rng.poisson(mu).astype(float)
    y[-1] = mu[-1] + 8 * np.sqrt(mu[-1])
    opts = FarringtonOptions(half_window=1, past_weeks_not_included=6)
    got = farrington_flexible(y, 12, range(60, 72), opts)
    assert got.sufficient.all()
    assert got.alarm[-1] and got.alarm[:-1].sum() <= 1
    assert np.all(np.abs(got.expected - mu[60:]) < 0.25 * mu[60:])


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="season"):
        farrington_flexible(np.zeros(1000), 7, [999])
    with pytest.raises(ValueError, match="positions"):
        farrington_flexible(np.zeros(10), WEEKS, [10])
    with pytest.raises(ValueError, match="threshold"):
        FarringtonOptions(threshold="normal")


@pytest.mark.parametrize("threshold", ["nbinom", "muan", "poisson"])
def test_threshold_methods_order(threshold: str) -> None:
    rng = np.random.default_rng(9)
    y = negbin(rng, seasonal_mean(6 * WEEKS))
    got = farrington_flexible(y, WEEKS, [len(y) - 1], FarringtonOptions(threshold=threshold))
    nb = farrington_flexible(y, WEEKS, [len(y) - 1]).upper[0]
    assert got.sufficient[0]
    if threshold == "muan":
        assert got.upper[0] >= nb
    if threshold == "poisson":
        assert got.upper[0] < nb  # phi > 1 for negative-binomial data
