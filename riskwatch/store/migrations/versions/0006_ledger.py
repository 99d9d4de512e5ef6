"""the risk ledger

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 (written by hand; `tests/test_store.py` compares it with models.py)

``risk_items`` (the ledger as it stands), ``risk_item_events`` (its append-only history) and
``ledger_runs`` (one per as-of date), issue 13.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('detect_run_id', sa.Integer(), nullable=True),
    sa.Column('items', sa.Integer(), server_default='0', nullable=False),
    sa.Column('events', sa.Integer(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_runs')),
    sa.UniqueConstraint('as_of', name=op.f('uq_ledger_runs_as_of'))
    )
    op.create_table('risk_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_key', sa.String(length=255), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=255), nullable=False),
    sa.Column('category_code', sa.String(length=64), nullable=True),
    sa.Column('region_code', sa.String(length=64), nullable=True),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('renotified', sa.Boolean(), nullable=False),
    sa.Column('override_grade', sa.String(length=8), nullable=True),
    sa.Column('override_score', sa.Float(), nullable=True),
    sa.Column('override_basis', sa.String(length=8), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('case_keys', sa.Text(), nullable=False),
    sa.Column('chain', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('sentence', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_items')),
    sa.UniqueConstraint('item_key', name=op.f('uq_risk_items_item_key'))
    )
    with op.batch_alter_table('risk_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_items_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_items_status'), ['status'], unique=False)

    op.create_table('risk_item_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_key', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_item_events'))
    )
    with op.batch_alter_table('risk_item_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_item_events_item_key_at'), ['item_key', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('risk_item_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_item_events_item_key_at'))
    op.drop_table('risk_item_events')
    with op.batch_alter_table('risk_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_items_status'))
        batch_op.drop_index(batch_op.f('ix_risk_items_owner_id'))
    op.drop_table('risk_items')
    op.drop_table('ledger_runs')
