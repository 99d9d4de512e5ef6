"""Shared fixtures: ``db_url`` runs a test on SQLite and on PostgreSQL, ``session`` on a migrated database,
``small_config`` and ``small_city`` a small synthetic city for the end-to-end tests (built once per run).

PostgreSQL comes from ``RISKWATCH_TEST_PG_URL`` (a server URL whose user may create databases); each
test gets a fresh database, dropped afterwards. Without that variable the PostgreSQL half is skipped,
except under ``CI=true``, where it fails: a CI run whose PostgreSQL did not start must not pass.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from riskwatch.config import load_settings
from riskwatch.store import make_engine, make_session, normalize_url, upgrade_database
from riskwatch.synth import generate_city

PG_URL_ENV = "RISKWATCH_TEST_PG_URL"


def _postgres_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PG_URL_ENV} is not set under CI=true: PostgreSQL tests cannot run")
        pytest.skip(f"{PG_URL_ENV} not set: PostgreSQL tests skipped")
    return normalize_url(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (not migrated), fresh for each test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'riskwatch.db'}"
        return
    server = make_url(_postgres_url())
    name = f"rw_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on a database upgraded to the latest migration; closed (not committed) afterwards."""
    upgrade_database(db_url)
    engine = make_engine(db_url)
    s = make_session(engine)
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


@pytest.fixture(scope="session")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo configuration with the city and district levels only and one worker, so that the
    end-to-end forecast and detect tests stay fast."""
    out = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(load_settings().config_dir, out)
    settings = out / "settings.toml"
    text = settings.read_text(encoding="utf-8")
    start = text.index("levels = [")
    end = text.index("]", start) + 1
    text = text[:start] + 'levels = ["all:city", "top:city", "all:district", "top:district"]' + text[end:]
    settings.write_text(text.replace("workers = 2", "workers = 1"), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of a 5% synthetic city up to 2025-06-30 (exports only; each test ingests it)."""
    out = tmp_path_factory.mktemp("city")
    generate_city(load_settings(), out, years=2, seed=5, end=date(2025, 6, 30), scale=0.05)
    return out
