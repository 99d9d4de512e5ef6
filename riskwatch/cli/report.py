"""Commands of the reports: ``riskwatch report monthly`` and ``riskwatch report weekly``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from riskwatch.cli import Context, _fail, cli, pass_ctx

if TYPE_CHECKING:
    from riskwatch.report.output import ReportFiles

REPORTS_DIR = Path("reports")


@cli.group()
def report() -> None:
    """Write the monthly risk-warning report or the Monday briefing (PDF + HTML + XLSX annex)."""


def _as_of(period: pd.Period, as_of: datetime | None) -> pd.Timestamp:
    from riskwatch.pipeline.report import default_as_of

    if as_of is None:
        return default_as_of(period)
    return pd.Timestamp(as_of) + pd.Timedelta(hours=23, minutes=59, seconds=59)


@report.command()
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Show what was known at the end of this day (default: the month's end).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=REPORTS_DIR, show_default=True,
              help="Folder to write into.")
@pass_ctx
def monthly(ctx: Context, month: str, as_of: datetime | None, out: Path) -> None:
    """The monthly risk-warning report (月度风险预警报告) of a month: overview, next month's forecast, the
    month's signals, repeat petitioners and groups, the ledger, sensitive periods, recommendations."""
    try:
        period = pd.Period(month, "M")
    except ValueError:
        _fail(ValueError(f"--month {month!r}: expected YYYY-MM"))
        return
    _echo_files(write_monthly(ctx, period, _as_of(period, as_of), out))


@report.command()
@click.option("--week", required=True, help="ISO week YYYY-Www, e.g. 2026-W47")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Show what was known at the end of this day (default: the Monday after the week, the meeting's day).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=REPORTS_DIR, show_default=True,
              help="Folder to write into.")
@pass_ctx
def weekly(ctx: Context, week: str, as_of: datetime | None, out: Path) -> None:
    """The Monday briefing (每周风险研判简报) of an ISO week: what changed, new and escalated red and yellow
    items with owners, the week's spikes, the coming weeks' forecast, the sensitive dates ahead."""
    try:
        period = iso_week(week)
    except ValueError as exc:
        _fail(exc)
        return
    _echo_files(write_weekly(ctx, period, _as_of(period, as_of), out))


def iso_week(text: str) -> pd.Period:
    """``2026-W47`` -> the week (Monday to Sunday) as a ``W-SUN`` period."""
    try:
        monday = datetime.strptime(text.strip().upper() + "-1", "%G-W%V-%u")
    except ValueError:
        raise ValueError(f"--week {text!r}: expected an ISO week YYYY-Www, e.g. 2026-W47") from None
    return pd.Period(monday, "W-SUN")


def write_monthly(ctx: Context, month: pd.Period, as_of: pd.Timestamp, out: Path) -> ReportFiles:
    from riskwatch.pipeline.report import write_monthly_report

    with ctx.session() as session:
        return write_monthly_report(session, ctx.settings, month, as_of, out)


def write_weekly(ctx: Context, week: pd.Period, as_of: pd.Timestamp, out: Path) -> ReportFiles:
    from riskwatch.pipeline.report import write_weekly_briefing

    with ctx.session() as session:
        return write_weekly_briefing(session, ctx.settings, week, as_of, out)


def _echo_files(files: ReportFiles) -> None:
    for kind, path in (("pdf", files.pdf), ("html", files.html), ("xlsx", files.xlsx)):
        click.echo(f"  {kind:5} {Path(path).resolve()}")
