"""source failures named: failure class, failing since, back-off, automatic disabling

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sources', sa.Column('failure_class', sa.String(length=20), nullable=True))
    op.add_column('sources', sa.Column('failing_since', sa.DateTime(), nullable=True))
    op.add_column('sources', sa.Column('backoff_until', sa.DateTime(), nullable=True))
    op.add_column('sources', sa.Column('disabled_at', sa.DateTime(), nullable=True))
    op.add_column('sources', sa.Column('disabled_reason', sa.Text(), nullable=True))
    op.add_column('run_sources', sa.Column('failure_class', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run_sources') as batch:
        batch.drop_column('failure_class')
    with op.batch_alter_table('sources') as batch:
        for column in ('disabled_reason', 'disabled_at', 'backoff_until', 'failing_since',
                       'failure_class'):
            batch.drop_column(column)
