"""events: real-world events above stories (events, event_posts, event_terms), incidents that
follow them (incidents.event_id, merged_into; alerts.incident_id)

Revision ID: 0008
Revises: 0007

Posts stored before this revision have no event: `jingyu events rebuild` groups them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('title_post_id', Id, nullable=True),
    sa.Column('title_score', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', sa.String(length=100), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('stories', sa.Integer(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('has_official_post', sa.Boolean(), nullable=False),
    sa.Column('official_first_at', sa.DateTime(), nullable=True),
    sa.Column('merged_into', Id, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index('ix_events_last_seen', 'events', ['last_seen'], unique=False)
    op.create_table('event_posts',
    sa.Column('post_id', Id, nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('shared', sa.JSON(), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'],
                            name=op.f('fk_event_posts_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_event_posts'))
    )
    op.create_index('ix_event_posts_event_id', 'event_posts', ['event_id'], unique=False)
    op.create_table('event_terms',
    sa.Column('term', sa.String(length=100), nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('posts', sa.Integer(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('term', 'event_id', name=op.f('pk_event_terms'))
    )
    op.create_index('ix_event_terms_term_seen', 'event_terms', ['term', 'last_seen'],
                    unique=False)
    op.create_index('ix_event_terms_event_id', 'event_terms', ['event_id'], unique=False)
    # Plain ADD COLUMNs: SQLite keeps the 0003 views.
    op.add_column('incidents', sa.Column('event_id', Id, nullable=True))
    op.add_column('incidents', sa.Column('merged_into', Id, nullable=True))
    op.create_index('ix_incidents_event_id', 'incidents', ['event_id'], unique=False)
    op.add_column('alerts', sa.Column('incident_id', Id, nullable=True))
    op.create_index('ix_alerts_incident_id', 'alerts', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_incident_id', table_name='alerts')
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('incident_id')
    op.drop_index('ix_incidents_event_id', table_name='incidents')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('merged_into')
        batch.drop_column('event_id')
    op.drop_index('ix_event_terms_event_id', table_name='event_terms')
    op.drop_index('ix_event_terms_term_seen', table_name='event_terms')
    op.drop_table('event_terms')
    op.drop_index('ix_event_posts_event_id', table_name='event_posts')
    op.drop_table('event_posts')
    op.drop_index('ix_events_last_seen', table_name='events')
    op.drop_table('events')
