"""A small warehouse with a week of posts, runs, a dead source, an alert and its incident —
loaded through the real Warehouse methods — and the specs tests compute expectations from."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from alerts.detection.records import Alert
from alerts.incidents import actions
from alerts.incidents.incident import IncidentOpening, take_alert
from collectors.records import (
    FETCH_ERROR,
    FETCH_OK,
    FetchResult,
    RawPost,
    SourceConfig,
    SourceCursor,
)
from jingyu.timeutil import SHANGHAI
from transforms.records import ScoredPost
from transforms.stories import fingerprint
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

DAY = date(2026, 11, 25)                                     # the brief's day (Asia/Shanghai)
DAY_START = datetime(2026, 11, 25, tzinfo=SHANGHAI)
NOW = DAY_START + timedelta(days=1, hours=8)                 # 08:00 the morning after
SOURCES = [
    SourceConfig(id="qc_police", name="青川公安", kind="feed", url="http://127.0.0.1/p.xml",
                 tags=("official",), jurisdiction="qingchuan"),
    SourceConfig(id="lj_news", name="临江新闻", kind="feed", url="http://127.0.0.1/n.xml",
                 jurisdiction="qingchuan.linjiang"),
    SourceConfig(id="yx_forum", name="云溪论坛", kind="feed", url="http://127.0.0.1/f.xml",
                 jurisdiction="qingchuan.yunxi"),
]
DEAD_SOURCE = "yx_forum"
TOPICS = [("police", "police.enforcement_dispute"), ("police.traffic",), ()]
POLARITY = ["negative", "neutral", "positive"]
HOSTILE = [
    "<script>alert('x')</script>执法视频",
    "=cmd|' /C calc'!A0",
    "+1 民警",
    "-2 辅警",
    "@SUM(A1:A9) 交警",
    "**粗体** [链接](javascript:alert(1)) | 表格 # 标题",
]
STORY = "story-negative-1"              # repeated negative story: 6 copies on DAY, 1 the day before


@dataclass(frozen=True)
class SeedPost:
    source_id: str
    external_id: str
    title: str
    url: str
    seen_at: datetime                   # aware UTC
    polarity: str
    topics: tuple[str, ...]
    content_hash: str
    jurisdiction: str | None


def _posts() -> list[SeedPost]:
    posts: list[SeedPost] = []
    n = 0
    for back in range(7, -1, -1):                      # DAY-7 .. DAY
        day = DAY_START - timedelta(days=back)
        for hour in (1, 9, 10, 15, 21):
            for k in range(1 + (back + hour) % 3):
                source = SOURCES[(n + k) % len(SOURCES)]
                seen = (day + timedelta(hours=hour, minutes=7 * k)).astimezone(timezone.utc)
                title = f"第{n}条 青川民警{hour}时"
                posts.append(SeedPost(source.id, f"{source.id}-{n}", title,
                                      f"https://example.org/{source.id}/{n}", seen,
                                      POLARITY[n % 3], TOPICS[n % 3], f"hash-{n}",
                                      source.jurisdiction))
                n += 1
    for i in range(7):                                 # the growing negative story
        at = (DAY_START - timedelta(hours=3) if i == 0
              else DAY_START + timedelta(hours=11, minutes=10 * i)).astimezone(timezone.utc)
        posts.append(SeedPost("lj_news", f"story-{i}", "临江交警执法争议视频引发关注",
                              f"https://example.org/story/{i}", at, "negative",
                              ("police", "police.enforcement_dispute"), STORY,
                              "qingchuan.linjiang"))
    for i, title in enumerate(HOSTILE):                # hostile text through every output
        at = (DAY_START + timedelta(hours=12, minutes=i)).astimezone(timezone.utc)
        posts.append(SeedPost("qc_police", f"hostile-{i}", title,
                              f"https://example.org/hostile/{i}?a=1&b=<2>", at, "negative",
                              ("police",), f"hostile-{i}", "qingchuan"))
    return posts


POSTS = _posts()


def _scored(post: SeedPost) -> ScoredPost:
    raw = RawPost(source_id=post.source_id, external_id=post.external_id, url=post.url,
                  title=post.title, body=post.title, author=None, published_at=post.seen_at,
                  fetched_at=post.seen_at)
    return ScoredPost(raw=raw, text=post.title, content_hash=post.content_hash,
                      keywords=("民警",), police_related=True, police_terms=("民警",),
                      sentiment={"negative": 0.1, "neutral": 0.5, "positive": 0.9}[post.polarity],
                      polarity=post.polarity, topics=post.topics, rule_hits=(),
                      high_risk=False, story_keys=fingerprint(post.title),
                      # every seeded post is police-related: its stance toward the police
                      # follows its mood here, with a probability that varies
                      police_stance=post.polarity,
                      police_stance_p=stance_p(post))


def seed(url: str) -> Warehouse:
    """Load POSTS day by day (one run per day and source), then fail DEAD_SOURCE twice and
    open one incident on DAY at 11:30 with its legal track started."""
    warehouse = Warehouse(url)
    warehouse.sync_sources(SOURCES)
    by_day: dict[tuple[date, str], list[SeedPost]] = {}
    for post in POSTS:
        by_day.setdefault((post.seen_at.astimezone(SHANGHAI).date(), post.source_id),
                          []).append(post)
    for day in sorted({d for d, _ in by_day}):
        stamp = datetime(day.year, day.month, day.day, 23, 59, tzinfo=SHANGHAI)
        run = warehouse.start_run(stamp)
        for source in SOURCES:
            posts = by_day.get((day, source.id), [])
            result = FetchResult(source_id=source.id, status=FETCH_OK, cursor=SourceCursor(),
                                 posts=tuple(_scored(p).raw for p in posts))
            warehouse.store_fetch(run, result, [_scored(p) for p in posts], stamp)
        warehouse.finish_run(run, stamp, alerts_new=0, notifications_sent=0, errors=[])
    for hours in (30, 31):                         # DEAD_SOURCE fails the next morning
        stamp = DAY_START + timedelta(hours=hours)
        run = warehouse.start_run(stamp)
        warehouse.store_fetch(run, FetchResult(source_id=DEAD_SOURCE, status=FETCH_ERROR,
                                               cursor=SourceCursor(), http_status=432,
                                               error=f"{DEAD_SOURCE}: HTTP 432 blocked"),
                              [], stamp)
        warehouse.finish_run(run, stamp, alerts_new=0, notifications_sent=0, errors=[])
    opened = DAY_START + timedelta(hours=11, minutes=30)
    alert = Alert(fingerprint=f"story:{STORY}", kind="sensitive", level=3,
                  title="敏感信息：临江交警执法争议<b>视频</b>", reason="6 posts in 1 hour",
                  evidence=(), jurisdiction="qingchuan.linjiang", detected_at=opened)
    opening = IncidentOpening(
        fingerprint=alert.fingerprint, kind=alert.kind, level=alert.level, title=alert.title,
        jurisdiction=alert.jurisdiction, topics=("police.enforcement_dispute",), terms=("交警",),
        content_hashes=(STORY,), sensitive=True, detected_at=opened, track_units={},
        notified=True, detail={})
    incidents = IncidentStore(warehouse)
    stored, _, _ = incidents.record(alert, lambda _a, _v: [], lambda stored, first, current:
                                    take_alert(current, stored.alert_id, opening, first, True))
    actions.acknowledge(incidents, stored.alert_id, "值班员张三", opened + timedelta(minutes=12))
    actions.track(incidents, stored.alert_id, "legal", "start", "法制李四",
                  opened + timedelta(minutes=40))
    return warehouse


def in_window(since: datetime, until: datetime, **where) -> list[SeedPost]:
    """The seed posts whose seen_at is in [since, until) and whose fields match `where`
    (jurisdiction matches its children too; topic matches membership)."""
    chosen = []
    for post in POSTS:
        if not since <= post.seen_at < until:
            continue
        if "polarity" in where and post.polarity != where["polarity"]:
            continue
        if "topic" in where and where["topic"] not in post.topics:
            continue
        if "jurisdiction" in where:
            j = where["jurisdiction"]
            if not (post.jurisdiction == j or (post.jurisdiction or "").startswith(j + ".")):
                continue
        if "source" in where and post.source_id != where["source"]:
            continue
        chosen.append(post)
    return chosen


def story_of(warehouse: Warehouse, content_hash: str) -> int:
    """The story id the warehouse gave the posts of one seeded text (they must share one)."""
    with warehouse.engine.connect() as conn:
        [story] = set(conn.execute(text("SELECT story_id FROM posts WHERE content_hash = :h"),
                                   {"h": content_hash}).scalars())
    return story


def event_of(warehouse: Warehouse, content_hash: str) -> int:
    """The event the posts of one seeded text joined (they must share one)."""
    with warehouse.engine.connect() as conn:
        [event] = set(conn.execute(text(
            "SELECT ep.event_id FROM event_posts ep JOIN posts p ON p.id = ep.post_id "
            "WHERE p.content_hash = :h"), {"h": content_hash}).scalars())
    return event


def stance_p(post: SeedPost) -> float:
    """The probability seeded with the post's stance."""
    return 0.6 + (sum(map(ord, post.external_id)) % 40) / 100
