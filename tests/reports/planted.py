"""A day with planted events, scored by the real Scorer and stored through the real warehouse
(stories and events formed on load, as in production): the night-market surge in 临江区 (25
texts in many wordings, one of them copied five times), a rough arrest in 北湖区, police
praised in 云溪区, and texts that general sentiment calls negative but that are not against
the police — a 反诈 lecture, a bus-timetable question, a drink-driving notice, anger at an
offender, an appeal to solve a case."""
from __future__ import annotations

import random
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


@dataclass(frozen=True)
class Planted:
    group: str                         # market | arrest | rescue | other
    source_id: str
    external_id: str
    text: str
    seen_at: datetime                  # aware UTC


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
                            title="", body=p.text, author=f"网友{p.external_id}",
                            published_at=p.seen_at, fetched_at=stamp)
                    for p in posts if p.source_id == source.id]
            result = FetchResult(source_id=source.id, status=FETCH_OK, cursor=SourceCursor(),
                                 posts=tuple(raws))
            warehouse.store_fetch(run, result, scorer().score_many(raws), stamp)
        warehouse.finish_run(run, stamp, alerts_new=0, notifications_sent=0, errors=[])
    return warehouse


def post_ids(warehouse: Warehouse, group: str) -> list[int]:
    with warehouse.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM posts WHERE external_id LIKE :g "
                                      "ORDER BY id"), {"g": f"{group}-%"}).scalars())
