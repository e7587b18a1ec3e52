"""Render the bundled demo feeds relative to "now" and describe the demo's sources."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import format_datetime
from pathlib import Path

from jingyu.timeutil import SHANGHAI

FEEDS_DIR = Path(__file__).parent / "feeds"

RFC822 = "rfc822"     # RSS 2.0 <pubDate>
RFC3339 = "rfc3339"   # Atom <updated>/<published>, RSS 1.0 <dc:date>

# {{ago:90m}} -> a zoned date in the feed's format; {{ago_naive:40m}} -> "2026-11-26 14:05:00",
# Asia/Shanghai wall-clock time without a zone, as many Chinese forums publish it.
_PLACEHOLDER = re.compile(r"\{\{(ago|ago_naive):(\d+)([mhd])\}\}")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class DemoFeed:
    """One bundled feed template and how the demo server serves it."""

    template: str          # file name under feeds/, UTF-8 text
    path: str              # URL path on the demo server
    content_type: str      # HTTP Content-Type, with charset
    date_style: str        # RFC822 | RFC3339
    zone: tzinfo           # zone the zoned dates are written in
    encoding: str = "utf-8"


DEMO_FEEDS: tuple[DemoFeed, ...] = (
    # A Chinese government site: RFC 822 dates with +0800.
    DemoFeed("qingchuan_police.xml", "/qingchuan_police.xml",
             "application/rss+xml; charset=utf-8", RFC822, SHANGHAI),
    DemoFeed("city_news_society.atom", "/city_news_society.atom",
             "application/atom+xml; charset=utf-8", RFC3339, SHANGHAI),
    # RSSHub writes pubDate in GMT.
    DemoFeed("weibo_keyword_police.xml", "/weibo_keyword_police.xml",
             "application/rss+xml; charset=utf-8", RFC822, timezone.utc),
    DemoFeed("county_forum_gbk.xml.tmpl", "/county_forum_gbk.xml",
             "text/xml; charset=gbk", RFC822, SHANGHAI, encoding="gbk"),
    DemoFeed("broken_feed.xml", "/broken_feed.xml",
             "application/rss+xml; charset=utf-8", RFC822, timezone.utc),
    DemoFeed("rdf_district.rdf", "/rdf_district.rdf",
             "application/rdf+xml; charset=utf-8", RFC3339, SHANGHAI),
)

# Served by nothing: the demo summary must show one failed source (HTTP 404).
MISSING_PATH = "/rsshub/wechat/qingchuan_jiaojing.xml"


def _format_date(at: datetime, naive: bool, feed: DemoFeed) -> str:
    if naive:
        return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    local = at.astimezone(feed.zone)
    if feed.date_style == RFC822:
        return format_datetime(local, usegmt=feed.zone is timezone.utc)
    return local.isoformat()


def render_feed(feed: DemoFeed, now: datetime) -> bytes:
    """The feed's body as served at `now` (aware): placeholders replaced, encoded."""
    text = (FEEDS_DIR / feed.template).read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        kind, amount, unit = match.groups()
        at = now - timedelta(**{_UNITS[unit]: int(amount)})
        return _format_date(at, kind == "ago_naive", feed)

    rendered = _PLACEHOLDER.sub(replace, text)
    leftover = re.search(r"\{\{[^}]*\}\}", rendered)
    if leftover:
        raise ValueError(f"{FEEDS_DIR / feed.template}: unknown placeholder {leftover[0]!r} "
                         "(fix: use {{ago:90m}}, {{ago:26h}}, {{ago:3d}} or {{ago_naive:40m}})")
    # strict: a character the target charset lacks is a template bug, not a demo effect
    return rendered.encode(feed.encoding)


def render_demo_feeds(now: datetime) -> dict[str, tuple[bytes, str]]:
    """URL path -> (body, Content-Type) for every bundled feed, dated relative to `now`."""
    if now.tzinfo is None:
        raise ValueError("render_demo_feeds: now must be timezone-aware "
                         "(fix: pass jingyu.timeutil.utcnow())")
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    return {feed.path: (render_feed(feed, now), feed.content_type) for feed in DEMO_FEEDS}


def _source(base_url: str, source_id: str, name: str, path: str, tags: list[str],
            jurisdiction: str) -> dict:
    return {"id": source_id, "name": name, "kind": "feed", "url": base_url + path, "tags": tags,
            "jurisdiction": jurisdiction, "poll_minutes": 5, "enabled": True, "options": {}}


def demo_sources(base_url: str) -> list[dict]:
    """The demo's sources, shaped like config/sources.yaml entries, served from `base_url`."""
    base = base_url.rstrip("/")
    return [
        _source(base, "qingchuan-police", "青川市公安局（官方账号）", "/qingchuan_police.xml",
                ["official", "police"], "qingchuan"),
        _source(base, "qingchuan-daily-society", "青川日报·社会法治", "/city_news_society.atom",
                ["news"], "qingchuan"),
        _source(base, "weibo-keyword-jingcha", "微博关键词「警察」（RSSHub）",
                "/weibo_keyword_police.xml", ["social", "weibo"], "qingchuan"),
        _source(base, "yunxi-forum", "云溪县论坛", "/county_forum_gbk.xml",
                ["forum"], "qingchuan.yunxi"),
        _source(base, "beihu-media", "北湖区融媒体中心", "/broken_feed.xml",
                ["news"], "qingchuan.beihu"),
        _source(base, "linjiang-gov", "临江区人民政府·政务要闻", "/rdf_district.rdf",
                ["government"], "qingchuan.linjiang"),
        _source(base, "qingchuan-traffic-wechat", "青川交警微信公众号（RSSHub）", MISSING_PATH,
                ["police", "wechat"], "qingchuan"),
    ]
