"""SQLAlchemy models of the warehouse; every timestamp is naive UTC."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A configured source, its cursor and its health."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    poll_minutes: Mapped[int] = mapped_column(Integer, default=5)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # cursor: committed in the same transaction as the posts it covers
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    seen_ids: Mapped[list[Any]] = mapped_column(default=list)
    cursor_extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # health
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the cycle that last fetched the source was scheduled to start: due-ness counts
    # from here, not from when storing ended (that made a 1-minute source every other cycle).
    last_scheduled_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_new_post_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # failures named (collectors.failures): the class of the last failure, when the current
    # run of failures began, no fetch before backoff_until, and automatic disabling (a
    # source failing hard too long) — cleared by `jingyu sources enable ID`.
    # Adaptive polling: the bounds from sources.yaml and the interval now (minutes).
    poll_min_minutes: Mapped[int | None] = mapped_column(Integer)
    poll_max_minutes: Mapped[int | None] = mapped_column(Integer)
    poll_minutes_now: Mapped[float | None] = mapped_column(Float)
    failure_class: Mapped[str | None] = mapped_column(String(20))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)
    backoff_until: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class Post(Base):
    """One collected item with its scores (the fact table)."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_posts_seen_at", "seen_at"),
        Index("ix_posts_police_polarity_seen", "police_related", "polarity", "seen_at"),
        Index("ix_posts_content_hash", "content_hash"),
        Index("ix_posts_source_fetched", "source_id", "fetched_at"),
        Index("ix_posts_story_seen", "story_id", "seen_at"),
        Index("ix_posts_source_parent_external", "source_id", "parent_external_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime)  # published_at, else fetched_at
    run_id: Mapped[int | None] = mapped_column(Id)
    content_hash: Mapped[str] = mapped_column(String(64))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    police_related: Mapped[bool] = mapped_column(Boolean, default=False)
    police_terms: Mapped[list[Any]] = mapped_column(default=list)
    sentiment: Mapped[float] = mapped_column(Float, default=0.5)
    polarity: Mapped[str] = mapped_column(String(10), default="neutral")
    # Stance toward the police (negative | neutral | positive) and its probability; NULL for
    # posts that are not police-related.
    police_stance: Mapped[str | None] = mapped_column(String(10))
    police_stance_p: Mapped[float | None] = mapped_column(Float)
    topics: Mapped[list[Any]] = mapped_column(default=list)
    rule_hits: Mapped[list[Any]] = mapped_column(default=list)
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    # The story (near-duplicate cluster) the post belongs to. Not a foreign key: SQLite could
    # add one only by rebuilding posts, which 0003's views forbid.
    story_id: Mapped[int | None] = mapped_column(Id)
    # Where it was published when not the source itself (a crawler's 微博, 抖音 ...), and the
    # counts the platform showed when it was collected.
    platform: Mapped[str | None] = mapped_column(String(40))
    reposts: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    # A comment on or a repost of another post of the same source: its external id as the
    # source gave it, and its row once both are stored (whichever came first).
    parent_external_id: Mapped[str | None] = mapped_column(String(500))
    relation: Mapped[str | None] = mapped_column(String(10))       # comment | repost
    parent_id: Mapped[int | None] = mapped_column(Id, index=True)


class EvidenceRow(Base):
    """固证: a post's page kept once as a WARC file (its path under the evidence folder), with
    the SHA-256 of the page and the time it was fetched; failed attempts are counted."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(Id, unique=True)
    incident_id: Mapped[int | None] = mapped_column(Id, index=True)
    url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(10))          # kept | failed
    http_status: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    warc_sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PostTopic(Base):
    """Bridge from a post to each topic of its JSON `topics`, filled in the post's transaction,
    so by-topic queries use an index instead of parsing JSON. The post's time and the
    dimensions analysts group by are copied (re-scoring rewrites a post's rows), so a month
    of topic volume is read from this narrow table alone, without a join to posts."""

    __tablename__ = "post_topics"
    __table_args__ = (Index("ix_post_topics_topic_seen", "topic_id", "seen_at"),
                      Index("ix_post_topics_seen_at", "seen_at"))

    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id", ondelete="CASCADE"),
                                         primary_key=True)
    topic_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    source_id: Mapped[str] = mapped_column(String(100))
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    polarity: Mapped[str] = mapped_column(String(10))
    police_related: Mapped[bool] = mapped_column(Boolean)


class Run(Base):
    """The run ledger (巡查日志): one row per monitoring cycle."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|partial|failed
    sources_total: Mapped[int] = mapped_column(Integer, default=0)
    sources_ok: Mapped[int] = mapped_column(Integer, default=0)
    sources_failed: Mapped[int] = mapped_column(Integer, default=0)
    posts_new: Mapped[int] = mapped_column(Integer, default=0)
    alerts_new: Mapped[int] = mapped_column(Integer, default=0)
    notifications_sent: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    # "host:pid:start" of the process running the cycle (warehouse.ledger.process_identity)
    owner: Mapped[str | None] = mapped_column(String(200))
    # ids of the sources due in this run, each accounted for when the run is closed
    due: Mapped[list[Any] | None] = mapped_column(JSON)


class RunSource(Base):
    """What one source did in one run."""

    __tablename__ = "run_sources"
    __table_args__ = (UniqueConstraint("run_id", "source_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_s: Mapped[float] = mapped_column(Float, default=0.0)
    failure_class: Mapped[str | None] = mapped_column(String(20))


class AlertRow(Base):
    """An alert; the fingerprint keeps one row per story or spike."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    level: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 each time the level rises
    first_detected_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_detected_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(Id)
    # The incident the alert updates (its own, or that of its event).
    incident_id: Mapped[int | None] = mapped_column(Id, index=True)


class OutboxRow(Base):
    """A notification to deliver; written in the alert's transaction, marked when sent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The delivery pass sending it and until when (wall clock): see Warehouse.claim_notifications.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)


class IncidentRow(Base):
    """An incident: the handling of one story or spike (one per alert fingerprint)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_opened", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    level: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    terms: Mapped[list[Any]] = mapped_column(default=list)
    content_hashes: Mapped[list[Any]] = mapped_column(default=list)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new")
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    # The real-world event it follows (warehouse.events); its later alerts update it.
    event_id: Mapped[int | None] = mapped_column(Id, index=True)
    # Merged into another incident (the earlier number), which carries on its work.
    merged_into: Mapped[int | None] = mapped_column(Id)
    official_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    official_statement_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated: Mapped[list[Any]] = mapped_column(default=list)
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    repeats: Mapped[int] = mapped_column(Integer, default=0)


class IncidentTrackRow(Base):
    """One of the three lines of work (三同步) of an incident."""

    __tablename__ = "incident_tracks"
    __table_args__ = (UniqueConstraint("incident_id", "track"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    track: Mapped[str] = mapped_column(String(20))          # legal | opinion | control
    unit: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_by: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[list[Any]] = mapped_column(default=list)


class IncidentEventRow(Base):
    """The audit trail: every change to an incident, who made it and when."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SilenceRow(Base):
    """Alerts whose fingerprint starts with `match` are recorded but not notified until `until`."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    match: Mapped[str] = mapped_column(String(300))
    until: Mapped[datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Story(Base):
    """Reposts and syndicated copies of one text (near duplicates), grown as posts arrive."""

    __tablename__ = "stories"
    __table_args__ = (Index("ix_stories_last_seen", "last_seen"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    size: Mapped[int] = mapped_column(Integer, default=1)
    # The earliest post. Not a foreign key: archiving may delete it (the story stays).
    representative_post_id: Mapped[int | None] = mapped_column(Id)
    has_official_post: Mapped[bool] = mapped_column(Boolean, default=False)
    official_first_at: Mapped[datetime | None] = mapped_column(DateTime)


class PostBand(Base):
    """A post's near-duplicate band keys (transforms.stories): posts sharing a key are
    candidates for one story, found by this index instead of comparing all pairs."""

    __tablename__ = "post_bands"
    __table_args__ = (Index("ix_post_bands_post_id", "post_id"),)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id", ondelete="CASCADE"),
                                         primary_key=True)


class RobotPost(Base):
    """One post a chat robot made, or tried to make, to its platform (a digest is one post).

    Every process posting through the same robot (the monitor flow, the watchdog flow,
    `jingyu alerts ...`) counts these against the platform's rate limit, so they spend one
    budget together. `origin` names the process's limiter, which counts its own posts itself.
    """

    __tablename__ = "robot_posts"
    __table_args__ = (Index("ix_robot_posts_channel_at", "channel", "posted_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    posted_at: Mapped[datetime] = mapped_column(DateTime)
    origin: Mapped[str] = mapped_column(String(100))
    # The platform answered "too fast" and takes nothing from this robot until then.
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)


class EventRow(Base):
    """A real-world happening: posts and stories that speak of it, in different words
    (transforms.events), grown as posts arrive."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_last_seen", "last_seen"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text, default="")
    title_post_id: Mapped[int | None] = mapped_column(Id)
    title_score: Mapped[int] = mapped_column(Integer, default=0)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    size: Mapped[int] = mapped_column(Integer, default=1)
    stories: Mapped[int] = mapped_column(Integer, default=1)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    platforms: Mapped[list[Any]] = mapped_column(default=list)
    has_official_post: Mapped[bool] = mapped_column(Boolean, default=False)
    official_first_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Merged into another event; its posts moved there.
    merged_into: Mapped[int | None] = mapped_column(Id)


class EventPostRow(Base):
    """A post's event and why it joined: its story's event, or the terms and place it shares
    with the event's posts and the score they reached."""

    __tablename__ = "event_posts"

    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id", ondelete="CASCADE"),
                                         primary_key=True)
    event_id: Mapped[int] = mapped_column(Id, index=True)
    reason: Mapped[str] = mapped_column(String(20))       # story | terms | new | moved
    score: Mapped[float] = mapped_column(Float, default=0.0)
    shared: Mapped[list[Any]] = mapped_column(default=list)
    place: Mapped[str | None] = mapped_column(String(100))
    # Events the post was close enough to join as well (one happening seen from two sides)
    # but that a person split apart (event_separations): it stayed out of them.
    apart: Mapped[list[Any] | None] = mapped_column(JSON)


class EventSeparation(Base):
    """A human split: posts of event `event_id` were split off into event `apart_from` (by
    `created_by`, at `created_at`, from incident `incident_id` into `split_incident_id`).
    While it stands the grouping never merges the two events (nor the events they are merged
    into), and incidents following them are not merged by the system; a human merge of the
    two lifts it (`lifted_at`, `lifted_by`)."""

    __tablename__ = "event_separations"
    __table_args__ = (Index("ix_event_separations_event_id", "event_id"),
                      Index("ix_event_separations_apart_from", "apart_from"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(Id)
    apart_from: Mapped[int] = mapped_column(Id)
    incident_id: Mapped[int | None] = mapped_column(Id)
    split_incident_id: Mapped[int | None] = mapped_column(Id)
    posts: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(100))


class EventTerm(Base):
    """The inverted index of events: term -> events whose posts use it, how many and when
    last, so a new post finds its candidate events by lookup, not by comparing all posts."""

    __tablename__ = "event_terms"
    __table_args__ = (Index("ix_event_terms_term_seen", "term", "last_seen"),
                      Index("ix_event_terms_event_id", "event_id"))

    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[int] = mapped_column(Id, primary_key=True)
    posts: Mapped[int] = mapped_column(Integer, default=1)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class LinkUse(Base):
    """A one-tap 签收 link that was used (console.links): each link acts once, so a link
    forwarded, replayed or tapped twice is refused, and the audit can name the link."""

    __tablename__ = "link_uses"

    link_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    used_at: Mapped[datetime] = mapped_column(DateTime)


class UserRow(Base):
    """A console account: a person of roster.yaml (linked by name), a role, a jurisdiction."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # None: the whole warehouse; else this dotted jurisdiction id and those below it
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)


class SecretRow(Base):
    """Keys shared by every process of one warehouse (the console's cookie and link keys):
    made once, at random, by whichever process needs one first."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
