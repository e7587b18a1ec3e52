"""Record types produced by the alert detectors."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Evidence:
    post_id: int
    url: str | None
    title: str
    source_id: str
    published_at: datetime | None


@dataclass(frozen=True)
class Alert:
    fingerprint: str                   # same story or spike -> same fingerprint -> one alert
    kind: str                          # "sensitive_item" | "spike"
    level: int                         # 1..4, see alerts.levels.LEVELS
    title: str
    reason: str                        # one or two sentences a duty officer can act on
    evidence: tuple[Evidence, ...]
    jurisdiction: str | None
    detected_at: datetime              # aware UTC
