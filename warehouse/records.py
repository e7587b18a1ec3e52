"""Record types the warehouse hands to other stages (read models, not ORM rows)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, NamedTuple

from transforms.records import NEGATIVE

# alerts.kind of a 系统告警 (alerts.incidents.watchdog): source and pipeline health, for the
# operators; stored with alerts.level 0, never with an incident.
HEALTH_KIND = "health"


@dataclass(frozen=True)
class PostRow:
    """A stored, scored post as the alert detectors and reports see it."""

    id: int
    source_id: str
    url: str | None
    title: str
    text: str
    published_at: datetime | None      # aware UTC
    fetched_at: datetime               # aware UTC
    content_hash: str
    police_related: bool
    polarity: str                      # transforms.records NEGATIVE | NEUTRAL | POSITIVE
    sentiment: float
    topics: tuple[str, ...]
    high_risk: bool
    jurisdiction: str | None
    official: bool                     # the source is tagged "official" (a police account)
    keywords: tuple[str, ...] = ()     # TF-IDF top terms
    police_terms: tuple[str, ...] = ()
    story_id: int | None = None       # its story: reposts and copies share one
    police_stance: str | None = None   # toward the police; None when not police-related
    police_stance_p: float | None = None
    event_id: int | None = None        # the real-world event it speaks of (warehouse.events)

    @property
    def negative(self) -> bool:
        """What the 涉警负面 signals count: negative toward the police for a police-related
        post, negative sentiment for any other (as transforms.records.ScoredPost.negative)."""
        if self.police_related:
            return self.police_stance == NEGATIVE
        return self.polarity == NEGATIVE

    @property
    def seen_at(self) -> datetime:
        """When the post appeared: its published time, else when we first fetched it."""
        return self.published_at or self.fetched_at


class Mention(NamedTuple):
    """What spike detection needs of one post: little enough to read weeks of them a cycle
    (a named tuple: a busy warehouse hands over 150,000 of them every cycle)."""

    seen_at: datetime                  # aware UTC
    content_hash: str
    police_related: bool
    negative: bool
    topics: tuple[str, ...]
    jurisdiction: str | None
    official: bool

    @classmethod
    def of(cls, post: PostRow) -> Mention:
        return cls(seen_at=post.seen_at, content_hash=post.content_hash,
                   police_related=post.police_related, negative=post.negative,
                   topics=post.topics, jurisdiction=post.jurisdiction, official=post.official)


@dataclass(frozen=True)
class OutboxMessage:
    """A notification waiting to go out through one channel (at-least-once)."""

    id: int
    alert_id: int
    channel: str                       # channel name from config/alerts.yaml
    idempotency_key: str               # stable per (alert version, channel): receivers dedup on it
    payload: Mapping[str, Any]         # {"title", "text", "markdown", "level", "alert": {...}}
    attempts: int


@dataclass(frozen=True)
class TrackState:
    """One line of work of an incident's 三同步 (legal | opinion | control)."""

    track: str
    unit: str | None
    started_at: datetime | None        # aware UTC
    started_by: str | None
    done_at: datetime | None
    done_by: str | None
    notes: tuple[Mapping[str, Any], ...]   # {"at", "by", "note"}


@dataclass(frozen=True)
class IncidentState:
    """An incident (one per story or spike) as the timers, routing and CLI see it."""

    id: int
    alert_id: int
    fingerprint: str
    kind: str
    level: int
    title: str
    jurisdiction: str | None
    topics: tuple[str, ...]
    terms: tuple[str, ...]             # keywords and police terms of the evidence
    content_hashes: tuple[str, ...]
    sensitive: bool
    status: str                        # new | acknowledged | handling | resolved | closed
    opened_at: datetime                # first detection, aware UTC
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    official_post_id: int | None
    official_statement_at: datetime | None
    progress_at: datetime | None
    escalated: tuple[str, ...]         # timers already escalated to the leader on duty
    last_notified_at: datetime | None
    repeats: int
    tracks: tuple[TrackState, ...] = ()
    event_id: int | None = None        # the real-world event it follows (warehouse.events)
    merged_into: int | None = None     # merged into that incident, which carries on


@dataclass(frozen=True)
class IncidentEvent:
    """One line of an incident's audit trail: who did what, when."""

    id: int
    incident_id: int
    at: datetime
    actor: str
    action: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class Silence:
    """Alerts whose fingerprint starts with `match` are recorded but not notified until `until`."""

    match: str
    until: datetime                    # aware UTC
    reason: str = ""
    created_by: str | None = None
    id: int | None = None              # None: from routing.yaml, not the database


@dataclass(frozen=True)
class SourceYield:
    """An enabled source's health and its yield: new posts in the last window, and on how many
    of the 7 days before it the same window of the day had new posts (for the watchdog)."""

    id: str
    name: str
    jurisdiction: str | None
    consecutive_failures: int
    last_error: str | None
    last_success_at: datetime | None
    last_new_post_at: datetime | None
    new_in_window: int
    usual_days: int
    failure_class: str | None = None          # collectors.failures.FailureClass of the last one
    failing_since: datetime | None = None
    disabled_at: datetime | None = None       # disabled automatically for failing too long
    disabled_reason: str | None = None
