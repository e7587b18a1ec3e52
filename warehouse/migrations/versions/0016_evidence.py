"""evidence (固证): each incident post's page kept once as a WARC file, its SHA-256 and time

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'evidence',
        sa.Column('id', Id, primary_key=True, autoincrement=True),
        sa.Column('post_id', Id, nullable=False),
        sa.Column('incident_id', Id, nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('warc_sha256', sa.String(length=64), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('path', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.UniqueConstraint('post_id', name='uq_evidence_post_id'),
    )
    op.create_index('ix_evidence_incident_id', 'evidence', ['incident_id'])


def downgrade() -> None:
    op.drop_index('ix_evidence_incident_id', table_name='evidence')
    op.drop_table('evidence')
