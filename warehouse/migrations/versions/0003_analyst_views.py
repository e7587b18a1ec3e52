"""analyst views: the post_topics bridge (backfilled), a BRIN index on PostgreSQL, SQL views

Revision ID: 0003
Revises: 0002

Views show Asia/Shanghai time by adding eight hours to the stored UTC, on both databases: China
has kept UTC+8 without summer time since 1991, and the addition is cheaper than a zone lookup.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

VIEWS = ("v_posts_local", "v_volume_hourly", "v_volume_daily", "v_topic_volume_hourly",
         "v_topic_volume_daily", "v_stories_by_hash", "v_incident_sync", "v_source_health")


def _local(pg: bool, column: str) -> str:
    if pg:
        return f"({column} + interval '8 hours')"
    return f"datetime({column}, '+8 hours')"


def _hour(pg: bool, column: str) -> str:
    if pg:
        return f"date_trunc('hour', {_local(pg, column)})"
    return f"strftime('%Y-%m-%d %H:00:00', {column}, '+8 hours')"


def _day(pg: bool, column: str) -> str:
    if pg:
        return f"CAST({_local(pg, column)} AS date)"
    return f"date({column}, '+8 hours')"


def _minutes(pg: bool, later: str, earlier: str) -> str:
    if pg:
        return f"ROUND(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) / 60 AS numeric), 1)"
    return f"ROUND((julianday({later}) - julianday({earlier})) * 1440, 1)"


def _day_ago(pg: bool) -> str:
    return "timezone('UTC', now()) - interval '24 hours'" if pg else "datetime('now', '-24 hours')"


BRIDGE = "post_id, seen_at, source_id, jurisdiction, polarity, police_related, topic_id"
COPIED = "p.id, p.seen_at, p.source_id, p.jurisdiction, p.polarity, p.police_related"
NEGATIVE = "SUM(CASE WHEN p.polarity = 'negative' THEN 1 ELSE 0 END)"
POLICE = "SUM(CASE WHEN p.police_related THEN 1 ELSE 0 END)"


def _views(pg: bool) -> dict[str, str]:
    volume = (f"COUNT(*) AS posts, {NEGATIVE} AS negative, "
              f"ROUND(1.0 * {NEGATIVE} / COUNT(*), 3) AS negative_share, "
              f"{POLICE} AS police_related")
    track = ("LEFT JOIN incident_tracks t_{0} ON t_{0}.incident_id = i.id "
             "AND t_{0}.track = '{0}'")
    return {
        "v_posts_local": f"""
            SELECT p.id AS post_id, p.source_id, p.jurisdiction, p.content_hash,
                   {_local(pg, 'p.seen_at')} AS seen_local, {_day(pg, 'p.seen_at')} AS day_local,
                   p.police_related, p.polarity, p.sentiment, p.high_risk, p.title, p.url
            FROM posts p""",
        "v_volume_hourly": f"""
            SELECT {_hour(pg, 'p.seen_at')} AS hour_local, p.jurisdiction, p.source_id, {volume}
            FROM posts p
            GROUP BY {_hour(pg, 'p.seen_at')}, p.jurisdiction, p.source_id""",
        "v_volume_daily": f"""
            SELECT {_day(pg, 'p.seen_at')} AS day_local, p.jurisdiction, p.source_id, {volume}
            FROM posts p
            GROUP BY {_day(pg, 'p.seen_at')}, p.jurisdiction, p.source_id""",
        "v_topic_volume_hourly": f"""
            SELECT {_hour(pg, 'p.seen_at')} AS hour_local, p.topic_id, p.jurisdiction,
                   p.source_id, {volume}
            FROM post_topics p
            GROUP BY {_hour(pg, 'p.seen_at')}, p.topic_id, p.jurisdiction, p.source_id""",
        "v_topic_volume_daily": f"""
            SELECT {_day(pg, 'p.seen_at')} AS day_local, p.topic_id, p.jurisdiction,
                   p.source_id, {volume}
            FROM post_topics p
            GROUP BY {_day(pg, 'p.seen_at')}, p.topic_id, p.jurisdiction, p.source_id""",
        # Provisional stories: exact content_hash groups, until story clustering (issue 3)
        # gives a stories table; then this view is replaced and its users keep working.
        "v_stories_by_hash": f"""
            SELECT p.content_hash AS story_key, COUNT(*) AS posts, {NEGATIVE} AS negative,
                   COUNT(DISTINCT p.source_id) AS sources, MIN(p.id) AS first_post_id,
                   {_local(pg, 'MIN(p.seen_at)')} AS first_seen_local,
                   {_local(pg, 'MAX(p.seen_at)')} AS last_seen_local
            FROM posts p
            GROUP BY p.content_hash""",
        "v_incident_sync": f"""
            SELECT i.id AS incident_id, i.level, i.kind, i.title, i.jurisdiction, i.status,
                   i.sensitive, {_local(pg, 'i.opened_at')} AS opened_local,
                   {_minutes(pg, 'i.acknowledged_at', 'i.opened_at')} AS ack_minutes,
                   {_minutes(pg, 'i.official_statement_at', 'i.opened_at')} AS statement_minutes,
                   {_minutes(pg, 'i.progress_at', 'i.opened_at')} AS progress_minutes,
                   {_minutes(pg, 'i.resolved_at', 'i.opened_at')} AS resolved_minutes,
                   {_minutes(pg, 't_legal.started_at', 'i.opened_at')} AS legal_start_minutes,
                   {_minutes(pg, 't_opinion.started_at', 'i.opened_at')} AS opinion_start_minutes,
                   {_minutes(pg, 't_control.started_at', 'i.opened_at')} AS control_start_minutes,
                   i.official_post_id
            FROM incidents i {track.format('legal')} {track.format('opinion')}
                 {track.format('control')}""",
        "v_source_health": f"""
            SELECT s.id AS source_id, s.name, s.kind, s.jurisdiction, s.enabled,
                   s.consecutive_failures, {_local(pg, 's.last_success_at')} AS last_success_local,
                   {_local(pg, 's.last_new_post_at')} AS last_new_post_local, s.last_error,
                   (SELECT COUNT(*) FROM posts p WHERE p.source_id = s.id
                      AND p.fetched_at >= {_day_ago(pg)}) AS posts_24h
            FROM sources s""",
    }


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table('post_topics',
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic_id', sa.String(length=100), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('jurisdiction', sa.String(length=100), nullable=True),
    sa.Column('polarity', sa.String(length=10), nullable=False),
    sa.Column('police_related', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_topics_post_id_posts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'topic_id', name=op.f('pk_post_topics'))
    )
    # Backfill from the JSON arrays of the posts already stored.
    if pg:
        op.execute(f"INSERT INTO post_topics ({BRIDGE}) "
                   f"SELECT DISTINCT {COPIED}, t.value FROM posts p "
                   "CROSS JOIN LATERAL json_array_elements_text(p.topics) AS t(value)")
    else:
        op.execute(f"INSERT OR IGNORE INTO post_topics ({BRIDGE}) "
                   f"SELECT {COPIED}, j.value FROM posts p, json_each(p.topics) j")
    with op.batch_alter_table('post_topics', schema=None) as batch_op:
        batch_op.create_index('ix_post_topics_topic_seen', ['topic_id', 'seen_at'], unique=False)
        batch_op.create_index('ix_post_topics_seen_at', ['seen_at'], unique=False)
    if pg:
        # BRIN: tiny, and posts arrive in seen_at order, so it serves archiving scans of
        # months; the btree ix_posts_seen_at stays for the short windows of named queries.
        op.execute("CREATE INDEX ix_posts_seen_at_brin ON posts USING brin (seen_at)")
    for name, body in _views(pg).items():
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    if pg:
        op.execute("DROP INDEX IF EXISTS ix_posts_seen_at_brin")
    with op.batch_alter_table('post_topics', schema=None) as batch_op:
        batch_op.drop_index('ix_post_topics_seen_at')
        batch_op.drop_index('ix_post_topics_topic_seen')
    op.drop_table('post_topics')
