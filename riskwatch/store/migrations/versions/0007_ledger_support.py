"""risk items record the last run that supported their grade

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 (written by hand; `tests/test_store.py` compares it with models.py)

``risk_items.supported_at``: the last run whose computed grade reached the grade held, and ``since_grade``:
the highest grade computed since. A red or yellow item no run has supported for four weeks is proposed for
review (``assign.lifecycle.stale_grades``). Items from before this revision count from their last update.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supported_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('since_grade', sa.String(length=8), nullable=True))
    op.execute("UPDATE risk_items SET supported_at = updated_at")


def downgrade() -> None:
    with op.batch_alter_table('risk_items', schema=None) as batch_op:
        batch_op.drop_column('since_grade')
        batch_op.drop_column('supported_at')
