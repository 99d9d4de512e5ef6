"""`riskwatch detect --series`: every period scored prospectively, missing and insufficient stated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from riskwatch.cli import cli
from riskwatch.detect.combine import score_periods


def test_detect_standalone_on_a_file_with_gaps_and_zeros(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    weeks = pd.date_range("2019-01-07", periods=6 * 52, freq="W-MON")
    mu = 20 * np.exp(0.3 * np.cos(2 * np.pi * np.arange(len(weeks)) / 52.18))
    counts = rng.negative_binomial(10, 10 / (10 + mu)).astype(float)
    counts[-10] = counts[-10] + 60                       # an outbreak week
    frame = pd.DataFrame({"date": weeks.strftime("%Y-%m-%d"), "count": counts})
    frame.loc[100:103, "count"] = 0                      # real zeros
    frame.loc[200, "count"] = np.nan                     # a blank count
    frame = frame.drop(index=[150])                      # an absent week
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False, na_rep="")
    result = CliRunner().invoke(cli, ["detect", "--series", str(src), "--freq", "W", "--output", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    assert list(got.columns)[:6] == ["date", "count", "expected", "upper", "score", "alarm"]
    assert len(got) == 6 * 52
    assert set(got["state"]) == {"scored", "insufficient", "missing"}
    assert (got.loc[got["state"] != "scored", "alarm"] == 0).all()
    assert got.loc[got["date"] == weeks[-10].strftime("%Y-%m-%d"), "alarm"].item() == 1
    assert got["state"].iloc[:7].eq("insufficient").all()
    assert got.loc[got["date"] == weeks[150].strftime("%Y-%m-%d"), "state"].item() == "missing"
    assert (got["detector"].str.startswith("farrington")).iloc[-52:].all()


def test_scores_do_not_look_ahead() -> None:
    rng = np.random.default_rng(7)
    y = rng.poisson(15, 5 * 52).astype(float)
    first = score_periods(y, "W")
    later = y.copy()
    later[200:] = 0
    second = score_periods(later, "W")
    pd.testing.assert_frame_equal(first.iloc[:200].drop(columns="observed"),
                                  second.iloc[:200].drop(columns="observed"))
