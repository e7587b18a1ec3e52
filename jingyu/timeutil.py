"""Time conventions: store UTC, show Asia/Shanghai; naive Chinese timestamps are Shanghai time."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is read as Asia/Shanghai local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(timezone.utc)


def as_utc_naive(value: datetime) -> datetime:
    """UTC without tzinfo, the form stored in the warehouse (SQLite keeps no zone)."""
    return to_utc(value).replace(tzinfo=None)


def from_db(value: datetime | None) -> datetime | None:
    """A warehouse timestamp (naive UTC) as an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def shanghai(value: datetime) -> datetime:
    return to_utc(value).astimezone(SHANGHAI)


def local_minute(value: datetime) -> str:
    """A timestamp as duty staff read it: Asia/Shanghai, to the minute."""
    return shanghai(value).strftime("%Y-%m-%d %H:%M")


EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def parse_local(value: str | date | datetime) -> datetime:
    """'2026-11-26', '2026-11-26 08:00' or a datetime (naive = Asia/Shanghai) -> aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        raise ValueError(f"cannot read the time {value!r}: write e.g. 2026-11-26 or "
                         "'2026-11-26 08:00' (Asia/Shanghai)") from None
    # Year 1 or 9999 cannot be a window of collected posts, and arithmetic on it overflows.
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise ValueError(f"the time {value!r} is outside {EARLIEST_YEAR}-{LATEST_YEAR}: write "
                         "a date such as 2026-11-26")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
