"""`riskwatch detect` on the store, end to end (SQLite and PostgreSQL): weekly runs, signals carried from one
week to the next, idempotent re-runs, silences that expire, and no look-ahead."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from cli_helpers import ingest as ingest_city
from cli_helpers import run as cli_run
from cli_helpers import table
from click.testing import Result

from riskwatch.store import make_engine

VOLATILE = ["id", "run_id"]

def run(config: Path, db_url: str, *args: str) -> Result:
    result = cli_run(config, db_url, *args)
    assert result.exit_code == 0, result.output
    return result


def ingest(config: Path, db_url: str, city: Path) -> None:
    assert ingest_city(config, db_url, city).exit_code == 0


def test_weekly_runs_carry_signals_over_and_a_rerun_changes_nothing(db_url: str, small_config: Path,
                                                                      small_city: Path) -> None:
    ingest(small_config, db_url, small_city)
    first = run(small_config, db_url, "detect", "--as-of", "2025-06-02")
    assert "week of 2025-05-26" in first.output and "预警信号" in first.output
    run(small_config, db_url, "detect", "--as-of", "2025-06-09")
    runs = table(db_url, "detect_runs").sort_values("as_of")
    assert runs["period"].dt.strftime("%Y-%m-%d").tolist() == ["2025-05-26", "2025-06-02"]
    scores = table(db_url, "detect_scores")
    assert (scores.groupby("run_id").size() == runs["series_count"].iloc[0]).all()
    assert set(scores["state"]) <= {"scored", "insufficient", "missing"}
    signals = table(db_url, "signals")
    second = signals.loc[signals["run_id"] == runs["id"].iloc[1]]
    first_keys = set(signals.loc[signals["run_id"] == runs["id"].iloc[0], "signal_key"])
    # a signal open the week before is ongoing (or closed) now, never opened again
    carried = second.loc[second["signal_key"].isin(first_keys)]
    assert len(carried) and set(carried["status"]) <= {"ongoing", "closed"}
    assert (second["sentence"].str.len() > 10).all()
    # the same as-of again replaces its run: the same rows
    run(small_config, db_url, "detect", "--as-of", "2025-06-09")
    assert len(table(db_url, "detect_runs")) == 2
    again = table(db_url, "signals")
    again = again.loc[again["run_id"] == again["run_id"].max()]
    cols = [c for c in second.columns if c not in VOLATILE]
    pd.testing.assert_frame_equal(second[cols].sort_values("signal_key").reset_index(drop=True),
                                  again[cols].sort_values("signal_key").reset_index(drop=True))
    listed = run(small_config, db_url, "signals")
    assert "week of 2025-06-02" in listed.output
    monthly = run(small_config, db_url, "detect", "--freq", "M", "--as-of", "2025-06-01")
    assert "month of 2025-05-01" in monthly.output and "2025 年 5 月" in monthly.output
    assert set(table(db_url, "detect_runs")["freq"]) == {"W", "M"}


def test_a_silence_mutes_matching_signals_until_it_expires(tmp_path: Path, small_config: Path, small_city: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    ingest(small_config, url, small_city)
    run(small_config, url, "signals", "silence", "overdue:*", "--reason", "超期件已逐件督办", "--by", "王科长",
        "--from", "2025-06-01", "--until", "2025-06-12")
    run(small_config, url, "detect", "--as-of", "2025-06-09")
    states = table(url, "signals")
    overdue = states["kind"] == "overdue"
    assert overdue.any()
    assert (states.loc[overdue, "silenced"] == "超期件已逐件督办").all()
    assert (states.loc[~overdue, "silenced"] == "").all()
    run(small_config, url, "detect", "--as-of", "2025-06-16")        # the silence expired on the 12th
    latest = table(url, "signals")
    latest = latest.loc[latest["run_id"] == latest["run_id"].max()]
    assert (latest["silenced"] == "").all()
    recorded = run(small_config, url, "signals", "silences")
    assert "王科长: 超期件已逐件督办" in recorded.output        # the decision stays on record


def test_detect_as_of_sees_no_later_cases(tmp_path: Path, small_config: Path, small_city: Path) -> None:
    """Scores of a past week equal those made on a store holding only what was entered by then."""
    url = f"sqlite:///{tmp_path}/a.db"
    ingest(small_config, url, small_city)
    run(small_config, url, "detect", "--as-of", "2025-03-03")
    full = table(url, "detect_scores")
    engine = make_engine(url)
    cut = "received_at >= '2025-03-03' OR registered_at > '2025-03-03'"
    with engine.begin() as conn:
        for child in ("parties", "case_events"):
            conn.exec_driver_sql(f"DELETE FROM {child} WHERE case_id IN (SELECT id FROM cases WHERE {cut})")
        conn.exec_driver_sql(f"DELETE FROM cases WHERE {cut}")
    engine.dispose()
    run(small_config, url, "detect", "--as-of", "2025-03-03")
    again = table(url, "detect_scores")
    cols = ["series_id", "ds", "observed", "expected", "upper", "p_value", "alarm", "state"]
    pd.testing.assert_frame_equal(full[cols].sort_values("series_id").reset_index(drop=True),
                                  again[cols].sort_values("series_id").reset_index(drop=True))


def test_runs_sharing_one_case_load_equal_runs_that_load_their_own(tmp_path: Path, small_config: Path,
                                                                      small_city: Path) -> None:
    """The demo loads the cases once for consecutive weeks (``detect_history``): each run must be what it
    would be alone, the cases as known at its own as-of."""
    from datetime import datetime

    from riskwatch import pipeline
    from riskwatch.config import load_settings
    from riskwatch.store import make_session

    settings = load_settings(small_config)
    mondays = [pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-09")]
    got = {}
    for name in ("own", "shared"):
        url = f"sqlite:///{tmp_path}/{name}.db"
        ingest(small_config, url, small_city)
        engine = make_engine(url)
        with make_session(engine) as session:
            cases = pipeline.detect_history(session, mondays[-1], since=mondays[0]) if name == "shared" else None
            for monday in mondays:
                pipeline.run_detect(session, settings, monday, datetime(2025, 6, 10), cases=cases)
                session.commit()
        engine.dispose()
        got[name] = (table(url, "detect_scores"), table(url, "signals"))
    for own, shared in zip(got["own"], got["shared"], strict=True):
        cols = [c for c in own.columns if c not in ("id", "run_id")]
        key = [c for c in ("series_id", "signal_key", "ds") if c in cols]
        pd.testing.assert_frame_equal(own[cols].sort_values(key).reset_index(drop=True),
                                      shared[cols].sort_values(key).reset_index(drop=True))


def test_a_weeks_case_signals_do_not_depend_on_the_hour_of_the_run(tmp_path: Path, small_config: Path,
                                                                     small_city: Path) -> None:
    """Run on Monday 00:00 or on Wednesday noon, the run is about the same complete week and finds the
    same case signals (issue 12, item 10)."""
    keys = {}
    for as_of in ("2025-06-09", "2025-06-11 12:00"):
        url = f"sqlite:///{tmp_path}/{as_of[:10]}.db"
        ingest(small_config, url, small_city)
        out = run(small_config, url, "detect", "--as-of", as_of)
        assert "week of 2025-06-02" in out.output
        signals = table(url, "signals")
        case = signals.loc[signals["kind"].isin(["escalation", "overdue", "returned", "dissatisfied"])]
        keys[as_of] = sorted(case["signal_key"]), case.groupby("kind").size().to_dict()
    monday, wednesday = keys.values()
    assert monday[1].get("dissatisfied", 0) > 0
    assert monday == wednesday

