"""runs.owner and runs.due: which process runs a cycle and which sources were due in it

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # owner: "host:pid:start" of the process, so the next cycle can tell that a 'running'
    # run's process is gone and settle it at once; due: the ids of the sources due in the run,
    # so every one of them is accounted for (stored, failed or not stored).
    op.add_column('runs', sa.Column('owner', sa.String(length=200), nullable=True))
    op.add_column('runs', sa.Column('due', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('due')
        batch.drop_column('owner')
