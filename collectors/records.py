"""Record types produced by collectors: what a source is, what a fetch returned."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class SourceConfig:
    """One entry of config/sources.yaml."""

    id: str
    name: str
    kind: str                                 # a registered kind (collectors.kinds)
    url: str                                  # http(s) URL, or a file path for file kinds
    tags: tuple[str, ...] = ()                # e.g. "official" for police accounts
    jurisdiction: str | None = None           # jurisdiction id from config/jurisdictions.yaml
    poll_minutes: int = 5
    # Adaptive polling bounds (collectors.polling); None for both: always poll_minutes.
    poll_min_minutes: int | None = None
    poll_max_minutes: int | None = None
    enabled: bool = True
    # The kind's typed options (a pydantic model); a mapping given by hand is validated on use.
    options: Any = None
    # The upstream group it belongs to (collectors.http.Lane: an RSSHub instance's own
    # concurrency and delay); None: per-host politeness.
    lane: Any = None

    @property
    def official(self) -> bool:
        return "official" in self.tags


@dataclass(frozen=True)
class SourceCursor:
    """Where a source was left off; stored with the posts it covers, in one transaction."""

    etag: str | None = None
    last_modified: str | None = None
    seen_ids: tuple[str, ...] = ()            # most recent external ids, newest first
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RawPost:
    """One item as the source published it."""

    source_id: str
    external_id: str                          # unique within the source (guid, id, link or hash)
    url: str | None
    title: str
    body: str                                 # HTML or plain text, as published
    author: str | None
    published_at: datetime | None             # aware, UTC; None when the source gives no date
    fetched_at: datetime                      # aware, UTC
    platform: str | None = None               # where it was published, when not the source
    reposts: int | None = None                # counts as the platform showed them
    comments: int | None = None
    likes: int | None = None
    parent_id: str | None = None              # external id of the post this comments/reposts
    relation: str | None = None               # "comment" | "repost"


FETCH_OK = "ok"
FETCH_NOT_MODIFIED = "not_modified"
FETCH_ERROR = "error"


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one source once. A failed fetch keeps the old cursor."""

    source_id: str
    status: str                               # FETCH_OK | FETCH_NOT_MODIFIED | FETCH_ERROR
    cursor: SourceCursor
    posts: tuple[RawPost, ...] = ()
    error: str | None = None                  # readable: what failed, where (URL), why
    http_status: int | None = None
    elapsed_s: float = 0.0
    failure: str | None = None                # collectors.failures.FailureClass of an error
