"""Stories in the warehouse (real SQLite and PostgreSQL): reposts join one story across
cycles, an official post flips has_official_post, growth over the last hour."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from transforms.stories import fingerprint
from warehouse.models import Post, PostBand
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
SOURCES = [
    SourceConfig(id="police", name="青川公安", kind="feed", url="http://127.0.0.1/p.xml",
                 tags=("official",), jurisdiction="qingchuan"),
    SourceConfig(id="weibo", name="微博关键词", kind="feed", url="http://127.0.0.1/w.xml",
                 jurisdiction="qingchuan"),
    SourceConfig(id="news", name="青川日报", kind="feed", url="http://127.0.0.1/n.xml"),
]
ORIGINAL = ("青川市临江区滨河路夜市发生一起纠纷，一名辅警在执法过程中推倒摆摊阿姨，"
            "现场视频在网上流传，引发网友热议。")
REPOSTS = ["转发微博 " + ORIGINAL, "//@临江吃瓜群众: 太过分了！" + ORIGINAL,
           ORIGINAL.replace("，", " ") + "[怒][怒]"]
OTHER = "北湖公园今天举办菊花展，市民游客络绎不绝，现场秩序井然。"
STATEMENT = ("警情通报：青川市临江区滨河路夜市发生一起纠纷，一名辅警在执法过程中推倒摆摊阿姨，"
             "现场视频在网上流传。临江分局已成立调查组。")


def post(source_id: str, external_id: str, text: str, seen: datetime,
         places: tuple[str, ...] = ()) -> ScoredPost:
    raw = RawPost(source_id=source_id, external_id=external_id, url=None, title="", body=text,
                  author=None, published_at=seen, fetched_at=seen)
    return ScoredPost(raw=raw, text=text, content_hash=external_id, keywords=(),
                      police_related=True, police_terms=("辅警",), sentiment=0.2,
                      polarity="negative", topics=(), rule_hits=(), high_risk=False,
                      places=places, story_keys=fingerprint(text))


def store(wh: Warehouse, source_id: str, posts: list[ScoredPost], now: datetime) -> int:
    run_id = wh.start_run(now)
    result = FetchResult(source_id=source_id, status=FETCH_OK,
                         cursor=SourceCursor(seen_ids=tuple(p.raw.external_id for p in posts)),
                         posts=tuple(p.raw for p in posts), http_status=200)
    return wh.store_fetch(run_id, result, posts, now)


def story_ids(wh: Warehouse) -> dict[str, int | None]:
    with wh.engine.connect() as conn:
        return dict(conn.execute(select(Post.external_id, Post.story_id)).all())


@pytest.fixture
def wh(warehouse_url: str):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    yield warehouse
    warehouse.close()


def test_reposts_join_one_story_across_cycles(wh: Warehouse) -> None:
    t0 = NOW - timedelta(hours=3)
    store(wh, "weibo", [post("weibo", "w0", ORIGINAL, t0), post("weibo", "x", OTHER, t0)], t0)
    # Later cycles, another source: the copies join the stored story.
    store(wh, "news", [post("news", f"n{i}", text, t0 + timedelta(minutes=10 * (i + 1)))
                       for i, text in enumerate(REPOSTS)], t0 + timedelta(minutes=40))
    ids = story_ids(wh)
    assert ids["w0"] is not None
    assert {ids["n0"], ids["n1"], ids["n2"]} == {ids["w0"]}
    assert ids["x"] != ids["w0"]
    story = wh.story(ids["w0"], NOW)
    assert story.size == 4 and story.representative_post_id is not None
    assert story.first_seen == t0 and story.last_seen == t0 + timedelta(minutes=30)
    assert not story.has_official_post and story.official_first_at is None
    # Band keys are stored with the posts: 8 per post with text.
    with wh.engine.connect() as conn:
        assert len(conn.execute(select(PostBand.band_key)).all()) == 8 * 5


def test_storing_the_same_fetch_twice_changes_no_story(wh: Warehouse) -> None:
    posts = [post("weibo", "w0", ORIGINAL, NOW), post("weibo", "w1", REPOSTS[0], NOW)]
    assert store(wh, "weibo", posts, NOW) == 2
    before = story_ids(wh)
    assert store(wh, "weibo", posts, NOW) == 0
    assert story_ids(wh) == before and wh.story(before["w0"], NOW).size == 2


def test_an_official_post_flips_has_official_post(wh: Warehouse) -> None:
    t0 = NOW - timedelta(hours=2)
    store(wh, "weibo", [post("weibo", "w0", ORIGINAL, t0)], t0)
    story_id = story_ids(wh)["w0"]
    assert not wh.story(story_id, NOW).has_official_post
    stated = t0 + timedelta(minutes=50)
    store(wh, "police", [post("police", "p0", STATEMENT, stated)], stated)
    assert story_ids(wh)["p0"] == story_id
    story = wh.story(story_id, NOW)
    assert story.has_official_post and story.official_first_at == stated


def test_growth_counts_the_last_hour_against_before(wh: Warehouse) -> None:
    early = NOW - timedelta(hours=5)
    store(wh, "weibo", [post("weibo", "w0", ORIGINAL, early)], early)
    recent = [post("news", f"n{i}", text, NOW - timedelta(minutes=5 * (i + 1)))
              for i, text in enumerate(REPOSTS)]
    store(wh, "news", recent, NOW)
    story = wh.story(story_ids(wh)["w0"], NOW)
    assert (story.size, story.last_hour, story.before) == (4, 3, 1) and story.growing
    assert [s.id for s in wh.stories(NOW, since=NOW - timedelta(hours=1))] == [story.id]
    assert not wh.story(story.id, NOW + timedelta(hours=3)).growing


def test_the_most_specific_place_routes_the_post(wh: Warehouse) -> None:
    store(wh, "weibo", [post("weibo", "w0", ORIGINAL, NOW,
                             places=("qingchuan.linjiang.linjiang_pcs", "qingchuan")),
                        post("weibo", "w1", OTHER, NOW)], NOW)
    with wh.engine.connect() as conn:
        stored = dict(conn.execute(select(Post.external_id, Post.jurisdiction)).all())
    assert stored == {"w0": "qingchuan.linjiang.linjiang_pcs", "w1": "qingchuan"}
