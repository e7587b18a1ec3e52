"""Rules shared by every collector kind: storable text, publication dates, fallback ids and the
seen-ids window."""
from __future__ import annotations

import email.utils
import hashlib
import re
from datetime import datetime, timezone

from collectors.records import RawPost, SourceCursor
from jingyu.timeutil import to_utc

SEEN_IDS_KEPT = 200

# Characters no warehouse should receive: NUL (PostgreSQL refuses the whole statement),
# other C0 controls but tab and newlines, lone surrogates (not encodable as UTF-8, e.g.
# "\ud800" in JSON) and the two non-characters U+FFFE/U+FFFF.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# "2026-11-20 08:30", "2026/11/20 08:30:00", "2026年11月20日 08时30分", "2026.11.20"
_CHINESE_DATE = re.compile(
    r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[\sT]*(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}))?秒?)?\s*$"
)
# Chinese sites write "CST" for China Standard Time; email.utils reads it as US Central (-6).
_CHINA_STANDARD_TIME = re.compile(r"\bCST\s*$")
# Beyond this an epoch number is milliseconds (10**11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 10**11


def storable(text: str) -> str:
    """`text` without the characters a warehouse cannot or should not store."""
    return _UNSTORABLE.sub("", text)


def unstorable_count(text: str) -> int:
    return len(_UNSTORABLE.findall(text))


def parse_published(raw: str | int | float | None) -> datetime | None:
    """Aware UTC datetime of a published date as the source wrote it; None if absent or unreadable.

    A timestamp without a zone is Asia/Shanghai time: that is what Chinese sites and exports
    mean, while feedparser's *_parsed fields would silently take it as UTC.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        seconds = raw / 1000 if raw > _EPOCH_MS_THRESHOLD else raw
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    text = raw.strip()
    if not text:
        return None
    parsed = _parse_text_date(text)
    return to_utc(parsed) if parsed is not None else None


def _parse_text_date(text: str) -> datetime | None:
    """The datetime written in `text`, naive when the text names no zone."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(_CHINA_STANDARD_TIME.sub("+0800", text))
    except (TypeError, ValueError, IndexError):
        pass
    match = _CHINESE_DATE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def content_id(*parts: str | None) -> str:
    """A stable external id for an item that carries none: sha1 of its content."""
    joined = "\x1f".join(part or "" for part in parts)
    return "sha1:" + hashlib.sha1(joined.encode("utf-8")).hexdigest()


def keep_unseen(posts: list[RawPost],
                cursor: SourceCursor) -> tuple[list[RawPost], tuple[str, ...]]:
    """Posts not yet delivered (first copy of each id), and the seen-ids window to store.

    `posts` must be newest first. The window holds the newest SEEN_IDS_KEPT ids, so a
    feed that re-serves its last items on every poll yields nothing new.
    """
    already_seen = set(cursor.seen_ids)
    fresh: list[RawPost] = []
    current_ids: dict[str, None] = {}   # insertion-ordered set
    for post in posts:
        if post.external_id in current_ids:
            continue
        current_ids[post.external_id] = None
        if post.external_id not in already_seen:
            fresh.append(post)
    window = list(current_ids) + [old for old in cursor.seen_ids if old not in current_ids]
    return fresh, tuple(window[:SEEN_IDS_KEPT])


def newest_first(posts: list[RawPost]) -> list[RawPost]:
    """Posts by publication time, newest first; undated ones last, in their original order."""
    dated = [post for post in posts if post.published_at is not None]
    undated = [post for post in posts if post.published_at is None]
    return sorted(dated, key=lambda post: post.published_at, reverse=True) + undated
