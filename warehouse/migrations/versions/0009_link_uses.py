"""link_uses: one-tap 签收 links already used (each acts once)

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('link_uses',
    sa.Column('link_id', sa.String(length=32), nullable=False),
    sa.Column('incident_id', Id, nullable=False),
    sa.Column('recipient', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                            name=op.f('fk_link_uses_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('link_id', name=op.f('pk_link_uses'))
    )


def downgrade() -> None:
    op.drop_table('link_uses')
