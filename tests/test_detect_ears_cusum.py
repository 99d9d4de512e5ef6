"""EARS C1/C2/C3 and the CUSUM: prospective, insufficient data stated, and the statistics they promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.detect.cusum import cusum
from riskwatch.detect.ears import ears


@pytest.mark.parametrize("method", ["C1", "C2", "C3"])
def test_ears_is_prospective_and_states_insufficient_history(method: str) -> None:
    rng = np.random.default_rng(1)
    y = rng.poisson(10, 60).astype(float)
    positions = range(60)
    first = ears(y, positions, method)
    changed = y.copy()
    changed[40:] = 500
    second = ears(changed, positions, method)
    for field in ("expected", "upper", "score"):
        np.testing.assert_array_equal(getattr(first, field)[:40], getattr(second, field)[:40])
    need = {"C1": 7, "C2": 9, "C3": 11}[method]
    assert not first.sufficient[:need].any() and first.sufficient[need:].all()
    assert not first.alarm[:need].any()


def test_ears_flags_a_spike_and_not_noise() -> None:
    rng = np.random.default_rng(2)
    y = rng.poisson(20, 300).astype(float)
    quiet = ears(y, range(20, 300), "C2")
    assert quiet.alarm.mean() < 0.02
    y[150] = 60
    assert ears(y, [150], "C2").alarm[0] and ears(y, [150], "C1").alarm[0]


def test_ears_does_not_alarm_on_one_case_after_a_run_of_zeros() -> None:
    y = np.array([0.0] * 12 + [1.0])
    got = ears(y, [12], "C1")
    assert got.sufficient[0] and not got.alarm[0]   # sd floored: 1 case is not an aberration
    assert ears(np.array([0.0] * 12 + [6.0]), [12], "C1").alarm[0]


def test_ears_treats_missing_periods_as_missing() -> None:
    y = np.full(20, 5.0)
    y[10] = np.nan
    got = ears(y, range(20), "C1")
    assert not got.sufficient[10:18].any() and got.sufficient[18]


def test_cusum_finds_a_slow_rise_that_no_single_period_reveals() -> None:
    """+1.2 sd for 40 periods: EARS rarely sees it, the CUSUM does within a few periods; without the rise
    the CUSUM alarms about once in 100+ periods."""
    found, delays, false_alarms, ears_hits = 0, [], 0, 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        base = rng.normal(100, 10, 120)
        rise = base.copy()
        rise[80:] += 12
        false_alarms += int(cusum(base, range(40, 120)).alarm.sum())
        hits = np.flatnonzero(cusum(rise, range(80, 120)).alarm)
        if len(hits):
            found += 1
            delays.append(int(hits[0]))
        ears_hits += int(ears(rise, range(80, 120), "C2").alarm.any())
    assert found >= 28 and np.median(delays) <= 10
    assert false_alarms / (30 * 80) < 0.015
    assert ears_hits < found


def test_cusum_restarts_after_an_alarm_and_is_prospective() -> None:
    y = np.concatenate([np.full(40, 10.0), np.full(20, 30.0)])
    got = cusum(y, range(60), window=10, gap=2)
    assert got.alarm[40]                       # +20 on sd ~3.2: alarms at once
    assert got.score[41] < got.score[40] + 10  # restarted from 0
    later = y.copy()
    later[50:] = 0
    np.testing.assert_array_equal(cusum(later, range(50), window=10, gap=2).score, got.score[:50])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=30, max_size=80))
def test_upper_is_the_count_that_alarms(counts: list[int]) -> None:
    """Every detector's ``upper`` is consistent with its alarm: above it alarms, at or below it does not."""
    y = np.asarray(counts, dtype=float)
    t = len(y) - 1
    for method in ("C1", "C2"):
        got = ears(y, [t], method)
        if got.sufficient[0]:
            assert got.alarm[0] == (y[t] > got.upper[0] + 1e-9)
    got = cusum(y, [t], window=10, gap=2)
    if got.sufficient[0]:
        assert got.alarm[0] == (y[t] > got.upper[0] + 1e-9)
