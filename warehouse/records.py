"""Record types the warehouse hands to other stages (read models, not ORM rows)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping


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

    @property
    def seen_at(self) -> datetime:
        """When the post appeared: its published time, else when we first fetched it."""
        return self.published_at or self.fetched_at


@dataclass(frozen=True)
class OutboxMessage:
    """A notification waiting to go out through one channel (at-least-once)."""

    id: int
    alert_id: int
    channel: str                       # channel name from config/alerts.yaml
    idempotency_key: str               # stable per (alert version, channel): receivers dedup on it
    payload: Mapping[str, Any]         # {"title", "text", "markdown", "level", "alert": {...}}
    attempts: int
