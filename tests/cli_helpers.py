"""Helpers of the end-to-end tests that drive the CLI on a small synthetic city (fixtures ``small_config``
and ``small_city`` in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result

from riskwatch.cli import cli
from riskwatch.store import make_engine

SOURCES = ("hotline_12345", "hotline_12328", "petition_register", "updates")


def run(config: Path, db_url: str, *args: str) -> Result:
    """``riskwatch --config CONFIG --db URL ARGS...`` in-process."""
    return CliRunner().invoke(cli, ["--config", str(config), "--db", db_url, *args], catch_exceptions=False)


def ingest(config: Path, db_url: str, city: Path) -> Result:
    """Ingest every export folder of a synthetic city."""
    return run(config, db_url, "ingest", *[str(city / s) for s in SOURCES if (city / s).is_dir()])


def table(db_url: str, name: str) -> pd.DataFrame:
    engine = make_engine(db_url)
    try:
        return pd.read_sql_table(name, engine)
    finally:
        engine.dispose()
