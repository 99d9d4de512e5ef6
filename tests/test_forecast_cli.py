"""`riskwatch forecast` end to end on a temporary database (SQLite and PostgreSQL), and the standalone mode."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from cli_helpers import ingest, run, table
from click.testing import CliRunner

from riskwatch.cli import cli
from riskwatch.forecast.coherence import stage_one
from riskwatch.store import make_engine


def test_forecast_stores_every_series_coherent_and_rerun_is_idempotent(db_url: str, small_config: Path,
                                                                        small_city: Path) -> None:
    assert ingest(small_config, db_url, small_city).exit_code == 0
    out = run(small_config, db_url, "forecast", "--as-of", "2025-06-02", "--horizon", "6")
    assert out.exit_code == 0, out.output
    assert "models chosen" in out.output
    series, values, scores = (table(db_url, t) for t in ("forecast_series", "forecasts", "forecast_scores"))
    assert len(series) > 50 and set(values["series_id"]) == set(series["series_id"])
    assert (values.groupby("series_id").size() == 6).all()
    assert values["ds"].min() == pd.Timestamp("2025-06-02")  # step 1 is the week that starts at as-of
    bounds = values[["yhat_lower_95", "yhat_lower_80", "yhat", "yhat_upper_80", "yhat_upper_95"]].to_numpy()
    assert (bounds >= 0).all() and (np.diff(bounds, axis=1) >= -1e-9).all()
    assert (scores.groupby("series_id")["selected"].sum() <= 1).all()
    assert set(values["model"]) <= {"seasonal_naive", "naive", "sparse_nb", "ets", "nb_glm", "prophet"}
    # coherence of the stored forecasts: every aggregate equals the sum of its bottom series
    catalog = series.assign(freq="W")
    wide = values.pivot(index="series_id", columns="ds", values="yhat")
    hier = stage_one(catalog)
    assert hier.aggregates
    for agg, members in hier.aggregates.items():
        assert np.allclose(wide.loc[agg], wide.loc[list(members)].sum(), atol=1e-6)
    # the same run again replaces itself: same rows, one run
    again = run(small_config, db_url, "forecast", "--as-of", "2025-06-02", "--horizon", "6")
    assert again.exit_code == 0, again.output
    assert len(table(db_url, "forecast_runs")) == 1
    v2 = table(db_url, "forecasts").drop(columns=["id", "run_id"]).sort_values(["series_id", "ds"])
    v1 = values.drop(columns=["id", "run_id"]).sort_values(["series_id", "ds"])
    pd.testing.assert_frame_equal(v1.reset_index(drop=True), v2.reset_index(drop=True))
    shown = run(small_config, db_url, "forecast", "--show", "W:*:339900", "--as-of", "2025-06-02")
    assert shown.exit_code == 0, shown.output
    assert "回测" in shown.output
    assert re.search(r"^ \* \S+ +MAE", shown.output, re.MULTILINE)  # the chosen model is marked


def test_forecast_as_of_sees_no_later_cases(tmp_path: Path, small_config: Path, small_city: Path) -> None:
    """A forecast made at a past date equals one made on a store holding only what was entered by then."""
    url = f"sqlite:///{tmp_path}/a.db"
    assert ingest(small_config, url, small_city).exit_code == 0
    assert run(small_config, url, "forecast", "--as-of", "2025-03-03", "--horizon", "4").exit_code == 0
    full = table(url, "forecasts")
    engine = make_engine(url)
    with engine.begin() as conn:  # drop every case received, or entered, at or after the as-of
        conn.exec_driver_sql("DELETE FROM parties WHERE case_id IN (SELECT id FROM cases WHERE received_at >= "
                             "'2025-03-03' OR registered_at > '2025-03-03')")
        conn.exec_driver_sql("DELETE FROM case_events WHERE case_id IN (SELECT id FROM cases WHERE "
                             "received_at >= '2025-03-03' OR registered_at > '2025-03-03')")
        conn.exec_driver_sql("DELETE FROM cases WHERE received_at >= '2025-03-03' OR registered_at > '2025-03-03'")
    engine.dispose()
    assert run(small_config, url, "forecast", "--as-of", "2025-03-03", "--horizon", "4").exit_code == 0
    cut = table(url, "forecasts")
    cols = ["series_id", "ds", "yhat", "yhat_upper_95", "model"]
    pd.testing.assert_frame_equal(full[cols].sort_values(cols[:2]).reset_index(drop=True),
                                  cut[cols].sort_values(cols[:2]).reset_index(drop=True))


def test_standalone_mode_on_a_file_with_gaps_zeros_and_leading_blanks(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    days = pd.date_range("2023-01-01", "2025-06-30")
    counts = rng.poisson(5 + 3 * (days.day_of_week < 5)).astype(float)
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "count": counts})
    frame.loc[:30, "count"] = np.nan              # leading run of missing
    frame.loc[400:409, "count"] = 0               # a run of real zeros
    frame = frame.drop(index=range(500, 520))     # a gap
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False, na_rep="")
    out = tmp_path / "out.csv"
    for freq, horizon in (("D", 14), ("W", 8), ("M", 3)):
        result = CliRunner().invoke(cli, ["forecast", "--series", str(src), "--freq", freq, "--horizon",
                                          str(horizon), "--output", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        got = pd.read_csv(out)
        assert list(got.columns) == ["date", "yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95",
                                     "yhat_upper_95", "model"]
        assert len(got) == horizon and (got.iloc[:, 1:6] >= 0).all().all() and got["model"].notna().all()
        assert "not counted as zero" in result.output or freq == "M"
    first = pd.read_csv(out)["date"].iloc[0]
    assert first == "2025-07-01"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,count\n2024-01-01,1\n2024-01-02,many\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["forecast", "--series", str(bad), "--output", str(out)])
    assert result.exit_code == 2 and "row 3: count" in result.output
