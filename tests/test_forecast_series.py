"""Series building (as-of, cells, buckets), the nowcast, and reading / regularizing date,count files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskwatch import schema as S
from riskwatch.config import load_settings
from riskwatch.forecast.nowcast import completeness_weights, estimate_delays, nowcast_weights
from riskwatch.forecast.series import build_series, history_periods
from riskwatch.forecast.standalone import regularize_counts
from riskwatch.ingest.count_file import read_count_file
from riskwatch.schema import UnreadableFileError

SETTINGS = load_settings()
TAX, REG = SETTINGS.taxonomy, SETTINGS.regions
TOWN = next(r.code for r in REG.regions.values() if r.level.value == "township")
DISTRICT = REG.regions[TOWN].parent


def cases(rows: list[tuple[str, str | None, str, str]], source: str = "petition_register") -> pd.DataFrame:
    """rows of (received_at, registered_at, category_code, region_code)."""
    f = pd.DataFrame(rows, columns=[S.RECEIVED_AT, S.REGISTERED_AT, S.CATEGORY_CODE, S.REGION_CODE])
    f[S.RECEIVED_AT] = pd.to_datetime(f[S.RECEIVED_AT])
    f[S.REGISTERED_AT] = pd.to_datetime(f[S.REGISTERED_AT])
    f[S.SOURCE] = source
    return f


def test_weekly_cells_add_up_and_history_stops_at_the_last_complete_week() -> None:
    f = cases([("2026-03-02 09:00", None, "0101", TOWN), ("2026-03-03 09:00", None, "0102", TOWN),
               ("2026-03-10 09:00", None, "0101", DISTRICT), ("2026-03-18 10:00", None, "0101", REG.root)])
    series, catalog = build_series(f, TAX, REG, pd.Timestamp("2026-03-19"), "W")
    assert sorted(series[S.DS].unique()) == [pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09")]
    y = series.set_index([S.SERIES_ID, S.DS])[S.Y]
    assert y[("W:*:" + REG.root, pd.Timestamp("2026-03-02"))] == 2
    assert y[("W:01:" + REG.root, pd.Timestamp("2026-03-09"))] == 1
    assert y[("W:0101:" + DISTRICT, pd.Timestamp("2026-03-09"))] == 1
    # the case known only to the district lands in the district's "township unknown" bucket
    assert y[(f"W:*:{DISTRICT}*", pd.Timestamp("2026-03-09"))] == 1
    assert set(catalog[S.SERIES_ID]) == set(series[S.SERIES_ID])
    # every level adds up to the city total, week by week
    for level in ("district", "township"):
        ids = catalog[(catalog["category"] == "*") & (catalog["region_level"] == level)][S.SERIES_ID]
        part = series[series[S.SERIES_ID].isin(ids)].groupby(S.DS)[S.Y].sum()
        total = series[series[S.SERIES_ID] == "W:*:" + REG.root].set_index(S.DS)[S.Y]
        assert (part.reindex(total.index, fill_value=0) == total).all()


def test_as_of_uses_only_what_was_received_and_entered_by_then() -> None:
    f = cases([("2026-03-02 09:00", "2026-03-02 10:00", "0101", TOWN),
               ("2026-03-03 09:00", "2026-04-20 10:00", "0101", TOWN),   # entered 7 weeks late
               ("2026-03-25 09:00", "2026-03-25 10:00", "0101", TOWN)])   # after as_of
    as_of = pd.Timestamp("2026-03-16")
    series, _ = build_series(f, TAX, REG, as_of, "W")
    assert series[series[S.SERIES_ID] == "W:*:" + REG.root][S.Y].sum() == 1
    later, _ = build_series(f, TAX, REG, pd.Timestamp("2026-05-01"), "W")
    assert later[later[S.SERIES_ID] == "W:*:" + REG.root][S.Y].sum() == 3
    # the same series built later equals the earlier one where nothing was entered late
    early = series.set_index([S.SERIES_ID, S.DS])[S.Y_OBSERVED]
    assert early.loc["W:*:" + REG.root].iloc[-1] == 0  # week of 03-09: nothing received


def test_history_skips_a_partial_first_period() -> None:
    periods = history_periods(pd.Timestamp("2026-03-04 08:00"), pd.Timestamp("2026-04-01"), "W")
    assert periods[0] == pd.Timestamp("2026-03-09")
    assert periods[-1] == pd.Timestamp("2026-03-23")


def test_nowcast_scales_up_the_last_days_by_the_measured_delay() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    received = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 500, n), unit="D")
    delay = rng.choice([0.2, 3.5, 20.0], size=n, p=[0.5, 0.3, 0.2])
    f = pd.DataFrame({S.SOURCE: "petition_register", S.RECEIVED_AT: received,
                      S.REGISTERED_AT: received + pd.to_timedelta(delay, unit="D")})
    as_of = pd.Timestamp("2026-05-16")
    delays = estimate_delays(f, as_of)
    table = delays.set_index("delay_days")["completeness"]
    assert table.loc[1.0] == pytest.approx(0.5, abs=0.05)
    assert table.loc[10.0] == pytest.approx(0.8, abs=0.05)
    assert table.iloc[-1] == pytest.approx(1.0)
    w, _ = nowcast_weights(f, as_of)
    recent = (f[S.RECEIVED_AT] >= as_of - pd.Timedelta(days=30)) & (f[S.RECEIVED_AT] < as_of)
    known = recent & (f[S.REGISTERED_AT] <= as_of)
    assert w[known].sum() == pytest.approx(recent.sum(), rel=0.15)  # the nowcast recovers the true count
    assert known.sum() < 0.9 * recent.sum()
    assert (completeness_weights(f, as_of, delays) <= 5).all()


def test_regularize_treats_gaps_as_missing_not_zero() -> None:
    days = pd.date_range("2025-01-01", "2025-12-31")
    t = pd.DataFrame({"date": days, "count": 10.0})
    t.loc[:20, "count"] = np.nan                          # leading run of blanks
    t = t.drop(index=range(100, 110))                     # 10 dates absent
    t.loc[200, "count"] = 0.0                             # a real zero
    reg = regularize_counts(t, "D")
    assert reg.ds[0] == days[21]
    assert reg.imputed.sum() == 10 and (reg.y[reg.imputed] == 10).all()
    assert (reg.y == 0).sum() == 1
    assert any("not counted as zero" in n for n in reg.notes)
    weekly = regularize_counts(t, "W")
    # partial weeks scaled up, the absent week interpolated, the week with the real zero 60
    assert sorted(set(np.round(weekly.y, 6))) == [60.0, 70.0] and (weekly.y == 60).sum() == 1
    with pytest.raises(ValueError, match="cannot be forecast by day"):
        regularize_counts(pd.DataFrame({"date": pd.date_range("2025-01-06", periods=30, freq="W-MON"),
                                        "count": 1.0}), "D")


def test_count_file_errors_name_the_row_and_field(tmp_path: Path) -> None:
    p = tmp_path / "in.csv"
    p.write_text("date,count\n2024-01-01,3\n2024/1/2,\nabc,4\n2024-01-04,-1\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError) as exc:
        read_count_file(p)
    msg = str(exc.value)
    assert "in.csv" in msg and "row 4: date" in msg and "row 5: count" in msg and "row 3" not in msg
    p.write_text("day,n\n2024-01-01,3\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="missing column"):
        read_count_file(p)
