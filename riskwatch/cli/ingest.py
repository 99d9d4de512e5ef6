"""Commands of ingest: ``riskwatch ingest`` (exports into the store) and ``riskwatch quarantine``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from riskwatch import pipeline
from riskwatch.cli import Context, cli, pass_ctx
from riskwatch.schema import RiskwatchError


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", default=None, help="Mapping name (config/mappings/NAME.toml); detected when omitted.")
@pass_ctx
def ingest(ctx: Context, paths: tuple[Path, ...], source: str | None) -> None:
    """Read CSV/XLSX exports (files or folders) into the store; bad rows are quarantined.

    Exits non-zero only when a file cannot be read at all.
    """
    failed = _ingest(ctx, list(paths), source)
    if failed:
        sys.exit(1)


def _ingest(ctx: Context, paths: list[Path], source: str | None) -> int:
    from riskwatch.ingest.refs import build_refs

    settings = ctx.settings
    failed = 0
    totals = pipeline.FileSummary(file="合计 total")
    with ctx.store() as session:
        refs = build_refs(settings)
        session.commit()
        found = pipeline.expand_paths(paths)
        for path, why in found.ignored + found.other:
            click.echo(f"跳过 skipped: {path}: {why}")
        for path, why in found.unreadable:
            failed += 1
            click.echo(f"无法读取 cannot read: {path}: {why}", err=True)
        for path in found.files:
            try:
                s = pipeline.ingest_file(session, settings, path, datetime.now(), source, refs)
                session.commit()
            except RiskwatchError as exc:
                session.rollback()
                failed += 1
                click.echo(f"无法读取 cannot read: {exc}", err=True)
                continue
            _echo_summary(s)
            for k in ("read", "new", "updated", "unchanged", "older", "quarantined", "blank"):
                setattr(totals, k, getattr(totals, k) + getattr(s, k))
            totals.notes.update(s.notes)
    click.echo(f"{'合计 total':<40} read {totals.read}  new {totals.new}  updated {totals.updated}  "
               f"unchanged {totals.unchanged}  older {totals.older}  quarantined {totals.quarantined}  "
               f"blank {totals.blank}")
    for note, n in sorted(totals.notes.items(), key=lambda kv: -kv[1])[:12]:
        click.echo(f"    note  {n:>7}  {note}")
    if failed:
        click.echo(f"{failed} file(s) could not be read", err=True)
    return failed


def _echo_summary(s: pipeline.FileSummary) -> None:
    click.echo(f"{Path(s.file).name:<40} read {s.read}  new {s.new}  updated {s.updated}  "
               f"unchanged {s.unchanged}  older {s.older}  quarantined {s.quarantined}  blank {s.blank}  "
               f"[{s.source}, {s.encoding}]")
    for problem in s.problems:
        click.echo(f"    quarantined  {problem}")
    if s.quarantined > len(s.problems):
        click.echo(f"    ... {s.quarantined - len(s.problems)} more: riskwatch quarantine")


@cli.command()
@click.option("--limit", type=int, default=50, show_default=True)
@pass_ctx
def quarantine(ctx: Context, limit: int) -> None:
    """List quarantined rows: file, row, field and reason (the raw row stays in the store)."""
    from riskwatch.store import load_quarantine

    with ctx.session() as session:
        q = load_quarantine(session)
    click.echo(f"{len(q)} quarantined row(s)")
    for r in q.head(limit).itertuples():
        click.echo(f"  {r.file_name}: row {r.row_number}: {r.field}: {r.reason}")
