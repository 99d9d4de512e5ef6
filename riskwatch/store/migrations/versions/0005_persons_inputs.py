"""persons runs record their inputs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 (written by hand; `tests/test_store.py` compares it with models.py)

``persons_runs.inputs``: the digests of what a persons run read, so that a re-run with nothing new can
see that and stop (issue 12). Runs before this revision have none, and the next run does the work.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('persons_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inputs', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('persons_runs', schema=None) as batch_op:
        batch_op.drop_column('inputs')
