"""kind: json — a JSON Feed 1.1 and a JSON API with a field mapping, paged by cursor and by
page number against a local server; seen pages stop the paging; mapping errors named."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from collectors import fetch
from collectors.http import PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, SourceCursor
from collectors.replay import FeedReplayServer, Route
from collectors.sources import parse_sources
from jingyu.config import ConfigError

JSON = "application/json; charset=utf-8"


def body(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1", "title": "江城发布",
    "items": [
        {"id": "2026-1204-1", "url": "/news/1", "title": "江城公安发布冬季防火提示",
         "content_text": "进入冬季，火灾风险上升……", "date_published": "2026-12-04T08:00:00+08:00",
         "authors": [{"name": "江城发布"}]},
        {"id": "2026-1204-2", "content_html": "<p>临江派出所<b>民警</b>救助走失老人</p>",
         "date_published": "2026-12-04T09:30:00+08:00"},
        {"id": "empty"},
    ],
}


def source(url: str, options: dict | None = None):
    entry = {"id": "api", "name": "API", "kind": "json", "url": url}
    if options is not None:
        entry["options"] = options
    return parse_sources({"sources": [entry]}, "sources.yaml")[0]


def test_json_feed(client: PoliteClient) -> None:
    with FeedReplayServer({"/feed.json": Route(body(JSON_FEED), JSON)}) as srv:
        result = fetch(source(srv.url("/feed.json")), SourceCursor(), client)
    assert result.status == FETCH_OK
    first, second = sorted(result.posts, key=lambda p: p.external_id)
    assert first.title == "江城公安发布冬季防火提示" and first.url == srv.url("/news/1")
    assert first.author == "江城发布"
    assert first.published_at == datetime(2026, 12, 4, 0, 0, tzinfo=timezone.utc)
    assert second.body == "<p>临江派出所<b>民警</b>救助走失老人</p>"
    assert "1 bad item" in (result.error or "") and "neither title nor content" in result.error


WEIBO_LIKE = {"id": "mblog.id", "text": "mblog.text", "author": "mblog.user.screen_name",
              "published_at": "mblog.created_at", "url": "scheme"}


def api_page(start: int, count: int, next_cursor: str | None) -> bytes:
    cards = [{"card_type": 9, "scheme": f"/detail/{n}",
              "mblog": {"id": str(n), "text": f"第{n}条 关于派出所的讨论",
                        "created_at": "Thu Dec 03 21:15:00 +0800 2026",
                        "user": {"screen_name": f"网友{n}"}}}
             for n in range(start, start + count)]
    return body({"ok": 1, "data": {"cards": cards, "cursor": next_cursor}})


def test_api_mapping_with_cursor_paging(client: PoliteClient) -> None:
    routes = {"/api": Route(api_page(1, 3, "p2"), JSON),
              "/api?cursor=p2": Route(api_page(4, 3, "p3"), JSON),
              "/api?cursor=p3": Route(api_page(7, 2, None), JSON)}
    options = {"items": "data.cards", "fields": WEIBO_LIKE, "cursor": "data.cursor",
               "max_pages": 5}
    with FeedReplayServer(routes) as srv:
        first = fetch(source(srv.url("/api"), options), SourceCursor(), client)
        assert first.status == FETCH_OK, first.error
        assert sorted(int(p.external_id) for p in first.posts) == list(range(1, 9))
        post = next(p for p in first.posts if p.external_id == "5")
        assert post.author == "网友5" and post.url == srv.url("/detail/5")
        assert post.published_at == datetime(2026, 12, 3, 13, 15, tzinfo=timezone.utc)
        # Next time the first page is all seen: paging stops there.
        srv.set_route("/api", Route(api_page(1, 3, "p2") + b" ", JSON))
        hits = srv.hits("/api?cursor=p2")
        again = fetch(source(srv.url("/api"), options), first.cursor, client)
        assert again.posts == () and srv.hits("/api?cursor=p2") == hits


def test_page_number_paging_stops_at_max_pages(client: PoliteClient) -> None:
    routes = {f"/list?page={n}": Route(api_page(10 * n, 2, None), JSON) for n in range(1, 5)}
    routes["/list"] = routes["/list?page=1"]
    options = {"items": "data.cards", "fields": WEIBO_LIKE, "page_param": "page",
               "max_pages": 3}
    with FeedReplayServer(routes) as srv:
        result = fetch(source(srv.url("/list"), options), SourceCursor(), client)
        assert sorted(int(p.external_id) for p in result.posts) == [10, 11, 20, 21, 30, 31]
        assert srv.hits("/list?page=4") == 0


def test_a_changed_api_is_a_hard_failure(client: PoliteClient) -> None:
    options = {"items": "data.cards", "fields": WEIBO_LIKE}
    with FeedReplayServer({"/api": Route(body({"ok": 1, "data": {"list": []}}), JSON),
                           "/feed": Route(body({"items": []}), JSON)}) as srv:
        changed = fetch(source(srv.url("/api"), options), SourceCursor(), client)
        not_a_feed = fetch(source(srv.url("/feed")), SourceCursor(), client)
    assert changed.status == FETCH_ERROR and changed.failure == "hard"
    assert "no list of items at data.cards" in (changed.error or "")
    assert "not a JSON Feed" in (not_a_feed.error or "")


@pytest.mark.parametrize("options,where,problem", [
    ({"items": "data.list"}, "options", "items and fields go together"),
    ({"items": "data..list", "fields": {"text": "t"}}, "options.items", "not a field path"),
    ({"items": "d", "fields": {"title": "t"}}, "options.fields.text", "is required"),
    ({"items": "d", "fields": {"text": "t"}, "cursor": "c", "page_param": "p"}, "options",
     "cursor and page_param both given"),
    ({"max_pages": 50}, "options.max_pages", ""),
])
def test_mapping_errors_are_named(options, where, problem) -> None:
    with pytest.raises(ConfigError) as raised:
        source("http://127.0.0.1/api", options)
    assert str(raised.value).startswith(f"sources.yaml: sources[0].{where}: {problem}")
    assert "(fix:" in str(raised.value)
