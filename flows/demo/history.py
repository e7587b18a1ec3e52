"""Synthetic ordinary days for the demo: the spike detector learns a week before it alerts.

A real deployment has weeks of monitoring behind each cycle; the demo has one cycle. These
posts stand in for the week before it: plainly labelled synthetic, with the usual daily
rhythm (busier by day, quiet at night), a third of the police-related ones negative, spread
over the demo's jurisdictions and attributed to its social and forum sources.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import NEGATIVE, NEUTRAL, POSITIVE, ScoredPost
from warehouse.store import Warehouse

HISTORY_DAYS = 8
# Police-related posts per hour, Beijing time: by day (08-23) and by night.
DAY_RATE, NIGHT_RATE = 3.0, 0.7
NEGATIVE_SHARE = 1 / 3
_PLACES = ("qingchuan", "qingchuan.linjiang", "qingchuan.beihu", "qingchuan.yunxi")
_TEMPLATES = {
    NEGATIVE: ("网友吐槽{place}派出所办事窗口排队太久", "{place}有车主质疑交警贴罚单不合理",
               "有人反映{place}报警后民警很久才到"),
    NEUTRAL: ("{place}公安发布冬季交通安全提示", "{place}派出所开展反诈宣传进社区",
              "{place}交警部门调整部分路段通行方案"),
    POSITIVE: ("点赞{place}民警帮走失老人找到家人", "{place}辅警雨中护送学生过马路",
               "{place}派出所民警热心帮群众找回钱包"),
}
_TOPICS = {NEGATIVE: ("police",), NEUTRAL: ("police",), POSITIVE: ("police", "police.service")}
_PLACE_NAMES = {"qingchuan": "青川市", "qingchuan.linjiang": "临江区",
                "qingchuan.beihu": "北湖区", "qingchuan.yunxi": "云溪县"}


def history_posts(sources: Sequence[SourceConfig], now: datetime, days: int = HISTORY_DAYS,
                  seed: int = 20261126) -> dict[str, list[ScoredPost]]:
    """Scored posts per source id, from `days` before `now` until an hour before it."""
    rng = random.Random(seed)
    posts: dict[str, list[ScoredPost]] = {s.id: [] for s in sources}
    at = now - timedelta(days=days)
    while at < now - timedelta(hours=1):
        hour = (at.hour + 8) % 24
        rate = DAY_RATE if 8 <= hour < 23 else NIGHT_RATE
        if rng.random() < rate / 12:                       # 12 five-minute steps an hour
            source = rng.choice(sources)
            polarity = (NEGATIVE if rng.random() < NEGATIVE_SHARE
                        else rng.choice((NEUTRAL, POSITIVE)))
            place = rng.choice(_PLACES)
            posts[source.id].append(_post(source.id, len(posts[source.id]), at, polarity, place,
                                          rng))
        at += timedelta(minutes=5)
    return posts


def _post(source_id: str, index: int, at: datetime, polarity: str, place: str,
          rng: random.Random) -> ScoredPost:
    text = rng.choice(_TEMPLATES[polarity]).format(place=_PLACE_NAMES[place])
    text = f"{text}（演示历史数据 {at:%m-%d %H:%M}）"
    raw = RawPost(source_id=source_id, external_id=f"demo-history-{index}", url=None,
                  title=text, body="", author=None, published_at=at, fetched_at=at)
    return ScoredPost(raw=raw, text=text, content_hash=hashlib.sha1(text.encode()).hexdigest(),
                      keywords=(), police_related=True, police_terms=("民警",),
                      sentiment={NEGATIVE: 0.1, NEUTRAL: 0.5, POSITIVE: 0.9}[polarity],
                      polarity=polarity, topics=_TOPICS[polarity], rule_hits=(),
                      high_risk=False, places=(place,),
                      # The templates take a side toward the police as plainly as their mood.
                      police_stance=polarity, police_stance_p=0.9)


def seed_history(warehouse: Warehouse, sources: Sequence[SourceConfig], now: datetime,
                 days: int = HISTORY_DAYS) -> int:
    """Store the synthetic week as one run `days` ago (the sources must be synced already);
    returns the number of posts."""
    start = now - timedelta(days=days)
    run = warehouse.start_run(start)
    stored = 0
    for source_id, scored in history_posts(sources, now, days).items():
        result = FetchResult(source_id=source_id, status=FETCH_OK, cursor=SourceCursor(),
                             posts=tuple(p.raw for p in scored))
        stored += warehouse.store_fetch(run, result, scored, now - timedelta(hours=1))
    warehouse.finish_run(run, now - timedelta(hours=1), alerts_new=0, notifications_sent=0,
                         errors=[])
    return stored
