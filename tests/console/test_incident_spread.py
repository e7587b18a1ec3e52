"""传播路径 on an incident's page, in a real headless Chromium: the incident's event with its
comment threads (a reply to a comment too), a repost, a second source, the first poster, the
most spread posts and accounts, the curve — and a stranger's markup shown as text."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from jingyu.timeutil import utcnow
from tests.console.harness import LINJIANG_PCS
from tests.console.test_console_browser import log_in
from transforms.records import ScoredPost
from warehouse.events import move_posts
from warehouse.incidents import IncidentStore
from warehouse.models import EventPostRow, Post
from warehouse.store import Warehouse

HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'


def store(wh: Warehouse, source: str, posts: list[RawPost]) -> None:
    scored = [ScoredPost(raw=p, text=p.body, content_hash=f"h-{source}-{p.external_id}",
                         keywords=(), police_related=True, police_terms=(), sentiment=0.2,
                         polarity="negative", topics=(), rule_hits=(), high_risk=False)
              for p in posts]
    at = max(p.fetched_at for p in posts)
    wh.store_fetch(wh.start_run(at), FetchResult(source_id=source, status=FETCH_OK,
                                                 cursor=SourceCursor(), posts=tuple(posts)),
                   scored, at)


def test_incident_page_shows_the_spread_of_its_event(console, page, screenshot):
    opened = utcnow() - timedelta(hours=3)
    incident = console.seed.incident("辅警推倒摊贩 阿姨受伤", LINJIANG_PCS, at=opened)
    source = f"weibo-{LINJIANG_PCS}"

    def post(external, minutes, title, author, parent=None, relation=None, **counts):
        at = opened + timedelta(minutes=minutes)
        return RawPost(source_id=source, external_id=external,
                       url=f"https://weibo.example/{external}", title=title, body=title,
                       author=author, published_at=at, fetched_at=at, platform="微博",
                       parent_id=parent, relation=relation, **counts)

    wh = Warehouse(console.url)
    try:
        wh.sync_sources([SourceConfig(id=source, name="微博", kind="feed", url="http://x/w",
                                      jurisdiction=LINJIANG_PCS),
                         SourceConfig(id="news", name="临江晚报", kind="feed", url="http://x/n",
                                      jurisdiction=LINJIANG_PCS)])
        seeded = IncidentStore(wh).get(incident)
        assert seeded.event_id is not None
        # The seeded post is external id "1" of the source: its thread, 1-2 hours later.
        store(wh, source, [
            post("c1", 70, "阿姨没事吧", HOSTILE, parent="1", relation="comment", comments=3),
            post("c2", 80, "回复：已送医", "热心网友", parent="c1", relation="comment"),
            post("r1", 90, "转发：辅警推倒摊贩", "大V转发", parent="1", relation="repost",
                 reposts=120, comments=45),
        ])
        at = opened + timedelta(minutes=150)
        store(wh, "news", [RawPost(source_id="news", external_id="n1",
                                   url="https://news.example/n1", title="临江街道摊贩受伤事件追踪",
                                   body="追踪报道", author="临江晚报", published_at=at,
                                   fetched_at=at)])
        with Session(wh.engine) as session, session.begin():
            news = session.scalar(select(Post.id).where(Post.external_id == "n1"))
            move_posts(session, [news], seeded.event_id, "analyst")
            event_titles = set(session.scalars(
                select(Post.title).join(EventPostRow, EventPostRow.post_id == Post.id)
                .where(EventPostRow.event_id == seeded.event_id)))
    finally:
        wh.close()

    log_in(page, console.base, "张三")
    page.goto(f"{console.base}/incidents/{incident}")
    section = page.locator("section.spread")
    heading = section.locator("h2").inner_text()
    assert f"舆情事件 #{seeded.event_id}" in heading
    assert "帖子 2 条" in heading and "评论 2 条、转发 1 条" in heading and "跟帖 3 条" in heading
    assert "辅警推倒摊贩" in section.locator(".spread-first").inner_text()
    platforms = section.locator(".spread-platforms").inner_text()
    assert "微博 4" in platforms and "临江晚报 1" in platforms
    # Most spread first: the repost (120 + 45), then the comment with its reply.
    rows = section.locator("table.spread-posts tbody tr")
    assert "转发：辅警推倒摊贩" in rows.nth(0).inner_text() and "120" in rows.nth(0).inner_text()
    assert "大V转发" in section.locator("table.spread-accounts tbody tr").nth(0).inner_text()
    # A stranger's name is text, not markup.
    assert HOSTILE in section.locator("table.spread-accounts").inner_text()
    assert section.locator("img").count() == 0 and page.title() != "pwned"
    # The curve: every post of the event and its threads, in bars of one hour.
    bars = section.locator("svg g title")
    labels = [bars.nth(i).text_content() for i in range(bars.count())]
    assert sum(int(label.split("帖子 ")[1].split(" 条")[0]) for label in labels) == 2
    assert sum(int(label.split("评论/转发 ")[1].split(" 条")[0]) for label in labels) == 3
    assert section.locator("rect.sbar.thread[height]").count() == len(labels)
    # 传播量 and 相关帖子 read the same posts: every post of the event is listed and counted
    # (the news report joined the event by hand shares no text or story with the evidence).
    assert len(event_titles) == 2 and "临江街道摊贩受伤事件追踪" in event_titles
    listed = page.locator("ol.evidence li")
    texts = [listed.nth(i).inner_text() for i in range(listed.count())]
    for title in event_titles:
        assert any(title in t for t in texts), (title, texts)
    volume = page.locator("h2", has_text="传播量").inner_text()
    assert f"共 {len(texts)} 条" in volume, (volume, len(texts))
    section.scroll_into_view_if_needed()
    screenshot(page, "incident-spread")
    # On a duty officer's phone the section fits the screen's width.
    page.set_viewport_size({"width": 375, "height": 667})
    page.reload()
    section = page.locator("section.spread")
    width = page.evaluate("document.querySelector('section.spread').scrollWidth")
    assert width <= 375, f"传播路径 is {width} px wide on a 375 px phone"
    section.scroll_into_view_if_needed()
    screenshot(page, "incident-spread-phone", full_page=False)


def test_a_slow_spread_is_kept_for_a_minute_a_quick_one_never(sqlite_url, monkeypatch):
    from console.spread_view import SpreadCache
    from tests.warehouse.test_spread import raw as make
    from tests.warehouse.test_spread import store as keep
    from tests.warehouse.test_spread import world

    wh, ids = world(sqlite_url)
    try:
        cache = SpreadCache()
        before = cache.spread(wh.engine, None, [ids["p1"]])
        keep(wh, "mc-weibo", [make("mc-weibo", "c9", 60, "又一条评论", "路人丁", parent="p1",
                                   relation="comment")])
        assert cache.spread(wh.engine, None, [ids["p1"]]).thread_posts == \
            before.thread_posts + 1                        # quick: read again, current
        monkeypatch.setattr(SpreadCache, "SLOW_S", 0.0)  # every read counts as slow
        kept = cache.spread(wh.engine, None, [ids["p1"]])
        keep(wh, "mc-weibo", [make("mc-weibo", "c10", 61, "再一条", "路人戊", parent="p1",
                                   relation="comment")])
        assert cache.spread(wh.engine, None, [ids["p1"]]) is kept       # within the minute
        monkeypatch.setattr(SpreadCache, "KEEP_S", -1.0)
        cache._kept.clear()
        cache.spread(wh.engine, None, [ids["p1"]])
        assert cache.spread(wh.engine, None, [ids["p1"]]).thread_posts == \
            kept.thread_posts + 1                          # expired: read again
    finally:
        wh.close()
