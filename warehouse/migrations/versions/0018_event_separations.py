"""event_separations: human splits the grouping must respect; event_posts.apart: the events a
post stayed out of because of one

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('event_separations',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('apart_from', Id, nullable=False),
    sa.Column('incident_id', Id, nullable=True),
    sa.Column('split_incident_id', Id, nullable=True),
    sa.Column('posts', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_separations'))
    )
    op.create_index('ix_event_separations_event_id', 'event_separations', ['event_id'],
                    unique=False)
    op.create_index('ix_event_separations_apart_from', 'event_separations', ['apart_from'],
                    unique=False)
    # A plain ADD COLUMN: SQLite keeps its views.
    op.add_column('event_posts', sa.Column('apart', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event_posts') as batch:
        batch.drop_column('apart')
    op.drop_index('ix_event_separations_apart_from', table_name='event_separations')
    op.drop_index('ix_event_separations_event_id', table_name='event_separations')
    op.drop_table('event_separations')
