"""`riskwatch detect` on the store, end to end (SQLite and PostgreSQL): weekly runs, signals carried from one
week to the next, idempotent re-runs, silences that expire, and no look-ahead."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from riskwatch.cli import cli
from riskwatch.config import load_settings
from riskwatch.store import make_engine
from riskwatch.synth import generate_city

SOURCES = ("hotline_12345", "hotline_12328", "petition_register", "updates")
VOLATILE = ["id", "run_id"]


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo configuration with the city and district levels only, so the test stays fast."""
    out = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(load_settings().config_dir, out)
    settings = out / "settings.toml"
    text = settings.read_text(encoding="utf-8")
    start = text.index("levels = [")
    end = text.index("]", start) + 1
    settings.write_text(text[:start] + 'levels = ["all:city", "top:city", "all:district", "top:district"]'
                        + text[end:], encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(load_settings(), out, years=2, seed=5, end=date(2025, 6, 30), scale=0.05)
    return out


def run(config: Path, db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", db_url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def table(db_url: str, name: str) -> pd.DataFrame:
    engine = make_engine(db_url)
    try:
        return pd.read_sql_table(name, engine)
    finally:
        engine.dispose()


def ingest(config: Path, url: str, city: Path) -> None:
    run(config, url, "ingest", *[str(city / s) for s in SOURCES if (city / s).is_dir()])


def test_weekly_runs_carry_signals_over_and_a_rerun_changes_nothing(db_url: str, config_dir: Path,
                                                                      city: Path) -> None:
    ingest(config_dir, db_url, city)
    first = run(config_dir, db_url, "detect", "--as-of", "2025-06-02")
    assert "week of 2025-05-26" in first.output and "预警信号" in first.output
    run(config_dir, db_url, "detect", "--as-of", "2025-06-09")
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
    run(config_dir, db_url, "detect", "--as-of", "2025-06-09")
    assert len(table(db_url, "detect_runs")) == 2
    again = table(db_url, "signals")
    again = again.loc[again["run_id"] == again["run_id"].max()]
    cols = [c for c in second.columns if c not in VOLATILE]
    pd.testing.assert_frame_equal(second[cols].sort_values("signal_key").reset_index(drop=True),
                                  again[cols].sort_values("signal_key").reset_index(drop=True))
    listed = run(config_dir, db_url, "signals")
    assert "week of 2025-06-02" in listed.output


def test_a_silence_mutes_matching_signals_until_it_expires(tmp_path: Path, config_dir: Path, city: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    ingest(config_dir, url, city)
    run(config_dir, url, "signals", "silence", "overdue:*", "--reason", "超期件已逐件督办", "--by", "王科长",
        "--from", "2025-06-01", "--until", "2025-06-12")
    run(config_dir, url, "detect", "--as-of", "2025-06-09")
    states = table(url, "signals")
    overdue = states["kind"] == "overdue"
    assert overdue.any()
    assert (states.loc[overdue, "silenced"] == "超期件已逐件督办").all()
    assert (states.loc[~overdue, "silenced"] == "").all()
    run(config_dir, url, "detect", "--as-of", "2025-06-16")        # the silence expired on the 12th
    latest = table(url, "signals")
    latest = latest.loc[latest["run_id"] == latest["run_id"].max()]
    assert (latest["silenced"] == "").all()
    recorded = run(config_dir, url, "signals", "silences")
    assert "王科长: 超期件已逐件督办" in recorded.output        # the decision stays on record


def test_detect_as_of_sees_no_later_cases(tmp_path: Path, config_dir: Path, city: Path) -> None:
    """Scores of a past week equal those made on a store holding only what was entered by then."""
    url = f"sqlite:///{tmp_path}/a.db"
    ingest(config_dir, url, city)
    run(config_dir, url, "detect", "--as-of", "2025-03-03")
    full = table(url, "detect_scores")
    engine = make_engine(url)
    cut = "received_at >= '2025-03-03' OR registered_at > '2025-03-03'"
    with engine.begin() as conn:
        for child in ("parties", "case_events"):
            conn.exec_driver_sql(f"DELETE FROM {child} WHERE case_id IN (SELECT id FROM cases WHERE {cut})")
        conn.exec_driver_sql(f"DELETE FROM cases WHERE {cut}")
    engine.dispose()
    run(config_dir, url, "detect", "--as-of", "2025-03-03")
    again = table(url, "detect_scores")
    cols = ["series_id", "ds", "observed", "expected", "upper", "p_value", "alarm", "state"]
    pd.testing.assert_frame_equal(full[cols].sort_values("series_id").reset_index(drop=True),
                                  again[cols].sort_values("series_id").reset_index(drop=True))
