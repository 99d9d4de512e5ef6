"""Commands of the store's schema: ``riskwatch db upgrade``."""

from __future__ import annotations

import click

from riskwatch.cli import Context, _safe_url, cli, pass_ctx


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to the newest version (Alembic)."""
    with ctx.store() as session:
        session.commit()
    click.echo(f"database ready: {_safe_url(ctx.db_url)}")
