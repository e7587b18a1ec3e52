"""post threads: where a post was published, its counts, and the post it comments on or reposts

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Added columns, no table rebuild: SQLite keeps the 0003 views on posts.
    op.add_column('posts', sa.Column('platform', sa.String(length=40), nullable=True))
    op.add_column('posts', sa.Column('reposts', sa.Integer(), nullable=True))
    op.add_column('posts', sa.Column('comments', sa.Integer(), nullable=True))
    op.add_column('posts', sa.Column('likes', sa.Integer(), nullable=True))
    op.add_column('posts', sa.Column('parent_external_id', sa.String(length=500), nullable=True))
    op.add_column('posts', sa.Column('relation', sa.String(length=10), nullable=True))
    op.add_column('posts', sa.Column('parent_id', Id, nullable=True))
    op.create_index('ix_posts_parent_id', 'posts', ['parent_id'])
    op.create_index('ix_posts_source_parent_external', 'posts',
                    ['source_id', 'parent_external_id'])


def downgrade() -> None:
    op.drop_index('ix_posts_source_parent_external', table_name='posts')
    op.drop_index('ix_posts_parent_id', table_name='posts')
    with op.batch_alter_table('posts') as batch:
        for column in ('parent_id', 'relation', 'parent_external_id', 'likes', 'comments',
                       'reposts', 'platform'):
            batch.drop_column(column)
