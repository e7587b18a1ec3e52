"""robot_posts: chat robots' posts, so every process spends one rate budget

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('robot_posts',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('posted_at', sa.DateTime(), nullable=False),
    sa.Column('origin', sa.String(length=100), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_robot_posts'))
    )
    op.create_index('ix_robot_posts_channel_at', 'robot_posts', ['channel', 'posted_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_robot_posts_channel_at', table_name='robot_posts')
    op.drop_table('robot_posts')
