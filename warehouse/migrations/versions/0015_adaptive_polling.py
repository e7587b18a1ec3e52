"""adaptive polling: per-source bounds and the current interval

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sources', sa.Column('poll_min_minutes', sa.Integer(), nullable=True))
    op.add_column('sources', sa.Column('poll_max_minutes', sa.Integer(), nullable=True))
    op.add_column('sources', sa.Column('poll_minutes_now', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        for column in ('poll_minutes_now', 'poll_max_minutes', 'poll_min_minutes'):
            batch.drop_column(column)
