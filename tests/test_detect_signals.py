"""Signals (pure): false-discovery control, one signal per event across the trees, hysteresis, level shifts,
silences, and the replay of weekly runs without look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from riskwatch import schema as S
from riskwatch.detect import combine as C
from riskwatch.detect.lifecycle import (
    CLOSED,
    ONGOING,
    OPEN,
    STATUS,
    SignalPolicy,
    advance,
    confirm_reversal,
    confirm_shift,
    empty_states,
    silence_reasons,
)
from riskwatch.detect.multiple import benjamini_hochberg
from riskwatch.detect.replay import replay
from riskwatch.detect.signals import WEEK_SCORE_COLUMNS, volume_findings

WEEK = pd.Timestamp("2026-10-19")
# a tiny tree: city 3399 > district 339901 > townships 339901001, 339901002; categories * > 01 > 0101
CATALOG = pd.DataFrame([
    ("W:*:3399", "*", "3399", "all", "city", "全部类别 · 临海市", "", ""),
    ("W:01:3399", "01", "3399", "top", "city", "劳动社保 · 临海市", "*", ""),
    ("W:0101:3399", "0101", "3399", "leaf", "city", "劳动社保›欠薪 · 临海市", "01", ""),
    ("W:*:339901", "*", "339901", "all", "district", "全部类别 · 东湖区", "", "3399"),
    ("W:01:339901", "01", "339901", "top", "district", "劳动社保 · 东湖区", "*", "3399"),
    ("W:0101:339901", "0101", "339901", "leaf", "district", "劳动社保›欠薪 · 东湖区", "01", "3399"),
    ("W:*:339901001", "*", "339901001", "all", "township", "全部类别 · 甲街道", "", "339901"),
    ("W:01:339901001", "01", "339901001", "top", "township", "劳动社保 · 甲街道", "*", "339901"),
    ("W:*:339901002", "*", "339901002", "all", "township", "全部类别 · 乙街道", "", "339901"),
    ("W:01:339901002", "01", "339901002", "top", "township", "劳动社保 · 乙街道", "*", "339901"),
], columns=[S.SERIES_ID, "category", "region", "category_level", "region_level", "label", "parent_category",
            "parent_region"])


def week_scores(values: dict[str, tuple[float, float, float, bool]]) -> pd.DataFrame:
    """series -> (observed, expected, p-value, spike alarm); every other series quiet at its expectation."""
    rows = []
    for sid in CATALOG[S.SERIES_ID]:
        obs, exp, p, spike = values.get(sid, (10.0, 10.0, 0.5, False))
        rows.append({S.SERIES_ID: sid, S.DS: WEEK, S.OBSERVED: obs, S.EXPECTED: exp, S.UPPER: exp * 1.8,
                     S.P_VALUE: p, C.SCORE: 0.0, C.SPIKE: spike, C.RISE: False, C.RISE_P: np.nan,
                     C.RISE_RUN: 0, C.RISE_OBSERVED: np.nan, C.RISE_EXPECTED: np.nan, C.ALARM: spike,
                     C.DETECTOR: "farrington", C.STATE: C.SCORED})
    return pd.DataFrame(rows, columns=list(WEEK_SCORE_COLUMNS))


# --- false discovery rate -------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60), st.sampled_from([0.01, 0.05, 0.2]))
def test_benjamini_hochberg_agrees_with_statsmodels(p: list[float], q: float) -> None:
    reference = multipletests(np.array(p), alpha=q, method="fdr_bh")[0]
    assert (benjamini_hochberg(np.array(p), q) == reference).all()


def test_nan_p_values_are_counted_but_never_kept() -> None:
    keep = benjamini_hochberg(np.array([0.001, np.nan, 0.5]), 0.05)
    assert keep.tolist() == [True, False, False]
    assert not benjamini_hochberg(np.array([0.02, np.nan]), 0.03).any()   # 0.02 > 0.03 * 1 / 2


def test_an_alarm_with_a_p_value_chance_explains_is_not_a_finding() -> None:
    # one series alarms at p = 0.004: among 10 series BH needs p <= 0.005 for the first rank -> kept;
    # at p = 0.008 it is not (alpha 0.01 per series, but not after 10 tests)
    kept = volume_findings(week_scores({"W:01:339901002": (9, 3, 0.004, True)}), CATALOG, set(), SignalPolicy())[0]
    dropped = volume_findings(week_scores({"W:01:339901002": (9, 3, 0.008, True)}), CATALOG, set(),
                              SignalPolicy())[0]
    assert kept[S.SUBJECT].tolist() == ["W:01:339901002"] and dropped.empty


# --- one signal per event across the trees --------------------------------------------------------
def test_a_township_spike_is_one_signal_not_three() -> None:
    scores = week_scores({
        "W:01:339901001": (30, 8, 1e-9, True),      # the township carries the event
        "W:01:339901": (52, 28, 1e-6, True),        # ... its district
        "W:01:3399": (130, 104, 1e-4, True),        # ... and the city see it too
        "W:*:339901001": (60, 38, 1e-5, True),      # ... and the township's total
    })
    findings, _ = volume_findings(scores, CATALOG, set(), SignalPolicy())
    assert findings[S.SUBJECT].tolist() == ["W:01:339901001"]
    assert findings[S.KIND].tolist() == ["spike"]
    assert set(findings[S.EVIDENCE].iloc[0]["also_lifts"]) == {"W:01:339901", "W:01:3399", "W:*:339901001"}


def test_a_broad_rise_is_one_signal_at_the_level_that_holds_it() -> None:
    # both townships rise in proportion: the district speaks for them
    scores = week_scores({
        "W:01:339901001": (26, 13, 1e-5, True),
        "W:01:339901002": (24, 12, 1e-5, True),
        "W:01:339901": (50, 25, 1e-9, True),
    })
    findings, _ = volume_findings(scores, CATALOG, set(), SignalPolicy())
    assert findings[S.SUBJECT].tolist() == ["W:01:339901"]
    assert findings[S.EVIDENCE].iloc[0]["parts"] == ["W:01:339901001", "W:01:339901002"]


def test_an_open_signal_of_a_township_explains_its_district_next_week() -> None:
    scores = week_scores({"W:01:339901001": (25, 8, 0.02, True), "W:01:339901": (45, 28, 1e-5, True)})
    findings, support = volume_findings(scores, CATALOG, {"W:01:339901001"}, SignalPolicy())
    assert findings.empty
    assert support[S.SUBJECT].tolist() == ["W:01:339901001"]


# --- lifecycle and hysteresis ---------------------------------------------------------------------
def finding(sid: str, week: pd.Timestamp, kind: str = "spike", observed: float = 20.0) -> pd.DataFrame:
    return pd.DataFrame([{S.SIGNAL_KEY: f"{kind}:{sid}", S.KIND: kind, S.SUBJECT: sid, S.CATEGORY_CODE: "01",
                          S.REGION_CODE: "339901", S.PERIOD: week, S.OBSERVED: observed, S.EXPECTED: 8.0,
                          S.UPPER: 15.0, S.P_VALUE: 1e-6, S.LABEL: "", S.SENTENCE: f"{week:%m-%d} {observed}",
                          S.EVIDENCE: {}}], columns=list(S.SIGNAL_COLUMNS))


NONE = pd.DataFrame(columns=list(S.SIGNAL_COLUMNS))


def test_a_signal_opens_stays_through_one_quiet_week_and_closes_after_two() -> None:
    policy = SignalPolicy(close_after=2)
    weeks = pd.date_range(WEEK, periods=5, freq="W-MON")
    s1 = advance(empty_states(), finding("W:01:339901", weeks[0]), NONE, weeks[0], policy)
    assert s1[STATUS].tolist() == [OPEN]
    s2 = advance(s1, NONE, NONE, weeks[1], policy)            # quiet 1: still open
    assert s2[STATUS].tolist() == [ONGOING] and s2["quiet"].tolist() == [1]
    s3 = advance(s2, finding("W:01:339901", weeks[2], observed=25), NONE, weeks[2], policy)   # alarms again
    assert s3[STATUS].tolist() == [ONGOING], "no flapping: the same signal continues, none reopens"
    assert s3[S.OBSERVED].tolist() == [25] and s3["opened"].tolist() == [weeks[0]]
    s4 = advance(s3, NONE, NONE, weeks[3], policy)
    s5 = advance(s4, NONE, NONE, weeks[4], policy)
    assert s4[STATUS].tolist() == [ONGOING] and s5[STATUS].tolist() == [CLOSED]
    assert advance(s5, NONE, NONE, weeks[4] + pd.Timedelta(weeks=1), policy).empty   # closed: not carried


def test_support_keeps_a_signal_open_and_a_rise_continues_a_spike() -> None:
    policy = SignalPolicy(close_after=1)
    weeks = pd.date_range(WEEK, periods=3, freq="W-MON")
    s1 = advance(empty_states(), finding("W:01:339901", weeks[0]), NONE, weeks[0], policy)
    s2 = advance(s1, NONE, finding("W:01:339901", weeks[1], observed=14), weeks[1], policy)
    assert s2[STATUS].tolist() == [ONGOING] and s2[S.OBSERVED].tolist() == [14]
    s3 = advance(s2, finding("W:01:339901", weeks[2], kind="rise"), NONE, weeks[2], policy)
    assert s3[S.SIGNAL_KEY].tolist() == ["spike:W:01:339901"] and s3[STATUS].tolist() == [ONGOING]


def test_a_case_signal_closes_as_soon_as_its_fact_no_longer_holds() -> None:
    case = finding("hotline_12345:H1", WEEK, kind="overdue")
    s1 = advance(empty_states(), case, NONE, WEEK, SignalPolicy())
    s2 = advance(s1, NONE, NONE, WEEK + pd.Timedelta(weeks=1), SignalPolicy())
    assert s2[STATUS].tolist() == [CLOSED]


# --- level shifts ---------------------------------------------------------------------------------
def recent(observed: list[float], expected: float, alarms: list[bool]) -> pd.DataFrame:
    ds = pd.date_range("2026-01-05", periods=len(observed), freq="W-MON")
    return pd.DataFrame({S.SERIES_ID: "x", S.DS: ds, S.OBSERVED: observed, S.EXPECTED: expected,
                         C.ALARM: alarms})


def test_a_lasting_rise_is_confirmed_as_a_shift_a_six_week_outbreak_is_not() -> None:
    policy = SignalPolicy()
    shift = recent([10, 9] + [18] * 10, 10.0, [False] * 2 + [True, False, True, False, False, True] + [False] * 3
                   + [True])
    got = confirm_shift(shift, policy)
    assert got is not None and got[0] == pd.Timestamp("2026-01-19") and got[1] == pytest.approx(1.8)
    outbreak = recent([10] * 6 + [25] * 6, 10.0, [False] * 6 + [True] * 6)
    assert confirm_shift(outbreak, policy) is None


def test_a_level_shift_gives_one_signal_and_stops_alarming() -> None:
    rng = np.random.default_rng(3)
    n = 52 * 6
    mean = np.where(np.arange(n) < n - 40, 20.0, 34.0)   # +70% for the last 40 weeks
    y = rng.poisson(mean).astype(float)
    wide = pd.DataFrame({"W:01:339901": y}, index=pd.date_range("2020-11-02", periods=n, freq="W-MON"))
    catalog = CATALOG.loc[CATALOG[S.SERIES_ID] == "W:01:339901"]
    states, scores = replay(wide, catalog, "W", range(n - 60, n), SignalPolicy())
    every = pd.concat(states, ignore_index=True)
    shifts = every.loc[(every[S.KIND] == "level_shift") & (every[STATUS] == OPEN)]
    assert len(shifts) == 1 and "水平上升" in shifts[S.SENTENCE].iloc[0]
    confirmed = shifts[S.DS].iloc[0]
    assert confirmed <= wide.index[n - 40] + pd.Timedelta(weeks=16)
    later = scores[S.DS] > confirmed
    unadapted = C.score_periods(y, "W", np.flatnonzero(wide.index > confirmed))
    assert unadapted[C.ALARM].mean() > 0.5, "without adaptation the new level keeps alarming"
    assert scores.loc[later, C.ALARM].mean() < 0.2, "the baseline adapted: the new level rarely alarms"
    volume_open = every.loc[(every[S.DS] > confirmed) & every[S.KIND].isin(["spike", "rise"])
                            & (every[STATUS] != CLOSED), S.DS].nunique()
    assert volume_open <= 0.25 * later.sum(), "no signal kept open for months"


def test_a_level_that_comes_back_is_adapted_to_again_without_a_signal() -> None:
    rng = np.random.default_rng(5)
    n = 52 * 6
    week = np.arange(n)
    mean = np.where((week >= n - 70) & (week < n - 30), 32.0, 20.0)   # up for 40 weeks, then back
    y = rng.poisson(mean).astype(float)
    wide = pd.DataFrame({"W:01:339901": y}, index=pd.date_range("2020-11-02", periods=n, freq="W-MON"))
    catalog = CATALOG.loc[CATALOG[S.SERIES_ID] == "W:01:339901"]
    states, scores = replay(wide, catalog, "W", range(n - 80, n), SignalPolicy())
    every = pd.concat(states, ignore_index=True)
    assert len(every.loc[(every[S.KIND] == "level_shift") & (every[STATUS] == OPEN)]) == 1   # the rise only
    last = scores.tail(8)
    assert last[S.EXPECTED].mean() == pytest.approx(20, rel=0.2), "the baseline came back to the old level"


def test_confirm_reversal_needs_most_periods_below_and_a_real_drop() -> None:
    policy = SignalPolicy()
    back = recent([30, 31] + [20] * 10, 30.0, [False] * 12)
    got = confirm_reversal(back, policy)
    assert got is not None and got[0] == pd.Timestamp("2026-01-19") and got[1] == pytest.approx(2 / 3)
    assert confirm_reversal(recent([30] * 6 + [27] * 6, 30.0, [False] * 12), policy) is None   # -10%: noise


# --- no look-ahead --------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_a_period_is_scored_on_the_data_before_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.poisson(6, 52 * 4).astype(float)
    t = len(y) - 10
    later = y.copy()
    later[t + 1:] = rng.poisson(60, len(y) - t - 1)   # a huge change after t
    a = C.score_periods(y, "W", [t])
    b = C.score_periods(later, "W", [t])
    pd.testing.assert_frame_equal(a, b)


def test_a_new_category_is_insufficient_then_watched_with_short_history_methods() -> None:
    born = np.r_[np.full(150, np.nan), np.random.default_rng(1).poisson(4, 30).astype(float)]   # born at 150
    scored = C.score_periods(born, "W", range(150, 180))
    assert (scored[C.STATE].iloc[:9] == C.INSUFFICIENT).all() and not scored[C.ALARM].iloc[:9].any()
    assert (scored[C.DETECTOR].iloc[12:].str.startswith("ears_c2")).all()


# --- silences -------------------------------------------------------------------------------------
def test_a_silence_mutes_until_it_expires() -> None:
    keys = pd.Series(["spike:W:01:339901", "overdue:hotline_12345:H1", "spike:W:0101:3399"])
    silences = pd.DataFrame({"pattern": ["spike:W:01:*"], "reason": ["已核实：欠薪专项行动"],
                             "starts_at": [pd.Timestamp("2026-10-01")], "expires_at": [pd.Timestamp("2026-11-01")]})
    during = silence_reasons(keys, silences, pd.Timestamp("2026-10-26"))
    assert during.tolist() == ["已核实：欠薪专项行动", "", ""]
    assert (silence_reasons(keys, silences, pd.Timestamp("2026-11-01")) == "").all()   # expired
    assert (silence_reasons(keys, silences, pd.Timestamp("2026-09-30")) == "").all()   # not yet started


# --- sentences ------------------------------------------------------------------------------------
def test_the_sentence_carries_the_numbers_the_record_and_the_forecast_bound() -> None:
    from riskwatch.detect.signals import describe

    scores = week_scores({"W:01:339901001": (37, 12, 1e-9, True)}).assign(forecast_upper=19.0)
    findings, _ = volume_findings(scores, CATALOG, set(), SignalPolicy())
    weeks = pd.date_range("2023-01-02", WEEK - pd.Timedelta(weeks=1), freq="W-MON")
    history = pd.Series(10.0, index=weeks)
    history.iloc[0] = 40.0      # the last week above 37 was the first one: «2023 年 1 月以来最高»
    text = describe(findings, CATALOG, "W", {"W:01:339901001": history})[S.SENTENCE].iloc[0]
    assert text == ("劳动社保 · 甲街道：10 月 19 日当周 37 件，预期 12 件（预警上限 22），为 2023 年 1 月以来最高，"
                    "超出预测 95% 上限 19")
