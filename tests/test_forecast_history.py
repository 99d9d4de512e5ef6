"""Level shifts and outliers in count histories, on simulated weekly and monthly series (fixed seeds)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from riskwatch.forecast.history import clean_history


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) with marginal standard deviation ``sd``."""
    e = rng.normal(0.0, sd * np.sqrt(1 - phi**2), n)
    x = np.empty(n)
    x[0] = rng.normal(0.0, sd)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def weekly(rng: np.random.Generator, n: int = 260, level: float = 40.0, mult: np.ndarray | None = None,
           season: int = 52, sd: float = 0.22) -> np.ndarray:
    """Counts like a complaint category's: trend, yearly seasonality (busiest month ~2x the quietest),
    AR(1) noise (phi 0.5) on the log scale, Poisson counts; ``mult`` multiplies the rate (the break)."""
    t = np.arange(n)
    amp, peak, slope = rng.uniform(0.28, 0.45), rng.uniform(0, season), 0.04 + rng.normal(0, 0.06)
    lam = level * np.exp(slope * t / season + amp * np.cos(2 * np.pi * (t - peak) / season) + ar1(rng, n, 0.5, sd))
    if mult is not None:
        lam = lam * mult
    return rng.poisson(lam).astype(float)


def level_ratio(y: np.ndarray, a: slice, b: slice) -> float:
    return float(y[a].mean() / y[b].mean())


def test_lasting_shift_found_and_earlier_history_brought_to_the_new_level() -> None:
    rng = np.random.default_rng(7)
    mult = np.where(np.arange(260) >= 170, 1.7, 1.0)   # a new parking-fee policy, for good
    y = weekly(rng, level=100.0, sd=0.15, mult=mult)
    out = clean_history(y, 52)
    assert len(out.shifts) == 1 and abs(out.shifts[0] - 170) <= 6
    assert len(out.factors) == 1 and 1.35 < out.factors[0] < 2.3
    assert out.y[:out.shifts[0]].mean() == pytest.approx(y[:out.shifts[0]].mean() * out.factors[0], rel=1e-6)
    assert "level shift at" in out.note
    assert out.start == 0


def test_temporary_shift_is_neutralised() -> None:
    rng = np.random.default_rng(3)
    mult = np.ones(260)
    mult[80:160] = 0.5  # a pandemic halves the category for a year and a half, then it returns
    y = weekly(rng, level=100.0, sd=0.15, mult=mult)
    out = clean_history(y, 52)
    assert len(out.shifts) == 2
    assert abs(out.shifts[0] - 80) <= 6 and abs(out.shifts[1] - 160) <= 6
    assert 0.7 < out.factors[0] < 1.5      # before the pandemic: about today's level (up to the trend)
    assert 1.5 < out.factors[1] < 2.7      # during it: doubled back
    assert level_ratio(y, slice(80, 160), slice(160, 260)) < 0.65
    assert 0.8 < level_ratio(out.y, slice(80, 160), slice(160, 260)) < 1.25


def test_single_typhoon_week_is_an_outlier_not_a_shift() -> None:
    rng = np.random.default_rng(11)
    mult = np.ones(260)
    mult[200] = 8.0
    y = weekly(rng, level=100.0, sd=0.15, mult=mult)
    out = clean_history(y, 52)
    assert out.outliers[200]
    assert out.outliers.sum() <= 2
    assert out.shifts == () and out.factors == ()
    assert out.y[200] < y[200] / 3
    assert np.array_equal(out.y[~out.outliers], y[~out.outliers])
    assert "outlying period" in out.note


def test_batch_of_old_letters_in_a_sparse_series_is_capped() -> None:
    rng = np.random.default_rng(5)
    y = rng.poisson(0.4, 260).astype(float)
    y[120] = 150.0
    out = clean_history(y, 52)
    assert out.outliers[120] and out.outliers.sum() == 1
    assert out.y[120] < 2
    assert out.shifts == ()


def test_category_born_mid_history_sets_start() -> None:
    rng = np.random.default_rng(2)
    born = 150
    mult = np.clip((np.arange(260) - born) / 8.0, 0.0, 1.0)  # zeros, then an eight-week ramp
    y = weekly(rng, level=25.0, mult=mult)
    out = clean_history(y, 52)
    first = int(np.flatnonzero(y)[0])
    assert out.start == first and abs(first - born) <= 2
    assert np.array_equal(out.y[:out.start], y[:out.start])
    assert not out.outliers[:out.start].any()
    assert all(s >= out.start for s in out.shifts)
    assert "series starts at" in out.note


def test_a_few_early_zeros_of_a_small_series_do_not_set_start() -> None:
    y = np.r_[0.0, 0.0, 0.0, np.random.default_rng(1).poisson(1.5, 100).astype(float)]
    assert clean_history(y, 52).start == 0


@pytest.mark.parametrize("y", [np.zeros(260), np.zeros(3), np.array([]), np.array([4.0, 9.0, 2.0]),
                               np.array([5.0] * 20), np.r_[np.zeros(10), [3.0, 200.0, 4.0]]])
def test_all_zero_and_short_series_are_returned_unchanged(y: np.ndarray) -> None:
    out = clean_history(y, 52)
    assert np.array_equal(out.y, y)
    assert not out.outliers.any() and len(out.outliers) == len(y)
    assert out.shifts == () and out.factors == ()


def test_constant_series_is_left_alone() -> None:
    y = np.full(260, 12.0)
    out = clean_history(y, 52)
    assert np.array_equal(out.y, y) and out.note == ""


def test_noise_alone_rarely_produces_a_shift() -> None:
    rng = np.random.default_rng(20240601)
    found = 0
    for _ in range(60):
        level = float(np.exp(rng.uniform(np.log(3), np.log(300))))
        found += bool(clean_history(weekly(rng, level=level), 52).shifts)
    assert found <= 4   # measured: about 4% of noise-only series over many seeds


def test_monthly_lasting_shift() -> None:
    rng = np.random.default_rng(8)
    mult = np.where(np.arange(72) >= 48, 1.7, 1.0)
    y = weekly(rng, n=72, level=300.0, mult=mult, season=12, sd=0.1)
    out = clean_history(y, 12)
    assert len(out.shifts) == 1 and abs(out.shifts[0] - 48) <= 2


def test_daily_series_runs() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(730)
    weekday = np.where(t % 7 >= 5, 0.4, 1.15)
    y = rng.poisson(20 * weekday * np.exp(ar1(rng, 105, 0.5, 0.2)[t // 7])).astype(float)
    out = clean_history(y, 7)
    assert len(out.y) == 730 and np.isfinite(out.y).all() and (out.y >= 0).all()


def test_rejects_negative_or_missing_counts() -> None:
    with pytest.raises(ValueError, match="clean_history"):
        clean_history(np.array([1.0, -1.0, 2.0]), 52)
    with pytest.raises(ValueError, match="clean_history"):
        clean_history(np.array([1.0, np.nan, 2.0]), 52)


def test_fast_enough_for_a_thousand_series() -> None:
    rng = np.random.default_rng(9)
    series = [weekly(rng) for _ in range(20)]
    t0 = time.perf_counter()
    for y in series:
        clean_history(y, 52)
    assert (time.perf_counter() - t0) / len(series) < 0.02   # measured ~2 ms
