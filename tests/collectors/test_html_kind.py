"""kind: html — a GBK 警情通报 list page served by a local server: items, titles, links resolved,
relative dates read in Beijing time, detail text fetched once per new item, selector errors
named in sources.yaml terms, a changed page named as a failure."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collectors import fetch
from collectors.dates import parse_page_date
from collectors.http import PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, SourceCursor
from collectors.replay import FeedReplayServer, Route
from collectors.sources import parse_sources
from jingyu.config import ConfigError

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
HTML = "text/html"        # no charset in the header: the page's own <meta> says gb2312
DETAIL_PATHS = ("/jqtb/202612/t20261204_1001.html", "/jqtb/202612/t20261203_1000.html",
                "/jqtb/202612/t20261201_0999.html", "/jqtb/202611/t20261128_0998.html")


def source(url: str, **options):
    entry = {"id": "jcga-jqtb", "name": "江城市公安局 警情通报", "kind": "html", "url": url,
             "options": {"items": "div.list li", "date": "span.date", **options}}
    return parse_sources({"sources": [entry]}, "sources.yaml")[0]


@pytest.fixture
def site():
    detail = (PAGES / "jcga_jqtb_1001.html").read_bytes()
    routes = {"/jqtb/": Route((PAGES / "jcga_jqtb_list.html").read_bytes(), HTML)}
    routes |= {path: Route(detail, HTML) for path in DETAIL_PATHS}
    with FeedReplayServer(routes) as server:
        yield server


def test_list_page_items(site: FeedReplayServer, client: PoliteClient) -> None:
    before = datetime.now(timezone.utc)
    result = fetch(source(site.url("/jqtb/")), SourceCursor(), client)
    assert result.status == FETCH_OK, result.error
    by_title = {post.title: post for post in result.posts}
    assert set(by_title) == {"关于江城路交通事故的警情通报", "江城警方破获一起电信网络诈骗案",
                             "反诈提醒：不要把验证码告诉任何人", "临江派出所民警救助落水群众"}
    fraud = by_title["江城警方破获一起电信网络诈骗案"]
    assert fraud.url == site.url("/jqtb/202612/t20261203_1000.html")   # ./ resolved
    assert fraud.external_id == fraud.url
    accident = by_title["关于江城路交通事故的警情通报"]
    assert before - timedelta(hours=3, minutes=1) < accident.published_at \
        < before - timedelta(hours=2, minutes=59)
    assert by_title["临江派出所民警救助落水群众"].published_at == \
        datetime(2026, 11, 27, 16, 0, tzinfo=timezone.utc)               # Beijing midnight
    # The entry without a link or title is skipped and named, not stored.
    assert "1 bad item" in (result.error or "") and "neither a title nor a link" in result.error
    # Unchanged page: nothing new.
    again = fetch(source(site.url("/jqtb/")), result.cursor, client)
    assert again.status in ("ok", "not_modified") and again.posts == ()


def test_detail_text_once_per_new_item(site: FeedReplayServer, client: PoliteClient) -> None:
    configured = source(site.url("/jqtb/"), detail="div.content", detail_limit=3)
    first = fetch(configured, SourceCursor(), client)
    assert first.status == FETCH_OK, first.error
    bodies = {post.title: post.body for post in first.posts}
    assert bodies["关于江城路交通事故的警情通报"].startswith("2026年12月4日9时许，江城路与北湖大道")
    assert "alert(1)" not in bodies["关于江城路交通事故的警情通报"]
    # detail_limit 3: the fourth keeps its list text.
    assert sum(body.startswith("2026年12月4日") for body in bodies.values()) == 3
    assert sum(site.hits(path) for path in DETAIL_PATHS) == 3
    site.set_route("/jqtb/", Route((PAGES / "jcga_jqtb_list.html").read_bytes() + b" ", HTML))
    again = fetch(configured, first.cursor, client)
    # Items already delivered are not fetched again.
    assert again.posts == () and sum(site.hits(path) for path in DETAIL_PATHS) == 3


def test_a_missing_detail_page_keeps_the_item(site: FeedReplayServer,
                                              client: PoliteClient) -> None:
    site.set_route(DETAIL_PATHS[0], Route(b"gone", HTML, status=404))
    result = fetch(source(site.url("/jqtb/"), detail="div.content"), SourceCursor(), client)
    assert result.status == FETCH_OK and len(result.posts) == 4
    assert "1 detail page(s) not read" in (result.error or "")


def test_page_changed_is_a_hard_failure(site: FeedReplayServer, client: PoliteClient) -> None:
    result = fetch(source(site.url("/jqtb/"), items="table.newlist tr"), SourceCursor(), client)
    assert result.status == FETCH_ERROR and result.failure == "hard"
    assert "the items selector 'table.newlist tr' matched nothing" in (result.error or "")


def test_xpath_selectors(site: FeedReplayServer, client: PoliteClient) -> None:
    result = fetch(source(site.url("/jqtb/"), items="xpath://div[@class='list']/ul/li[a]",
                          title="xpath:./a/@title", date="xpath:./span/text()"),
                   SourceCursor(), client)
    assert result.status == FETCH_OK and result.error is None
    # Only the first item has a title attribute; the others fall back to nothing but a link.
    titles = sorted(post.title for post in result.posts)
    assert titles[-1] == "关于江城路交通事故的警情通报" and len(result.posts) == 4


@pytest.mark.parametrize("options,field,problem", [
    ({"items": "ul li["}, "items", "not a valid selector 'ul li['"),
    ({"items": "xpath://ul/li[", "date": "span"}, "items", "not a valid selector"),
    ({"items": "li", "detail_limit": 500}, "detail_limit", ""),
    ({"items": "li", "titel": "a"}, "titel", "unknown field"),
])
def test_bad_selectors_are_named(options, field, problem) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources({"sources": [{"id": "x", "name": "X", "kind": "html",
                                    "url": "http://127.0.0.1/x", "options": options}]},
                      "sources.yaml")
    assert str(raised.value).startswith(f"sources.yaml: sources[0].options.{field}: {problem}")
    assert "(fix:" in str(raised.value)


NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)         # 10:00 in Beijing


def beijing(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


@pytest.mark.parametrize("text,expected", [
    ("刚刚", NOW),
    ("5分钟前", NOW - timedelta(minutes=5)),
    ("3小时前", NOW - timedelta(hours=3)),
    ("2天前", NOW - timedelta(days=2)),
    ("今天 08:30", beijing(2026, 12, 4, 8, 30)),
    ("昨天 14:20", beijing(2026, 12, 3, 14, 20)),
    ("前天", beijing(2026, 12, 2, 0, 0)),
    ("12-01 14:20", beijing(2026, 12, 1, 14, 20)),
    ("12月30日", beijing(2025, 12, 30, 0, 0)),       # not in the future: last year's
    ("[2026-11-28]", beijing(2026, 11, 28, 0, 0)),
    ("发布时间：2026年11月20日 08:30", beijing(2026, 11, 20, 8, 30)),
    ("下一页", None),
    ("", None),
    ("02-30", None),
])
def test_page_dates(text: str, expected: datetime | None) -> None:
    assert parse_page_date(text, NOW) == expected


def test_relative_dates_count_back_from_a_given_fetch_time(site: FeedReplayServer,
                                                          client: PoliteClient) -> None:
    """A cycle run at a given time (a replay) reads "3小时前" from that time, not the clock."""
    at = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
    result = fetch(source(site.url("/jqtb/")), SourceCursor(), client, now=at)
    accident = next(p for p in result.posts if p.title == "关于江城路交通事故的警情通报")
    assert accident.published_at == at - timedelta(hours=3)
    assert {p.fetched_at for p in result.posts} == {at}
