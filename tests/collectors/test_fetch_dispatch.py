"""collectors.fetch: dispatch by kind, and no exception ever escapes for one source."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from collectors import fetch
from collectors.http import PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, FILE_KIND, SourceConfig, SourceCursor
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
    source = SourceConfig(id="export", name="导出", kind=FILE_KIND, url=str(path),
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


def test_unexpected_exception_becomes_an_error(tmp_path: Path, client: PoliteClient) -> None:
    path = tmp_path / "export.csv"
    path.write_text("正文\n内容\n", encoding="utf-8")
    # Built by hand, skipping sources.yaml validation: the column mapping is missing.
    source = SourceConfig(id="hand-made", name="?", kind=FILE_KIND, url=str(path),
                          options={"format": "csv"})

    result = fetch(source, SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.error == f"hand-made: unexpected KeyError: 'columns' (while fetching {path})"
