"""The synthetic city and the demo: ``riskwatch synth`` and ``riskwatch demo`` (every use case in turn)."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import pandas as pd

from riskwatch import pipeline
from riskwatch.cli import Context, _safe_url, cli, pass_ctx
from riskwatch.cli.detect import _print_signals
from riskwatch.cli.forecast import _forecast_store, _print_forecast_digest
from riskwatch.cli.ingest import _ingest
from riskwatch.cli.persons import _persons_store
from riskwatch.cli.stats import _print_stats

DEMO_DIR = Path("var/demo")


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the exports and ground truth into.")
@click.option("--years", type=click.IntRange(1, 30), default=5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of the history (default: the end of last month).")
@click.option("--scale", type=click.FloatRange(0, 20, min_open=True), default=1.0, show_default=True,
              help="Volume multiplier.")
@pass_ctx
def synth(ctx: Context, out: Path, years: int, seed: int, end: datetime | None, scale: float) -> None:
    """Write a synthetic city's exports (both sources, both encodings, XLSX) and its ground truth."""
    from riskwatch.synth import generate_city

    end_day = end.date() if end else _last_month_end(date.today())
    summary = generate_city(ctx.settings, out, years=years, seed=seed, end=end_day, scale=scale)
    click.echo(f"synthetic city written to {out}: {summary}")


def _last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DIR, show_default=True)
@click.option("--years", type=click.IntRange(1, 30), default=5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--scale", type=click.FloatRange(0, 20, min_open=True), default=1.0, show_default=True)
@pass_ctx
def demo(ctx: Context, out: Path, years: int, seed: int, scale: float) -> None:
    """Create the synthetic city, ingest it into the store, print the last month's figures, forecast
    the coming weeks, resolve persons (top repeat petitioners and largest groups, masked), show the
    signals of the latest week, grade them into the risk ledger and write the leaders' lists."""
    from riskwatch.synth import generate_city

    clock = _StepClock()
    end_day = _last_month_end(date.today())
    click.echo(f"1/8 synthesizing {years} years of {ctx.settings.city_name} up to {end_day} into {out} ...")
    summary = generate_city(ctx.settings, out, years=years, seed=seed, end=end_day, scale=scale)
    click.echo(f"    {summary}{clock.lap()}")
    click.echo(f"2/8 ingesting into {_safe_url(ctx.db_url)} ...")
    sources = [out / name for name in sorted(ctx.settings.mappings) if (out / name).is_dir()]
    updates = out / "updates"
    failed = _ingest(ctx, sources + ([updates] if updates.is_dir() else []), None)
    click.echo(clock.lap().strip())
    month = pd.Period(end_day, "M")
    click.echo(f"3/8 figures of {month}:")
    _print_stats(ctx, month, pd.Timestamp(end_day) + pd.Timedelta(hours=23, minutes=59, seconds=59))
    click.echo(clock.lap().strip())
    click.echo("\n4/8 forecasting every category x area series, weekly ...")
    as_of = datetime.combine(end_day + timedelta(days=1), datetime.min.time())
    forecast = _forecast_store(ctx, as_of, "W", None, "wls", None)
    _print_forecast_digest(ctx, forecast)
    click.echo(clock.lap().strip())
    click.echo("\n5/8 resolving persons, repeat petitions and groups ...")
    _persons_store(ctx, full=True)
    click.echo(clock.lap().strip())
    click.echo(f"\n6/8 detecting spikes and rises, week by week over the last {DEMO_DETECT_WEEKS} weeks "
               "(signals carry over from one week to the next) ...")
    _demo_detect(ctx, pd.Timestamp(as_of))
    click.echo(clock.lap().strip())
    click.echo("\n7/8 the risk ledger: grades, owners, deadlines, and the leaders' lists ...")
    lists = _demo_ledger(ctx, as_of)
    click.echo(clock.lap().strip())
    click.echo(f"\n8/8 the monthly report of {month} and the briefing of the last week ...")
    reports = _demo_reports(ctx, month, pd.Timestamp(end_day))
    click.echo(clock.lap().strip())
    _print_demo_outputs(ctx, out, forecast.run_id, clock.total(), lists, reports)
    if failed:
        sys.exit(1)


class _StepClock:
    """Wall time of the demo's steps, for the user to see where the minutes go."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self) -> str:
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return f"  ({elapsed:.0f} s)"

    def total(self) -> float:
        return time.perf_counter() - self.start


def _demo_ledger(ctx: Context, as_of: datetime) -> Path:
    """The ledger of the demo's last week and its case-assignment lists; returns the lists' folder."""
    from riskwatch.cli.ledger import _echo_counts
    from riskwatch.pipeline.ledger import run_ledger, write_lists

    folder = Path("reports") / "lists" / f"{as_of:%Y-%m-%d}"
    with ctx.store() as session:
        summary = run_ledger(session, ctx.settings, as_of)
        session.commit()
        paths = write_lists(session, ctx.settings, folder, as_of)
    click.echo(f"    {len(summary.items)} risk items from {summary.signals} open signals "
               "(红色 confirmed and handed to county leaders at once; the others wait for review):")
    _echo_counts(summary.items)
    click.echo(f"    {len(paths) // 2} case-assignment lists (领导包案清单) in {folder.resolve()}/")
    return folder


def _demo_reports(ctx: Context, month: pd.Period, last_day: pd.Timestamp) -> list[Path]:
    """The last full month's report and the briefing of the last full week up to ``last_day``; their PDFs."""
    from riskwatch.cli.report import REPORTS_DIR, _echo_files, write_monthly, write_weekly
    from riskwatch.pipeline.report import default_as_of

    week = pd.Period(last_day - pd.Timedelta(days=(last_day.weekday() + 1) % 7), "W-SUN")
    monthly = write_monthly(ctx, month, default_as_of(month), REPORTS_DIR)
    _echo_files(monthly)
    weekly = write_weekly(ctx, week, default_as_of(week), REPORTS_DIR)
    _echo_files(weekly)
    return [monthly.pdf, weekly.pdf]


def _print_demo_outputs(ctx: Context, out: Path, forecast_run: int, seconds: float, lists: Path,
                        reports: list[Path]) -> None:
    """Where everything the demo made went, and the commands that open it."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and "truth" not in p.relative_to(out).parts)
    truth = out / "truth"
    click.echo(f"\n完成 done in {seconds / 60:.1f} min. 输出 outputs:")
    click.echo(f"  exports        {out.resolve()}/  ({len(files)} CSV / XLSX files, as the offices export them)")
    if truth.is_dir():
        click.echo(f"  ground truth   {truth.resolve()}/  (what the benchmarks score against)")
    click.echo(f"  store          {_store_location(ctx.db_url)}  (cases, quarantine, forecast run {forecast_run}, "
               "persons, signals, the risk ledger)")
    click.echo(f"  lists          {lists.resolve()}/  (领导包案清单, XLSX to print and CSV)")
    for path in reports:
        click.echo(f"  report         {path.resolve()}  (with .html and the .xlsx annex beside it)")
    click.echo("  look further   riskwatch items --grade red | riskwatch items show KEY | riskwatch signals | "
               f"riskwatch persons show PERSON_ID | riskwatch forecast --show W:*:{ctx.settings.regions.root} "
               "--chart city.png")


def _store_location(url: str) -> str:
    """A SQLite store's absolute file path; any other store's URL without its password."""
    from riskwatch.store.engine import sqlite_file

    db = sqlite_file(url)
    return str(db) if db is not None else _safe_url(url)


DEMO_DETECT_WEEKS = 4


def _demo_detect(ctx: Context, as_of: pd.Timestamp) -> None:
    """Weekly detect runs as of the last Mondays up to ``as_of``; the last one's signals are printed."""
    now = datetime.now().replace(microsecond=0)
    last_monday = as_of.normalize() - pd.Timedelta(days=as_of.weekday())
    mondays = [last_monday - pd.Timedelta(weeks=k) for k in range(DEMO_DETECT_WEEKS - 1, -1, -1)]
    with ctx.session() as session:
        cases = pipeline.detect_history(session, mondays[-1], since=mondays[0])  # each run reads its own as-of
        for monday in mondays:
            summary = pipeline.run_detect(session, ctx.settings, monday, now, cases=cases)
            session.commit()
    click.echo(f"detect run {summary.run_id}: week of {summary.period:%Y-%m-%d}, {summary.series} series "
               f"({summary.scored} scored, {summary.insufficient} with too little history)")
    _print_signals(summary.states, summary.period, "W")
