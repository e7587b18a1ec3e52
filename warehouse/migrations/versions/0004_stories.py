"""stories: near-duplicate clusters (stories), posts' band keys (post_bands), posts.story_id

Revision ID: 0004
Revises: 0003

Posts stored before this revision have no story: `jingyu rescore` joins them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('representative_post_id', Id, nullable=True),
    sa.Column('has_official_post', sa.Boolean(), nullable=False),
    sa.Column('official_first_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    op.create_index('ix_stories_last_seen', 'stories', ['last_seen'], unique=False)
    op.create_table('post_bands',
    sa.Column('band_key', sa.BigInteger(), nullable=False),
    sa.Column('post_id', Id, nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_bands_post_id_posts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('band_key', 'post_id', name=op.f('pk_post_bands'))
    )
    op.create_index('ix_post_bands_post_id', 'post_bands', ['post_id'], unique=False)
    # A plain ADD COLUMN (no foreign key): SQLite would otherwise rebuild posts, which the
    # views of 0003 depend on.
    op.add_column('posts', sa.Column('story_id', Id, nullable=True))
    op.create_index('ix_posts_story_seen', 'posts', ['story_id', 'seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_posts_story_seen', table_name='posts')
    op.drop_column('posts', 'story_id')
    op.drop_index('ix_post_bands_post_id', table_name='post_bands')
    op.drop_table('post_bands')
    op.drop_index('ix_stories_last_seen', table_name='stories')
    op.drop_table('stories')
