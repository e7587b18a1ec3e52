"""A day with planted events, scored by the real Scorer and stored through the real warehouse
(stories and events formed on load, as in production): the night-market surge in 临江区 (25
texts in many wordings, one of them copied five times), a rough arrest in 北湖区, police
praised in 云溪区, and texts that general sentiment calls negative but that are not against
the police — a 反诈 lecture, a bus-timetable question, a drink-driving notice, anger at an
offender, an appeal to solve a case."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from sqlalchemy import text

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from jingyu.timeutil import SHANGHAI
from warehouse.store import Warehouse

DAY_START = datetime(2026, 11, 25, tzinfo=SHANGHAI)
NOW = DAY_START + timedelta(days=1, hours=8)
SOURCES = [
    SourceConfig(id="lj_forum", name="临江论坛", kind="feed", url="http://127.0.0.1/lj.xml",
                 jurisdiction="qingchuan.linjiang"),
    SourceConfig(id="bh_weibo", name="北湖微博话题", kind="feed", url="http://127.0.0.1/bh.xml",
                 jurisdiction="qingchuan.beihu", tags=("weibo",)),
    SourceConfig(id="qc_news", name="青川新闻网", kind="feed", url="http://127.0.0.1/qc.xml",
                 jurisdiction="qingchuan", tags=("news",)),
    SourceConfig(id="qc_police", name="青川公安", kind="feed", url="http://127.0.0.1/p.xml",
                 jurisdiction="qingchuan", tags=("official",)),
]

_WHO = ["辅警", "两名辅警", "一个协警", "穿制服的辅警"]
_DID = ["把摊主推倒在地", "掀了摊主的摊子", "抢走摊主手机", "对摊主拳打脚踢", "把卖烧烤的大爷按在地上"]
_WHERE = ["滨河路夜市", "临江滨河路夜市", "滨河路的夜市", "临江区滨河路夜市"]
_SAY = ["太嚣张了，这就是执法？", "派出所到现在也不给个说法", "警察就能随便打人吗",
        "围观群众都看不下去了", "视频都拍下来了，看你们怎么解释", "这种执法方式让人寒心"]
MARKET_COPY = "昨晚临江滨河路夜市辅警殴打摊主的视频传疯了，公安到底管不管？"
ARREST = ["北湖区万达广场，民警把外卖小哥按在地上铐走，就因为电动车停错了位置？",
          "北湖万达门口民警粗暴执法，外卖骑手被摔在地上，太过分了",
          "外卖小哥在北湖区万达被民警摔倒戴铐，北湖警方必须给个交代",
          "北湖区万达广场民警暴力对待外卖骑手，现场视频看得人心寒",
          "就为了电动车乱停，北湖民警就把外卖小哥按地上？执法也太粗暴了"]
RESCUE = ["云溪区民警跳河救起落水儿童，为民警点赞！", "云溪河边民警奋不顾身救落水孩子，好样的",
          "感谢云溪派出所民警，救了落水的小朋友"]
# General sentiment calls these negative; none of them is against the police.
NOT_AGAINST = ["青川公安走进社区开展反诈宣传讲座，民警提醒大家谨防电信诈骗，骗子太可恶了",
               "请问临江区到北湖区的公交车几点停运？末班车时间表哪里能查，等了一个小时太烦了",
               "交警提醒：酒后不开车，酒驾害人害己，查处酒驾醉驾绝不手软",
               "这种畜生，警察一定要严惩！", "恳请警方尽快破案，还受害人一个公道"]


def market_texts() -> list[str]:
    """Twenty wordings of the night-market happening and five copies of one more."""
    rng = random.Random(3)
    varied = [f"{rng.choice(_WHERE)}，{rng.choice(_WHO)}{rng.choice(_DID)}，{rng.choice(_SAY)}"
              for _ in range(20)]
    return varied + [MARKET_COPY] * 5


STATEMENT = ("临江公安警情通报：11月25日晚，滨河路夜市一名辅警在劝离占道摊主时与摊主发生冲突，"
             "涉事辅警已停职，事件正在调查处理中。")
# Comments on and reposts of market posts, on the platform that carried them.
THREADS = ["太过分了，必须严查", "支持摊主，等一个说法", "转发微博", "已经上热搜了",
           "坐等官方通报", "现场还有别的视频吗", "这执法水平真是服了", "转发"]


@dataclass(frozen=True)
class Planted:
    group: str                         # market | arrest | rescue | other | statement | thread
    source_id: str
    external_id: str
    text: str
    seen_at: datetime                  # aware UTC
    parent: str | None = None          # the external id it comments on or reposts
    relation: str | None = None        # comment | repost


def planted() -> list[Planted]:
    posts: list[Planted] = []

    def add(group: str, texts: list[str], start: datetime, step_min: int,
            sources: list[str]) -> None:
        for i, body in enumerate(texts):
            at = (start + timedelta(minutes=step_min * i)).astimezone(timezone.utc)
            source = sources[i % len(sources)]
            posts.append(Planted(group, source, f"{group}-{i}", body, at))

    add("rescue", RESCUE, DAY_START + timedelta(hours=10), 20, ["qc_news", "qc_police"])
    add("arrest", ARREST, DAY_START + timedelta(hours=14), 15, ["bh_weibo", "qc_news"])
    add("market", market_texts(), DAY_START + timedelta(hours=20), 6,
        ["lj_forum", "bh_weibo", "qc_news"])
    add("other", NOT_AGAINST, DAY_START + timedelta(hours=9), 90, ["qc_news", "lj_forum"])
    add("statement", [STATEMENT], DAY_START + timedelta(hours=23, minutes=30), 0,
        ["qc_police"])
    # threads under two market posts of 北湖微博话题 (market-1 at 20:06, market-4 at 20:24)
    for i, body in enumerate(THREADS):
        parent = ("market-1", "market-4")[i % 2]
        at = (DAY_START + timedelta(hours=20, minutes=30 + 7 * i)).astimezone(timezone.utc)
        posts.append(Planted("thread", "bh_weibo", f"thread-{i}", body, at, parent,
                             "repost" if body.startswith("转发") else "comment"))
    return posts


POSTS = planted()


@lru_cache(maxsize=1)
def scorer():
    from flows.settings import load_places, load_rules
    from transforms.scoring import Scorer

    return Scorer(load_rules(), places=load_places())


def load(url: str) -> Warehouse:
    """Store the planted posts hour by hour (one run per hour with posts, every source
    fetched), scored by the real Scorer: the warehouse forms stories and events on load."""
    warehouse = Warehouse(url)
    warehouse.sync_sources(SOURCES)
    by_hour: dict[datetime, list[Planted]] = {}
    for post in sorted(POSTS, key=lambda p: p.seen_at):
        by_hour.setdefault(post.seen_at.replace(minute=0, second=0, microsecond=0),
                           []).append(post)
    for hour, posts in sorted(by_hour.items()):
        stamp = hour + timedelta(minutes=59)
        run = warehouse.start_run(stamp)
        for source in SOURCES:
            raws = [RawPost(source_id=p.source_id, external_id=p.external_id,
                            url=f"https://example.org/{p.source_id}/{p.external_id}",
                            title="", body=p.text, author=_author(p),
                            published_at=p.seen_at, fetched_at=stamp,
                            platform="微博" if p.source_id == "bh_weibo" else None,
                            reposts=_COUNTS.get(p.external_id, (None, None))[0],
                            comments=_COUNTS.get(p.external_id, (None, None))[1],
                            parent_id=p.parent, relation=p.relation)
                    for p in posts if p.source_id == source.id]
            result = FetchResult(source_id=source.id, status=FETCH_OK, cursor=SourceCursor(),
                                 posts=tuple(raws))
            warehouse.store_fetch(run, result, scorer().score_many(raws), stamp)
        warehouse.finish_run(run, stamp, alerts_new=0, notifications_sent=0, errors=[])
    return warehouse


# The platform's own counts for two market posts (reposts, comments) as collected.
_COUNTS = {"market-1": (120, 45), "market-7": (30, 2)}


def _author(post: Planted) -> str:
    # two accounts post several market texts; everyone else once
    if post.group == "market" and post.source_id == "bh_weibo":
        return "夜市目击者"
    return f"网友{post.external_id}"


def open_incident(warehouse: Warehouse, evidence_group: str = "market") -> int:
    """The surge's alert at 21:00 with the first three posts of `evidence_group` as
    evidence, opened as the incident of their event (the one most of them joined),
    acknowledged at 21:12, 舆论引导 started at 21:40."""
    from alerts.detection.records import Alert, Evidence
    from alerts.incidents import actions
    from alerts.incidents.incident import IncidentOpening, take_alert
    from warehouse.incidents import IncidentStore

    market = post_ids(warehouse, evidence_group)[:3]
    with warehouse.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, url, source_id FROM posts WHERE id IN "
                                 f"({', '.join(map(str, market))}) ORDER BY id")).all()
        [(event, _)] = Counter(conn.execute(text(
            "SELECT event_id FROM event_posts WHERE post_id IN "
            f"({', '.join(map(str, market))})")).scalars()).most_common(1)
    opened = (DAY_START + timedelta(hours=21)).astimezone(timezone.utc)
    alert = Alert(fingerprint="spike:qingchuan.linjiang:police", kind="spike", level=2,
                  title="涉警负面舆情激增：qingchuan.linjiang", reason="25 posts in 2 hours",
                  evidence=tuple(Evidence(r.id, r.url, "夜市", r.source_id, None)
                                 for r in rows),
                  jurisdiction="qingchuan.linjiang", detected_at=opened)
    opening = IncidentOpening(
        fingerprint=alert.fingerprint, kind=alert.kind, level=alert.level, title=alert.title,
        jurisdiction=alert.jurisdiction, topics=("police.enforcement_dispute",),
        terms=("辅警",), content_hashes=(), sensitive=True, detected_at=opened,
        track_units={"opinion": "临江分局政工室"}, notified=True, detail={})
    store = IncidentStore(warehouse)
    stored, incident, _ = store.record(
        alert, lambda _a, _v: [],
        lambda stored, first, current: take_alert(current, stored.alert_id, opening, first,
                                                  True), event_id=event)
    # the police's statement at 23:30, as the monitor would record it
    [statement] = post_ids(warehouse, "statement")
    with warehouse.engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET official_post_id = :p, official_statement_at = "
                          "(SELECT seen_at FROM posts WHERE id = :p) WHERE id = :i"),
                     {"p": statement, "i": incident.id})
    actions.acknowledge(store, stored.alert_id, "值班员王五", opened + timedelta(minutes=12))
    actions.track(store, stored.alert_id, "opinion", "start", "政工刘六",
                  opened + timedelta(minutes=40))
    actions.track(store, stored.alert_id, "opinion", "note", "政工刘六",
                  opened + timedelta(minutes=55), note="已联系属地网信，准备情况通报")
    return incident.id


def add_hostile(warehouse: Warehouse) -> None:
    """Posts about the market whose titles, links, authors and platforms are the hostile
    corpus (tests/hostile.py), posted first and reposted most, and hostile comments under
    them: they become the evidence, first posters, most spread posts and accounts."""
    from tests.hostile import TITLES, URLS

    stamp = (DAY_START + timedelta(hours=19, minutes=50)).astimezone(timezone.utc)
    raws = []
    for i, title in enumerate(TITLES):
        raws.append(RawPost(
            source_id="bh_weibo", external_id=f"hostile-{i}", url=URLS[i % len(URLS)],
            title=title, body=f"{_WHERE[i % 4]}，{_WHO[i % 4]}{_DID[i % 5]}，{_SAY[i % 6]}",
            author=TITLES[(i + 3) % len(TITLES)], published_at=stamp + timedelta(seconds=i),
            fetched_at=stamp + timedelta(minutes=5), platform=TITLES[(i + 7) % len(TITLES)],
            reposts=1000 + i, comments=10))
    for i, title in enumerate(TITLES[:6]):
        raws.append(RawPost(
            source_id="bh_weibo", external_id=f"hostile-reply-{i}", url=URLS[i % len(URLS)],
            title="", body=title, author=TITLES[-1 - i], parent_id=f"hostile-{i}",
            relation="comment", published_at=stamp + timedelta(minutes=2, seconds=i),
            fetched_at=stamp + timedelta(minutes=5)))
    run = warehouse.start_run(stamp + timedelta(minutes=5))
    result = FetchResult(source_id="bh_weibo", status=FETCH_OK, cursor=SourceCursor(),
                         posts=tuple(raws))
    warehouse.store_fetch(run, result, scorer().score_many(raws), stamp + timedelta(minutes=5))
    warehouse.finish_run(run, stamp + timedelta(minutes=5), alerts_new=0,
                         notifications_sent=0, errors=[])


def post_ids(warehouse: Warehouse, group: str) -> list[int]:
    with warehouse.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM posts WHERE external_id LIKE :g "
                                      "ORDER BY id"), {"g": f"{group}-%"}).scalars())
