"""Engines and sessions for SQLite (the embedded default) and PostgreSQL (production).

``make_engine`` is the only place that knows the dialect-specific connection settings; the
session's lifecycle (commit, rollback, close) belongs to the caller (CLI, jobs, tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session


def normalize_url(url: str) -> str:
    """Rewrite ``postgresql://`` / ``postgres://`` / ``postgresql+psycopg2://`` to the psycopg 3 driver."""
    u = make_url(url)
    if u.get_backend_name() in ("postgresql", "postgres") and u.drivername != "postgresql+psycopg":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: bulk upserts touch many index pages
        cur.execute("PRAGMA temp_store=MEMORY")
    finally:
        cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``.

    SQLite: creates the parent directory of the database file, turns on WAL, ``foreign_keys=ON`` and
    ``synchronous=NORMAL`` on every connection. PostgreSQL: always through psycopg 3.
    Extra keyword arguments go to ``sqlalchemy.create_engine``.
    """
    url = normalize_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, **kwargs)


def make_session(engine: Engine) -> Session:
    """A new ``Session`` bound to ``engine``; the caller commits and closes it."""
    return Session(engine, expire_on_commit=False)


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Any:
    """A programmatic Alembic ``Config`` pointing at the package's migration folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Run ``alembic upgrade head`` on the database at ``url`` (creates it for SQLite)."""
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The absolute path of a SQLite store's database file; None for other stores and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def schema_revision(url: str) -> tuple[str | None, str]:
    """(the store's schema revision, or None when it has none; the newest revision of this riskwatch)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head() or ""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return current, head
