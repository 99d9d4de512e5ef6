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

    upgrade_database(db_url)
    engine = make_engine(db_url)
    try:
        for path in pipeline.expand_paths([inbox]):
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


def build_scheduler(settings: Settings, db_url: str, inbox: Path) -> BlockingScheduler:
    """The scheduler with riskwatch's jobs, in the city's time zone."""
    scheduler = BlockingScheduler(timezone=settings.timezone,
                                  job_defaults={"coalesce": True, "max_instances": 1,
                                                "misfire_grace_time": 3600})
    trigger = CronTrigger(hour=1, minute=30, timezone=settings.timezone)

    def run_ingest() -> None:
        fire = datetime.now(trigger.timezone).replace(tzinfo=None, second=0, microsecond=0)
        ingest_inbox(settings, db_url, inbox, fire)

    scheduler.add_job(run_ingest, trigger, id="ingest_inbox", name="daily ingest of the export inbox",
                      replace_existing=True)
    for full, job_id, cron in ((False, "persons_daily", CronTrigger(hour=2, minute=0, timezone=settings.timezone)),
                               (True, "persons_monthly_full", CronTrigger(day=1, hour=2, minute=30,
                                                                          timezone=settings.timezone))):
        def run_persons(full: bool = full, cron: CronTrigger = cron) -> None:
            fire = datetime.now(cron.timezone).replace(tzinfo=None, second=0, microsecond=0)
            resolve_persons(settings, db_url, fire, full)

        scope = "full" if full else "new records"
        scheduler.add_job(run_persons, cron, id=job_id, name=f"persons, repeats and groups ({scope})",
                          replace_existing=True)
    for freq, job_id, cron in (("W", "forecast_weekly", CronTrigger(day_of_week="mon", hour=3, minute=0,
                                                                     timezone=settings.timezone)),
                               ("M", "forecast_monthly", CronTrigger(day=1, hour=3, minute=30,
                                                                      timezone=settings.timezone))):
        def run_forecast(freq: str = freq, cron: CronTrigger = cron) -> None:
            fire = datetime.now(cron.timezone).replace(tzinfo=None, second=0, microsecond=0)
            forecast_volumes(settings, db_url, freq, fire)

        scheduler.add_job(run_forecast, cron, id=job_id, name=f"forecast of every series ({freq})",
                          replace_existing=True)
    for freq, job_id, cron in (("W", "detect_weekly", CronTrigger(day_of_week="mon", hour=4, minute=0,
                                                                   timezone=settings.timezone)),
                               ("M", "detect_monthly", CronTrigger(day=1, hour=4, minute=30,
                                                                    timezone=settings.timezone))):
        def run_detect(freq: str = freq, cron: CronTrigger = cron) -> None:
            fire = datetime.now(cron.timezone).replace(tzinfo=None, second=0, microsecond=0)
            detect_signals(settings, db_url, fire, freq)

        scheduler.add_job(run_detect, cron, id=job_id, name=f"spike and case signals of the last period ({freq})",
                          replace_existing=True)
    return scheduler
