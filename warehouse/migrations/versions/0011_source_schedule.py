"""sources.last_scheduled_at: the scheduled start of the cycle that last fetched each source

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sources fetched before keep NULL and count from last_attempt_at until their next fetch.
    op.add_column('sources', sa.Column('last_scheduled_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('last_scheduled_at')
