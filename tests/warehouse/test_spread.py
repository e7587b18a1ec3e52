"""Spread of an event and of what an incident is about: its posts on several sources and
their comment threads (comments of comments too), first poster, most spread posts and
accounts, platforms and sources reached, the curve — on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.events import merge_events, move_posts
from warehouse.models import Post
from warehouse.spread import event_spread, incident_spread
from warehouse.store import Warehouse

T0 = datetime(2026, 12, 3, 1, 20, tzinfo=UTC)      # 09:20 in Beijing


def raw(source: str, external: str, minutes: int, title: str, author: str | None,
        parent: str | None = None, relation: str | None = None, reposts: int | None = None,
        comments: int | None = None, platform: str | None = None) -> RawPost:
    at = T0 + timedelta(minutes=minutes)
    return RawPost(source_id=source, external_id=external, url=f"https://x.example/{external}",
                   title=title, body=title, author=author, published_at=at, fetched_at=at,
                   platform=platform, reposts=reposts, comments=comments, parent_id=parent,
                   relation=relation)


def store(wh: Warehouse, source: str, posts: list[RawPost]) -> None:
    scored = [ScoredPost(raw=p, text=p.body, content_hash=f"h-{p.source_id}-{p.external_id}",
                         keywords=(), police_related=True, police_terms=(), sentiment=0.2,
                         polarity="negative", topics=(), rule_hits=(), high_risk=False)
              for p in posts]
    at = max(p.fetched_at for p in posts)
    run = wh.start_run(at)
    wh.store_fetch(run, FetchResult(source_id=source, status=FETCH_OK, cursor=SourceCursor(),
                                    posts=tuple(posts)), scored, at)


def world(url: str) -> tuple[Warehouse, dict[str, int]]:
    wh = Warehouse(url)
    wh.sync_sources([SourceConfig(id="mc-weibo", name="MediaCrawler 微博", kind="feed",
                                  url="http://x/w"),
                     SourceConfig(id="news", name="江城晚报", kind="feed", url="http://x/n")])
    # The comments are read before the post they answer (a crawler's order); a comment on a
    # comment; a repost; a news report an hour later; an unrelated post with its own comment.
    store(wh, "mc-weibo", [
        raw("mc-weibo", "c1", 30, "警察怎么不管", "路人甲", parent="p1", relation="comment"),
        raw("mc-weibo", "c2", 40, "管了，视频后半段", "路人乙", parent="c1", relation="comment"),
    ])
    store(wh, "mc-weibo", [
        raw("mc-weibo", "p1", 0, "城东路口交警执法视频", "江城路况", reposts=40, comments=2,
            platform="微博"),
        raw("mc-weibo", "p2", 10, "城东交警执法又上热搜", "吃瓜群众", comments=1, platform="微博"),
        raw("mc-weibo", "r1", 50, "转发：城东交警", "转发者", parent="p1", relation="repost",
            platform="微博"),
        raw("mc-weibo", "c3", 20, "真的假的", "路人丙", parent="p2", relation="comment"),
        raw("mc-weibo", "x1", 5, "今天天气不错", "别人", platform="微博"),
        raw("mc-weibo", "xc", 6, "是啊", "别人2", parent="x1", relation="comment"),
    ])
    store(wh, "news", [raw("news", "n1", 70, "城东交警执法视频引关注", "江城晚报记者")])
    with wh.engine.connect() as conn:
        ids = dict(conn.execute(select(Post.external_id, Post.id)).all())
    return wh, ids


def test_event_spread_counts_comment_threads_sources_and_the_curve(warehouse_url: str) -> None:
    wh, ids = world(warehouse_url)
    with Session(wh.engine) as session, session.begin():
        # The event's own posts as an analyst would put them together (split, then merged).
        event = move_posts(session, [ids["p1"], ids["n1"]], None, "split")
        other = move_posts(session, [ids["p2"]], None, "split")
        merge_events(session, event, other)
    # The merged-away event's id still finds the whole event.
    spread = event_spread(wh.engine, other)
    assert spread is not None and spread.event_id == event
    assert spread.posts == 3
    # Threads: c1, c2 (a reply to c1), r1 under p1; c3 under p2 — not x1's comment.
    assert spread.thread_posts == 4
    assert (spread.comments, spread.reposts) == (3, 1)
    assert spread.first.id == ids["p1"] and spread.first.author == "江城路况"
    top = spread.most_spread[0]
    assert top.id == ids["p1"] and (top.reposts, top.comments) == (40, 2)
    # c1 has one comment we hold (c2) though the crawler gave no count.
    assert any(p.id == ids["c1"] and p.comments == 1 for p in spread.most_spread)
    assert spread.accounts[0].author == "江城路况"
    assert dict(spread.platforms) == {"微博": 3, "MediaCrawler 微博": 3, "江城晚报": 1}
    assert dict(spread.sources) == {"MediaCrawler 微博": 6, "江城晚报": 1}
    # The curve: hourly from 09:00 Beijing; every held post counted once, threads apart.
    assert spread.step == timedelta(hours=1)
    assert spread.curve[0].start == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert [(b.posts, b.threads) for b in spread.curve] == [(2, 2), (1, 2)]
    assert sum(b.total for b in spread.curve) == spread.total == 7
    assert event_spread(wh.engine, 10**9) is None
    wh.close()


def test_incident_spread_falls_back_to_the_story_of_its_evidence(warehouse_url: str) -> None:
    wh, ids = world(warehouse_url)
    with wh.engine.connect() as conn:
        story = conn.scalar(select(Post.story_id).where(Post.id == ids["x1"]))
    # No event of its own (an unknown id): the story of the evidence post, and its comment.
    spread = incident_spread(wh.engine, 10**9, [ids["x1"]])
    assert spread is not None and spread.event_id is None
    assert spread.first.id == ids["x1"]
    assert spread.thread_posts == 1 and spread.comments == 1
    assert spread.story_id == story
    assert incident_spread(wh.engine, None, []) is None
    assert incident_spread(wh.engine, None, [10**9]) is None
    wh.close()


def test_incident_posts_follow_a_merged_event_like_its_spread(warehouse_url: str) -> None:
    """The incident page's 传播量 and 相关帖子 and the 专报 read warehouse.incident_posts; an
    incident whose event was merged into another still finds every post of the event, the
    same posts as its 传播路径 (event_spread) counts as the event's own."""
    from warehouse.incident_posts import incident_posts

    wh, ids = world(warehouse_url)
    with Session(wh.engine) as session, session.begin():
        event = move_posts(session, [ids["p1"], ids["n1"]], None, "split")
        other = move_posts(session, [ids["p2"]], None, "split")
        merge_events(session, event, other)
    spread = event_spread(wh.engine, other)
    found = incident_posts(wh.engine, [], [], event_id=other)
    assert {p.id for p in found} == {ids["p1"], ids["n1"], ids["p2"]}
    assert len(found) == spread.posts == 3
    assert incident_posts(wh.engine, [], [], event_id=event) == found
    wh.close()
