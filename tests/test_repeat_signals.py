"""Repeat petition signals (重复信访): the third petition of one matter within a year is a case signal."""

from __future__ import annotations

import pandas as pd
import pytest

from riskwatch.config import load_settings
from riskwatch.persons.repeat_signals import RepeatSignalOptions, repeat_findings

SETTINGS = load_settings()
AS_OF = pd.Timestamp("2026-11-30")     # a Monday: the period is the week of 11-23


def frames(rows: list[tuple[str, str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows: (source_id, matter_id, received_at)."""
    matters = pd.DataFrame([{"source": "petition", "source_id": s, "matter_id": m} for s, m, _ in rows])
    cases = pd.DataFrame([{"source": "petition", "source_id": s, "received_at": pd.Timestamp(t),
                           "category_code": "0101", "region_code": "339902001"} for s, _, t in rows])
    return matters, cases


def test_the_third_petition_of_a_matter_within_a_year_is_a_signal() -> None:
    matters, cases = frames([
        ("a1", "M1", "2026-03-01"), ("a2", "M1", "2026-08-01"), ("a3", "M1", "2026-11-25"),   # third: signal
        ("b1", "M2", "2025-06-01"), ("b2", "M2", "2025-09-01"), ("b3", "M2", "2026-11-24"),   # earlier ones > 1 y
        ("c1", "M3", "2026-10-01"), ("c2", "M3", "2026-11-26"),                               # second only
        ("d1", "M4", "2026-09-01"), ("d2", "M4", "2026-10-01"), ("d3", "M4", "2026-11-30"),   # after the period
    ])
    found = repeat_findings(matters, cases, AS_OF, "W", SETTINGS.regions, SETTINGS.taxonomy)
    assert found["signal_key"].tolist() == ["repeat:petition:a3"]
    row = found.iloc[0]
    assert row["subject"] == "petition:a3" and row["observed"] == 3
    assert "同一事项第 3 次信访" in row["sentence"] and "欠薪" in row["sentence"]
    assert row["evidence"]["matter_id"] == "M1" and row["evidence"]["earlier_cases"] == 2
    looser = repeat_findings(matters, cases, AS_OF, "W", options=RepeatSignalOptions(min_earlier=1))
    assert set(looser["subject"]) == {"petition:a3", "petition:c2"}   # b3: its earlier ones are > a year back


def test_row_order_does_not_matter_and_bad_options_are_refused() -> None:
    matters, cases = frames([("a1", "M1", "2026-03-01"), ("a2", "M1", "2026-08-01"), ("a3", "M1", "2026-11-25")])
    one = repeat_findings(matters, cases, AS_OF)
    two = repeat_findings(matters.iloc[::-1], cases.sample(frac=1, random_state=3), AS_OF)
    pd.testing.assert_frame_equal(one, two)
    with pytest.raises(ValueError):
        RepeatSignalOptions(min_earlier=0)
