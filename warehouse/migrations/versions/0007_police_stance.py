"""police_stance: each police-related post's stance toward the police and its probability

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added columns, no table rebuild: SQLite keeps the 0003 views on posts. Posts stored
    # before get their stance from `jingyu rescore`.
    op.add_column('posts', sa.Column('police_stance', sa.String(length=10), nullable=True))
    op.add_column('posts', sa.Column('police_stance_p', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('posts') as batch:
        batch.drop_column('police_stance_p')
        batch.drop_column('police_stance')
