"""The ``riskwatch`` command: thin commands over ``pipeline``. Only this package prints.

Here: the click group, the shared context (settings, sessions) and helpers, and the registrations. Each
command group lives in a module of its own (``db``, ``ingest``, ``stats``, ``forecast``, ``detect``,
``persons``, ``ledger``, ``report``, ``demo``) that adds its commands to ``cli`` when imported (at the bottom).

Global options ``--config DIR`` (or ``$RISKWATCH_CONFIG``) and ``--db URL`` (or
``$RISKWATCH_DATABASE_URL``; default ``sqlite:///var/riskwatch.db``) come before the command.
"""

from __future__ import annotations

import logging
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from riskwatch import pipeline
from riskwatch.config import Settings, load_settings, resolve_database_url
from riskwatch.schema import RiskwatchError


class Context:
    def __init__(self, config_dir: str | None, db_url: str | None) -> None:
        self.config_dir = config_dir
        self.db_url = resolve_database_url(db_url)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_dir)
        return self._settings

    @contextmanager
    def store(self) -> Iterator[Session]:
        """A session on the store migrated to the newest schema, with regions, categories and staff loaded
        from the configuration (what every command that writes starts from). The caller commits."""
        from riskwatch.store import upgrade_database
        from riskwatch.store.lock import writer_lock

        holder = "riskwatch " + " ".join(a for a in sys.argv[1:] if not a.startswith("-"))[:60]
        with writer_lock(self.db_url, holder.strip(), on_wait=lambda m: click.echo(f"等待 waiting: {m}", err=True)):
            upgrade_database(self.db_url)
            with self._session() as session:
                pipeline.prepare_store(session, self.settings)
                yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on a store whose schema is this riskwatch's (what commands that only read start
        from); a store without it is refused with what to run."""
        from riskwatch.store.engine import schema_revision

        current, head = schema_revision(self.db_url)
        if current != head:
            what = "has no riskwatch tables" if current is None else f"has schema {current}, not {head}"
            raise StoreNotReadyError(f"the store {_safe_url(self.db_url)} {what}: run `riskwatch db upgrade` "
                                     "(or `riskwatch ingest`, which creates it) first")
        with self._session() as session:
            yield session

    @contextmanager
    def _session(self) -> Iterator[Session]:
        from riskwatch.store import make_engine, make_session

        engine = make_engine(self.db_url)
        session = make_session(engine)
        try:
            yield session
        finally:
            session.close()
            engine.dispose()


pass_ctx = click.make_pass_decorator(Context)


class StoreNotReadyError(RiskwatchError):
    """The database has no riskwatch schema, or an older one."""


class RiskwatchGroup(click.Group):
    """The command group: a ``RiskwatchError`` no command handled ends as one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RiskwatchError as exc:
            _fail(exc)
            return None


def _fail(exc: Exception) -> None:
    click.echo(f"错误 error: {exc}", err=True)
    sys.exit(2)


@click.group(cls=RiskwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_dir", type=click.Path(file_okay=False), default=None,
              help="Configuration directory (default: $RISKWATCH_CONFIG or the bundled demo city).")
@click.option("--db", "db_url", default=None,
              help="Database URL (default: $RISKWATCH_DATABASE_URL or sqlite:///var/riskwatch.db).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.pass_context
def cli(ctx: click.Context, config_dir: str | None, db_url: str | None, verbose: bool) -> None:
    """riskwatch: risk early warning for petition (信访) and hotline (12345) work."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(config_dir, db_url)


def _pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(width - shown, 0)
    return fill + text if right else text + fill


def _row(label: str, *cells: object, width: int = 0) -> str:
    widths = (width,) * len(cells) if width else (8, 8, 10, 10, 10)
    return "  " + _pad(label, 18) + "".join(_pad(str(c), w, right=True) for c, w in zip(cells, widths, strict=False))


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


def main() -> None:
    """Entry point of the ``riskwatch`` console command."""
    try:
        cli()
    except RiskwatchError as exc:
        _fail(exc)


# every command group lives in a module of its own and registers its commands on import
from riskwatch.cli import db as _db_commands  # noqa: E402,F401
from riskwatch.cli import demo as _demo_commands  # noqa: E402,F401
from riskwatch.cli import detect as _detect_commands  # noqa: E402,F401
from riskwatch.cli import forecast as _forecast_commands  # noqa: E402,F401
from riskwatch.cli import ingest as _ingest_commands  # noqa: E402,F401
from riskwatch.cli import ledger as _ledger_commands  # noqa: E402,F401
from riskwatch.cli import persons as _persons_commands  # noqa: E402,F401
from riskwatch.cli import report as _report_commands  # noqa: E402,F401
from riskwatch.cli import stats as _stats_commands  # noqa: E402,F401
