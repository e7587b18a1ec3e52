"""Dates as Chinese web pages write them: relative ("3小时前", "昨天 14:20", "刚刚"), without a
year ("12-01 14:20", "12月1日"), or full — read against the time the page was fetched."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from collectors.posts import parse_published
from jingyu.timeutil import SHANGHAI, to_utc

_AGO = re.compile(r"^\s*(\d+)\s*(秒|分钟|分|小时|个小时|天|周|个月)\s*前\s*$")
_DAY_WORD = re.compile(r"^\s*(今天|昨天|前天)\s*(?:(\d{1,2})[:：](\d{2}))?\s*$")
_NO_YEAR = re.compile(r"^\s*(\d{1,2})[-/.月](\d{1,2})日?\s*(?:(\d{1,2})[:：](\d{2}))?\s*$")
_UNITS = {"秒": timedelta(seconds=1), "分钟": timedelta(minutes=1), "分": timedelta(minutes=1),
          "小时": timedelta(hours=1), "个小时": timedelta(hours=1), "天": timedelta(days=1),
          "周": timedelta(weeks=1), "个月": timedelta(days=30)}
_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}
# Labels around a date on list pages: "发布时间：2026-12-01", "[12-01]", "来源：… 2026-12-01".
_LABEL = re.compile(r"^(?:发布(?:时间|日期)|时间|日期|更新时间)\s*[:：]\s*")


def parse_page_date(text: str | None, fetched_at: datetime) -> datetime | None:
    """Aware UTC time written in `text`, relative ones counted back from `fetched_at` in
    Beijing time; None when there is no readable date."""
    if not text:
        return None
    cleaned = _LABEL.sub("", text.strip().strip("[]【】()（）").strip())
    if not cleaned:
        return None
    if cleaned in ("刚刚", "刚才"):
        return to_utc(fetched_at)
    local_now = to_utc(fetched_at).astimezone(SHANGHAI)
    ago = _AGO.match(cleaned)
    if ago:
        return to_utc(local_now - int(ago.group(1)) * _UNITS[ago.group(2)])
    day = _DAY_WORD.match(cleaned)
    if day:
        base = local_now - timedelta(days=_DAYS_BACK[day.group(1)])
        hour, minute = int(day.group(2) or 0), int(day.group(3) or 0)
        return to_utc(_at(base, base.month, base.day, hour, minute))
    no_year = _NO_YEAR.match(cleaned)
    if no_year:
        month, day_of_month = int(no_year.group(1)), int(no_year.group(2))
        hour, minute = int(no_year.group(3) or 0), int(no_year.group(4) or 0)
        try:
            when = _at(local_now, month, day_of_month, hour, minute)
        except ValueError:
            return None
        if when > local_now + timedelta(days=1):   # "12-30" read on 1 January: last year
            when = when.replace(year=when.year - 1)
        return to_utc(when)
    return parse_published(cleaned)


def _at(base: datetime, month: int, day: int, hour: int, minute: int) -> datetime:
    return base.replace(month=month, day=day, hour=hour, minute=minute, second=0,
                        microsecond=0)
