"""热点事件 on the duty board (issue 13): the real-world events of the last 24 h, ranked by
their posts about the police, each with its stories inside and a link to its incident, in a
real headless Chromium over the planted night-market day (tests/reports/planted.py: 25
differently worded texts of one happening, hostile titles and links among its posts, other
happenings beside it) moved to the last 24 hours. Every number is checked against SQL
written here. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from jingyu.timeutil import as_utc_naive, utcnow
from tests.console.harness import PASSWORD
from tests.console.test_hostile_pages import Watch, _inert
from tests.reports.planted import DAY_START, add_hostile, load, open_incident, post_ids
from warehouse.models import Post


def _log_in(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base + "/")


@pytest.fixture
def planted_console(serve, sqlite_url):
    """The planted day, its last post a minute ago, the market's incident opened."""
    warehouse = load(sqlite_url)
    try:
        add_hostile(warehouse)
        incident = open_incident(warehouse)
        shift = (as_utc_naive(utcnow()) - as_utc_naive(DAY_START + timedelta(hours=24))
                 - timedelta(minutes=1))
        with warehouse.engine.begin() as conn:
            for post_id, seen_at in conn.execute(select(Post.id, Post.seen_at)).all():
                conn.execute(update(Post).where(Post.id == post_id)
                             .values(seen_at=seen_at + shift))
        market = post_ids(warehouse, "market")
        with warehouse.engine.connect() as conn:
            since = as_utc_naive(utcnow() - timedelta(hours=24))
            by_event = {e: (n, neg, stories) for e, n, neg, stories in conn.execute(text(
                "SELECT ep.event_id, COUNT(*), SUM(CASE WHEN p.police_stance = 'negative' "
                "THEN 1 ELSE 0 END), COUNT(DISTINCT COALESCE(p.story_id, -p.id)) "
                "FROM posts p JOIN event_posts ep ON ep.post_id = p.id "
                "WHERE p.police_related AND p.seen_at >= :since GROUP BY ep.event_id"),
                {"since": since})}
            market_events = set(conn.execute(text(
                "SELECT DISTINCT event_id FROM event_posts WHERE post_id IN "
                f"({', '.join(map(str, market))})")).scalars())
    finally:
        warehouse.close()
    yield serve(sqlite_url), incident, by_event, market_events


def test_board_ranks_events_of_the_day_with_stories_and_incident(planted_console, page,
                                                                  screenshot):
    console, incident, by_event, market_events = planted_console
    assert len(market_events) == 1                    # the 25 wordings are one happening
    [market] = market_events
    watch = Watch(page)
    _log_in(page, console.base, "张三")
    shown = page.locator(".hot-event")
    ranked = [(e, v) for e, v in sorted(by_event.items(), key=lambda kv: (-kv[1][0], kv[0]))
              [:8] if v[0] >= 2]                  # a lone post is not a hot event
    assert len(ranked) < min(8, len(by_event))     # some were left out for it
    assert shown.count() == len(ranked)
    ids = [int(i.removeprefix("event-")) for i in shown.evaluate_all("els => els.map(e => e.id)")]
    assert ids == [e for e, _ in ranked]
    first = page.locator(f"#event-{market}")
    assert ids[0] == market
    posts, negative, stories = by_event[market]
    meta = first.locator(".meta").inner_text()
    assert f"{posts} 条" in meta and f"对警负面 {negative}" in meta and f"E{market}" in meta
    assert "新出现" in meta                          # nothing of it the day before
    listed = first.locator(".stories li")
    assert listed.count() == 4                       # three stories, then the rest counted
    assert f"其余 {stories - 3} 个热点" in listed.nth(3).inner_text()
    first.get_by_role("link", name=f"事件 #{incident}").click()
    page.wait_for_url(f"{console.base}/incidents/{incident}")
    page.go_back()
    # the event's title is a hostile post's (zero-width characters, bidi): shown cleaned
    text_of_board = _inert(page, console.base, watch, "board 热点事件")
    assert "民警打人" in text_of_board
    screenshot(page, "board")


def test_a_station_sees_only_its_jurisdictions_events(planted_console, page):
    console, incident, by_event, market_events = planted_console
    _log_in(page, console.base, "临江所民警")
    section = page.locator("section.hot")
    assert section.locator(".hot-event").count() >= 1
    assert "北湖" not in section.inner_text() and "外卖小哥" not in section.inner_text()
    # the incident is the 分局's (qingchuan.linjiang), above the station: no link to it
    assert section.locator("a.incident-link").count() == 0
    assert re.search(r"临江", section.inner_text())
