"""The schedule: thin jobs that call the same pipeline functions as the CLI.

    python -m jobs --inbox DIR [--config DIR] [--db URL]

Jobs have stable ids, coalesce missed runs and never run two instances at once. A job's time
(``now`` / ``as_of``) is its scheduled fire time, not the clock. Jobs import riskwatch, never the reverse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from riskwatch import pipeline
from riskwatch.config import Settings
from riskwatch.schema import RiskwatchError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
T = TypeVar("T")


def ingest_inbox(settings: Settings, db_url: str, inbox: Path, fire_time: datetime) -> None:
    """Ingest every export in ``inbox`` (already-seen files change nothing), one transaction per file."""
    from riskwatch.store import make_engine, make_session, upgrade_database
    from riskwatch.store.lock import writer_lock

    with writer_lock(db_url, "riskwatch job ingest", on_wait=log.info):
        upgrade_database(db_url)
        engine = make_engine(db_url)
        try:
            found = pipeline.expand_paths([inbox])
            for path, why in found.ignored + found.other:
                log.info("skipped %s: %s", path, why)
            for path, why in found.unreadable:
                log.error("cannot read %s: %s", path, why)
            for path in found.files:
                with make_session(engine) as session:
                    try:
                        summary = pipeline.ingest_file(session, settings, path, fire_time)
                        session.commit()
                        log.info("%s: new %d updated %d quarantined %d", path.name, summary.new,
                                 summary.updated, summary.quarantined)
                    except RiskwatchError as exc:
                        session.rollback()
                        log.error("cannot read %s", exc)
        finally:
            engine.dispose()


def _in_store(settings: Settings, db_url: str, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction on the migrated store with the reference data loaded; committed."""
    from riskwatch.store import make_engine, make_session, upgrade_database
    from riskwatch.store.lock import writer_lock

    with writer_lock(db_url, "riskwatch job", on_wait=log.info):
        upgrade_database(db_url)
        engine = make_engine(db_url)
        try:
            with make_session(engine) as session:
                pipeline.prepare_store(session, settings)
                out = work(session)
                session.commit()
                return out
        finally:
            engine.dispose()


def forecast_volumes(settings: Settings, db_url: str, freq: str, fire_time: datetime) -> None:
    """Forecast every series as of the start of the fire day (Monday: weekly; the 1st: monthly)."""
    import pandas as pd

    as_of = pd.Timestamp(fire_time).normalize()
    summary = _in_store(settings, db_url,
                        lambda session: pipeline.run_forecast(session, settings, as_of, freq, fire_time))
    log.info("forecast %s as of %s: %d series, models %s", freq, as_of.date(), summary.series, summary.models)


def detect_signals(settings: Settings, db_url: str, fire_time: datetime, freq: str = "W") -> None:
    """Score the last week (month) of every series and update the signals, as of the start of the fire day
    (Monday, or the 1st, after the forecast, so that the forecast made before the period is there)."""
    import pandas as pd

    as_of = pd.Timestamp(fire_time).normalize()
    summary = _in_store(settings, db_url,
                        lambda session: pipeline.run_detect(session, settings, as_of, fire_time, freq))
    live = summary.states.loc[summary.states["status"] != "closed"]
    log.info("detect %s as of %s (period %s): %d open signals, %d new", freq, as_of.date(),
             summary.period.date(), len(live), int((live["status"] == "opened").sum()))


def resolve_persons(settings: Settings, db_url: str, fire_time: datetime, full: bool = False) -> None:
    """Match the parties ingested since the last run against the known persons (daily, after the ingest),
    or re-fit and re-resolve everything (``full``: the 1st of the month); repeats and groups follow."""
    summary = _in_store(settings, db_url, lambda session: pipeline.run_persons(session, settings, fire_time, full))
    log.info("persons (%s): %d records resolved, %d persons, %d merged, %d groups", summary.mode, summary.resolved,
             summary.persons, summary.merged, summary.groups)


def follow_ledger(settings: Settings, db_url: str, fire_time: datetime) -> None:
    """The risk ledger as of the fire time (daily, after the Monday detect run on Mondays): new items from the
    latest weekly signals, grades raised, deadlines followed, owners named for the items confirmed since."""
    from riskwatch.pipeline.ledger import run_ledger

    summary = _in_store(settings, db_url, lambda session: run_ledger(session, settings, fire_time))
    kinds = summary.events["kind"].value_counts().to_dict()
    log.info("ledger as of %s: %d items, events %s", fire_time, len(summary.items), kinds)


def build_scheduler(settings: Settings, db_url: str, inbox: Path) -> BlockingScheduler:
    """The scheduler with riskwatch's jobs, in the city's time zone."""
    scheduler = BlockingScheduler(timezone=settings.timezone,
                                  job_defaults={"coalesce": True, "max_instances": 1,
                                                "misfire_grace_time": 3600})

    def add(job_id: str, name: str, cron: CronTrigger, work: Callable[[datetime], None]) -> None:
        """A job that runs ``work`` with its fire time (the city's wall clock, to the minute)."""
        def run() -> None:
            work(datetime.now(cron.timezone).replace(tzinfo=None, second=0, microsecond=0))

        scheduler.add_job(run, cron, id=job_id, name=name, replace_existing=True)

    def at(**when: object) -> CronTrigger:
        return CronTrigger(timezone=settings.timezone, **when)

    add("ingest_inbox", "daily ingest of the export inbox", at(hour=1, minute=30),
        lambda fire: ingest_inbox(settings, db_url, inbox, fire))
    add("persons_daily", "persons, repeats and groups (new records)", at(hour=2, minute=0),
        lambda fire: resolve_persons(settings, db_url, fire, False))
    add("persons_monthly_full", "persons, repeats and groups (full)", at(day=1, hour=2, minute=30),
        lambda fire: resolve_persons(settings, db_url, fire, True))
    for freq, name, when in (("W", "weekly", {"day_of_week": "mon", "hour": 3, "minute": 0}),
                             ("M", "monthly", {"day": 1, "hour": 3, "minute": 30})):
        add(f"forecast_{name}", f"forecast of every series ({freq})", at(**when),
            lambda fire, freq=freq: forecast_volumes(settings, db_url, freq, fire))
    for freq, name, when in (("W", "weekly", {"day_of_week": "mon", "hour": 4, "minute": 0}),
                             ("M", "monthly", {"day": 1, "hour": 4, "minute": 30})):
        add(f"detect_{name}", f"spike and case signals of the last period ({freq})", at(**when),
            lambda fire, freq=freq: detect_signals(settings, db_url, fire, freq))
    add("ledger_daily", "risk ledger: grades, owners, deadlines", at(hour=5, minute=0),
        lambda fire: follow_ledger(settings, db_url, fire))
    return scheduler
