"""Artifact labels of a spike: batch entry, one source, one unit, or a real surge."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch import schema as S
from riskwatch.detect.artifacts import ArtifactLabel, ArtifactOptions, label_artifact

WEEK = pd.Timestamp("2026-10-26")  # Monday of the spiking week
UNITS = ("区住建局", "区城管局", "区市场监管局", "区人社局", "某某街道办")
HOT, PET = "hotline_12345", "petition_register"


def cases(n: int, source: str, start: pd.Timestamp, days: int = 7, unit: str | None = None,
          entered: pd.Timestamp | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` cases spread evenly over ``days`` days (and over the units unless ``unit``); each entered
    the day it is received unless ``entered`` is given."""
    rows = []
    for i in range(n):
        received = start + pd.Timedelta(days=(i * days) // n, hours=9 + i % 8)
        rows.append({S.SOURCE: source, S.RECEIVED_AT: received,
                     S.REGISTERED_AT: entered if entered is not None else received + pd.Timedelta(minutes=5),
                     S.HANDLING_UNIT: unit or UNITS[(i + offset) % len(UNITS)]})
    return rows


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[S.SOURCE, S.RECEIVED_AT, S.REGISTERED_AT, S.HANDLING_UNIT])


def normal_week(start: pd.Timestamp, hotline: int = 40, petition: int = 10) -> list[dict[str, Any]]:
    return cases(hotline, HOT, start) + cases(petition, PET, start, offset=2)


def baseline(weeks: int = 8, **kw: Any) -> pd.DataFrame:
    return frame([r for k in range(1, weeks + 1) for r in normal_week(WEEK - pd.Timedelta(weeks=k), **kw)])


def label(period: list[dict[str, Any]], base: pd.DataFrame | None = None, expected: float = 50.0,
          **kw: Any) -> ArtifactLabel:
    return label_artifact(frame(period), baseline() if base is None else base, expected, 8, **kw)


def test_batch_of_30_registered_on_one_day_is_batch_entry() -> None:
    entry = pd.Timestamp("2026-10-27 15:00")
    backlog = cases(30, HOT, WEEK, days=1, entered=entry)  # Monday's calls, entered by one clerk on Tuesday
    got = label(normal_week(WEEK) + backlog, source_labels={HOT: "12345热线"})
    assert got.label == "batch_entry" and got.what == "2026-10-27"
    assert got.share == pytest.approx(1.0, abs=0.05)
    assert "2026-10-27" in got.note and "补录" in got.note and "12345热线" in got.note
    assert f"{30 + 6} 件" in got.note  # the day's usual registrations plus the batch


def test_batch_that_also_stamps_received_on_the_entry_day_is_batch_entry() -> None:
    day = pd.Timestamp("2026-10-29")
    batch = cases(30, PET, day, days=1)
    got = label(normal_week(WEEK) + batch)
    assert got.label == "batch_entry" and got.what == "2026-10-29" and "登记" in got.note


def test_surge_spread_over_days_sources_and_units_is_real() -> None:
    got = label(normal_week(WEEK, hotline=64, petition=16))
    assert got == ArtifactLabel("", 0.0, "", "")


def test_no_excess_is_real() -> None:
    assert label(normal_week(WEEK), expected=48.0).label == ""


def test_surge_from_a_source_with_a_usual_20_percent_share_is_one_source() -> None:
    got = label(normal_week(WEEK) + cases(30, PET, WEEK, offset=3), source_labels={PET: "信访件"})
    assert got.label == "one_source" and got.what == PET
    assert got.share == pytest.approx(1.0)
    assert got.note.startswith("主要来自 信访件") and "通常占 20%" in got.note


def test_source_supplying_its_usual_share_is_not_one_source() -> None:
    # the 80% source supplies 80% of the excess: that is the usual mix growing, not one source
    got = label(normal_week(WEEK) + cases(24, HOT, WEEK, offset=1) + cases(6, PET, WEEK, offset=4))
    assert got.label == ""


def test_large_series_whose_main_source_grows_is_real_not_one_source() -> None:
    # hotline 800 -> 1100, petition flat at 200: the hotline's share only moves from 80% to 85%
    base = baseline(hotline=800, petition=200)
    period = normal_week(WEEK, hotline=1100, petition=200)
    assert label(period, base, expected=1000.0).label == ""
    no_gap = ArtifactOptions(min_share_gap=0.0)
    assert label(period, base, expected=1000.0, options=no_gap).label == "one_source"


def test_a_few_cases_in_a_small_series_are_not_an_artifact_by_chance() -> None:
    base = baseline(hotline=2, petition=2)  # 4 a week, half each
    period = normal_week(WEEK, hotline=8, petition=2)  # 8 of 10 from the hotline: p = 0.055
    assert label(period, base, expected=4.0).label == ""
    assert label(period, base, expected=4.0, options=ArtifactOptions(alpha=0.1)).label == "one_source"


def test_single_source_series_is_never_one_source() -> None:
    base = baseline(hotline=50, petition=0)
    got = label(cases(90, HOT, WEEK), base)
    assert got.label == ""


def test_surge_from_one_unit_is_one_unit() -> None:
    extra = cases(24, HOT, WEEK, unit="区城管局") + cases(6, PET, WEEK, unit="区城管局")
    got = label(normal_week(WEEK) + extra)
    assert got.label == "one_unit" and got.what == "区城管局"
    assert got.share == pytest.approx(1.0) and got.note.startswith("集中于 区城管局")


def test_blank_units_are_not_attributed() -> None:
    extra = cases(24, HOT, WEEK, unit="") + cases(6, PET, WEEK, unit="")
    for r in extra:
        r[S.HANDLING_UNIT] = None
    assert label(normal_week(WEEK) + extra).label == ""


def test_short_baseline_gives_no_share_label_and_options_matter() -> None:
    period = normal_week(WEEK) + cases(30, PET, WEEK, offset=3)
    assert label(period, baseline(weeks=0)).label == ""
    assert label(period, options=ArtifactOptions(min_explained=1.01)).label == ""


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="period_cases.*handling_unit"):
        label_artifact(frame([]).drop(columns=[S.HANDLING_UNIT]), baseline(), 10.0, 8)


_ROW = st.tuples(st.sampled_from([HOT, PET, "hotline_12328"]), st.integers(0, 6), st.integers(0, 2),
                 st.sampled_from(["甲局", "乙局", "丙局", None]))
_ROWS = st.lists(_ROW, min_size=0, max_size=60)
# a period: scattered rows plus a burst like one row, on its day or spread over the week (every label occurs)
_PERIOD = st.builds(
    lambda rows, b, k, spread: rows + [(b[0], (b[1] + i * spread) % 7, b[2], b[3]) for i in range(k)],
    _ROWS, _ROW, st.integers(0, 30), st.sampled_from([0, 1]))


def _generated(rows: list[tuple[str, int, int, str | None]], start: pd.Timestamp) -> pd.DataFrame:
    received = [start + pd.Timedelta(days=d, hours=9) for _, d, _, _ in rows]
    return pd.DataFrame({S.SOURCE: [s for s, *_ in rows], S.RECEIVED_AT: received,
                         S.REGISTERED_AT: [r + pd.Timedelta(days=lag) for r, (_, _, lag, _) in
                                           zip(received, rows, strict=True)],
                         S.HANDLING_UNIT: [u for *_, u in rows]},
                        columns=[S.SOURCE, S.RECEIVED_AT, S.REGISTERED_AT, S.HANDLING_UNIT])


@settings(max_examples=80, deadline=None)
@given(period=_PERIOD, base=_ROWS, expected=st.floats(0, 30), data=st.data())
def test_labels_do_not_depend_on_row_order(period: list[tuple[str, int, int, str | None]],
                                           base: list[tuple[str, int, int, str | None]], expected: float,
                                           data: st.DataObject) -> None:
    p, b = _generated(period, WEEK), _generated(base, WEEK - pd.Timedelta(weeks=4))
    options = ArtifactOptions(min_baseline_cases=5)
    first = label_artifact(p, b, expected, 4, options)
    p_order = data.draw(st.permutations(range(len(p))))
    b_order = data.draw(st.permutations(range(len(b))))
    again = label_artifact(p.iloc[list(p_order)], b.iloc[list(b_order)], expected, 4, options)
    assert again == first
