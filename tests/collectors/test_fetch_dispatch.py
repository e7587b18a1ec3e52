"""collectors.fetch: dispatch by kind, and no exception ever escapes for one source."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from collectors import fetch, kinds
from collectors.kinds import FollowPage, HttpKind, Page, Parsed
from collectors.http import PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, SourceConfig, SourceCursor
from collectors.replay import FeedReplayServer, Route


def test_feed_source_is_fetched_over_http(recorded_feed: Callable[[str], bytes],
                                          client: PoliteClient,
                                          feed_source: Callable[..., SourceConfig]) -> None:
    routes = {"/rss.xml": Route(recorded_feed("rdf_legal_channel.xml"))}
    with FeedReplayServer(routes) as srv:
        result = fetch(feed_source(srv.url("/rss.xml")), SourceCursor(), client)
        assert srv.hits("/rss.xml") == 1

    assert result.status == FETCH_OK
    assert len(result.posts) == 2


def test_file_source_is_imported(tmp_path: Path, client: PoliteClient) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"content": "民警护送高考考生"}\n', encoding="utf-8")
    source = SourceConfig(id="export", name="导出", kind="file", url=str(path),
                          options={"format": "jsonl", "columns": {"text": "content"}})

    result = fetch(source, SourceCursor(), client)

    assert result.status == FETCH_OK
    assert [post.body for post in result.posts] == ["民警护送高考考生"]


def test_unknown_kind_is_an_error(client: PoliteClient) -> None:
    source = SourceConfig(id="odd", name="?", kind="telegram", url="https://t.me/x")

    result = fetch(source, SourceCursor(etag="kept"), client)

    assert result.status == FETCH_ERROR
    assert result.error == "odd: unknown source kind 'telegram'"
    assert result.cursor == SourceCursor(etag="kept")


def test_options_built_by_hand_are_validated(tmp_path: Path, client: PoliteClient) -> None:
    path = tmp_path / "export.csv"
    path.write_text("正文\n内容\n", encoding="utf-8")
    # Built by hand, skipping sources.yaml validation: the column mapping is missing.
    source = SourceConfig(id="hand-made", name="?", kind="file", url=str(path),
                          options={"format": "csv"})

    result = fetch(source, SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.error == "hand-made: invalid options for kind file: Field required at columns"


class _Broken(HttpKind):
    name = "broken"
    summary = url_means = "a kind with a bug"

    def parse(self, page: Page, source: SourceConfig, follow: FollowPage) -> Parsed:
        raise KeyError("title")


def test_unexpected_exception_becomes_an_error(client: PoliteClient,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds._KINDS, "broken", _Broken())
    with FeedReplayServer({"/x": Route(b"<html></html>")}) as srv:
        source = SourceConfig(id="buggy", name="?", kind="broken", url=srv.url("/x"))
        result = fetch(source, SourceCursor(etag="kept"), client)

    assert result.status == FETCH_ERROR
    assert result.error == f"buggy: unexpected KeyError: 'title' (while fetching {source.url})"
    assert result.cursor == SourceCursor(etag="kept")


def test_a_source_key_never_reaches_its_error(client: PoliteClient,
                                              feed_source: Callable[..., SourceConfig]) -> None:
    # A self-hosted RSSHub takes its access key in the query; source health, logs and the run
    # summary keep the error, never the key (issue 10).
    key = "rsshub-acc355-k3y-9f8e7d"
    routes = {"/weibo/keyword/police": Route(b"blocked", status=403),
              f"/{key}/feed": Route(b"gone", status=404)}
    with FeedReplayServer(routes) as srv:
        for url in (srv.url("/weibo/keyword/police") + f"?key={key}", srv.url(f"/{key}/feed")):
            result = fetch(feed_source(url), SourceCursor(), client)
            assert result.status == FETCH_ERROR and result.error
            assert key not in result.error and "***" in result.error


def test_a_fetch_at_a_given_time_is_stamped_then(recorded_feed: Callable[[str], bytes],
                                                 tmp_path: Path, client: PoliteClient,
                                                 feed_source: Callable[..., SourceConfig]
                                                 ) -> None:
    """A cycle run at a given time (a replay) stamps its posts fetched at that time."""
    at = datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)
    path = tmp_path / "export.jsonl"
    path.write_text('{"content": "民警护送高考考生"}\n', encoding="utf-8")
    exported = SourceConfig(id="export", name="导出", kind="file", url=str(path),
                            options={"format": "jsonl", "columns": {"text": "content"}})
    with FeedReplayServer({"/rss.xml": Route(recorded_feed("rdf_legal_channel.xml"))}) as srv:
        over_http = fetch(feed_source(srv.url("/rss.xml")), SourceCursor(), client, now=at)
        live = fetch(feed_source(srv.url("/rss.xml")), SourceCursor(), client)
    from_file = fetch(exported, SourceCursor(), client, now=at)

    assert over_http.posts and {p.fetched_at for p in over_http.posts} == {at}
    assert [p.fetched_at for p in from_file.posts] == [at]
    assert all(p.fetched_at > at for p in live.posts)   # live: the wall clock
