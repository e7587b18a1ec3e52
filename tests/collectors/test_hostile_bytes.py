"""Bytes that break storage or decoding, slow servers and redirects inward, at the collector
boundary (issue 10), through the real base collector against real local HTTP servers."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors import fetch
from collectors.http import HttpPolicy, PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, SourceConfig, SourceCursor
from collectors.replay import FeedReplayServer, Route
from flows.settings import load_rules
from transforms.scoring import Scorer, ScoringSettings
from warehouse.store import Warehouse

from tests.collectors.conftest import FAST_POLICY

NUL_FEED = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>江城</title>'
    '<item><guid>urn:jc:1</guid><title>民警&#0;救助老人</title><description>雪夜\x00救助</description>'
    '</item><item><guid>urn:jc:2</guid><title>交警\x01\x1b[2J执勤</title><description>正常</description>'
    '</item><item><guid>urn:jc:3</guid><title>派出所开放日</title><description>欢迎参观</description>'
    '</item></channel></rss>').encode("utf-8")

GBK_FEED_TEXT = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<rss version="2.0"><channel><title>青川县公安局</title>'
    '<item><guid>g1</guid><title>民警雪夜救助迷路老人</title>'
    '<description>青川县公安局巡逻民警在零下十度的雪夜找到走失老人</description></item>'
    '<item><guid>g2</guid><title>交警整治酒驾</title><description>查处酒驾三起</description></item>'
    '</channel></rss>')


def _feed(url: str, source_id: str = "jiangcheng") -> SourceConfig:
    return SourceConfig(id=source_id, name="江城", kind="feed", url=url)


# ---- NUL and other unstorable characters -------------------------------------------------

def test_nul_and_control_characters_are_removed_from_feed_items(client: PoliteClient) -> None:
    with FeedReplayServer({"/rss.xml": Route(NUL_FEED)}) as srv:
        result = fetch(_feed(srv.url("/rss.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK
    by_id = {post.external_id: post for post in result.posts}
    assert sorted(by_id) == ["urn:jc:1", "urn:jc:2", "urn:jc:3"]
    assert by_id["urn:jc:1"].title == "民警救助老人"
    assert by_id["urn:jc:1"].body == "雪夜救助"
    assert by_id["urn:jc:2"].title == "交警[2J执勤"
    for post in result.posts:
        assert not any(ord(char) < 32 and char not in "\t\n\r"
                       for char in post.title + post.body)
    assert "removed unstorable characters" in (result.error or "")


def test_nul_and_lone_surrogates_in_jsonl_are_removed(tmp_path: Path,
                                                      client: PoliteClient) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"id": "a", "content": "民警\\u0000执勤\\ud800"}\n'
                    '{"id": "b", "content": "正常的一条"}\n', encoding="utf-8")
    source = SourceConfig(id="export", name="导出", kind="file", url=str(path),
                          options={"format": "jsonl", "columns": {"text": "content", "id": "id"}})

    result = fetch(source, SourceCursor(), client)

    assert result.status == FETCH_OK
    assert {post.external_id: post.body for post in result.posts} == {"a": "民警执勤",
                                                                     "b": "正常的一条"}


@pytest.mark.postgres
def test_feed_with_nul_is_stored_whole_in_postgresql(postgres_url: str,
                                                      client: PoliteClient) -> None:
    """Today PostgreSQL refuses the whole batch of a source with one NUL, every cycle."""
    source = _feed("http://127.0.0.1/rss.xml")
    warehouse = Warehouse(postgres_url)
    try:
        with FeedReplayServer({"/rss.xml": Route(NUL_FEED)}) as srv:
            source = _feed(srv.url("/rss.xml"))
            warehouse.sync_sources([source])
            result = fetch(source, SourceCursor(), client)
        scorer = Scorer(load_rules(), ScoringSettings(sentiment_model="fast"))
        run_id = warehouse.start_run(result.posts[0].fetched_at)
        stored = warehouse.store_fetch(run_id, result, scorer.score_many(result.posts),
                                       result.posts[0].fetched_at)
        titles = sorted(row.title for row in warehouse.posts_since(
            result.posts[0].fetched_at.replace(year=2000)))
    finally:
        warehouse.close()
    assert stored == 3
    assert titles == ["交警[2J执勤", "民警救助老人", "派出所开放日"]


# ---- a body declared UTF-8 that is GBK ----------------------------------------------------

def test_gbk_body_declared_utf8_is_decoded_as_gbk(client: PoliteClient) -> None:
    body = GBK_FEED_TEXT.encode("gbk")
    route = Route(body, content_type="application/rss+xml; charset=utf-8")
    with FeedReplayServer({"/gbk.xml": route}) as srv:
        result = fetch(_feed(srv.url("/gbk.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert sorted(post.title for post in result.posts) == ["交警整治酒驾", "民警雪夜救助迷路老人"]
    assert result.error is None


def test_gb18030_body_declared_utf8_in_the_document_only(client: PoliteClient) -> None:
    body = GBK_FEED_TEXT.replace("老人", "老人䶮").encode("gb18030")
    route = Route(body, content_type="application/rss+xml")
    with FeedReplayServer({"/gb.xml": route}) as srv:
        result = fetch(_feed(srv.url("/gb.xml")), SourceCursor(), client)

    assert "民警雪夜救助迷路老人䶮" in [post.title for post in result.posts]


def test_utf8_body_with_one_broken_byte_stays_utf8(client: PoliteClient) -> None:
    body = GBK_FEED_TEXT.encode("utf-8").replace("查处".encode(), "查处".encode() + b"\xff")
    with FeedReplayServer({"/u.xml": Route(body)}) as srv:
        result = fetch(_feed(srv.url("/u.xml")), SourceCursor(), client)

    assert sorted(post.title for post in result.posts) == ["交警整治酒驾", "民警雪夜救助迷路老人"]
    assert "broken UTF-8" in (result.error or "")


def test_undecidable_charset_is_said_in_source_health(client: PoliteClient) -> None:
    # Valid neither as UTF-8 nor as GB18030 (0x80 alone, 0xff): whatever we read is a guess.
    body = GBK_FEED_TEXT.encode("gbk").replace("交警".encode("gbk"), b"\x80\xff\x80\xff")
    with FeedReplayServer({"/x.xml": Route(body)}) as srv:
        result = fetch(_feed(srv.url("/x.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert "charset unsure: declared utf-8 (HTTP Content-Type)" in (result.error or "")


# ---- a server that drips ------------------------------------------------------------------

@pytest.fixture
def dripping_server() -> Iterator[str]:
    """Headers at once, then one byte of the body every 0.2 s: each read is quick, the
    whole takes minutes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            body = NUL_FEED * 10
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode())
            for byte in body:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/drip.xml"
    stop.set()
    thread.join()
    listener.close()


def test_dripping_server_is_cut_off_at_the_deadline(dripping_server: str) -> None:
    policy = HttpPolicy(connect_timeout_s=1.0, read_timeout_s=1.0, deadline_s=1.5,
                        per_host_delay_s=0.0, retries=2, backoff_s=0.01)
    started = time.monotonic()
    with PoliteClient(policy) as client:
        result = fetch(_feed(dripping_server), SourceCursor(), client)
    elapsed = time.monotonic() - started

    assert result.status == FETCH_ERROR
    assert "took longer than 1.5 s in all" in (result.error or "")
    assert elapsed < 4   # one attempt, not retried: a drip would hold the cycle as long again


# ---- redirects into our own network -------------------------------------------------------

@pytest.fixture
def inner_server() -> Iterator[FeedReplayServer]:
    """A server on 127.0.0.2, the 'internal network' of the policies below."""
    with FeedReplayServer({"/secret.xml": Route(NUL_FEED)}, host="127.0.0.2") as srv:
        yield srv


def _policy(internal: str) -> HttpPolicy:
    # 127.0.0.2 alone counts as internal, so 127.0.0.1 plays a site on the internet.
    return HttpPolicy(**{**FAST_POLICY.__dict__, "internal_networks": (internal,)})


def test_redirect_from_a_public_source_into_the_internal_network_is_refused(
        inner_server: FeedReplayServer) -> None:
    redirect = Route(b"", status=302, headers={"Location": inner_server.url("/secret.xml")})
    with FeedReplayServer({"/rss.xml": redirect}) as outer, \
            PoliteClient(_policy("127.0.0.2/32")) as client:
        result = fetch(_feed(outer.url("/rss.xml")), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert "into the internal network 127.0.0.2/32 refused" in (result.error or "")
    assert inner_server.hits("/secret.xml") == 0


def test_redirect_within_the_sources_own_network_is_followed(
        inner_server: FeedReplayServer) -> None:
    """A self-hosted RSSHub inside the network may redirect within it."""
    redirect = Route(b"", status=301, headers={"Location": "/secret.xml"})
    inner_server.set_route("/old.xml", redirect)
    with PoliteClient(_policy("127.0.0.2/32")) as client:
        result = fetch(_feed(inner_server.url("/old.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert len(result.posts) == 3


def test_redirect_to_a_non_http_address_is_refused(client: PoliteClient) -> None:
    redirect = Route(b"", status=302, headers={"Location": "file:///etc/passwd"})
    with FeedReplayServer({"/rss.xml": redirect}) as srv:
        result = fetch(_feed(srv.url("/rss.xml")), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert "redirect to a non-http(s) address refused" in (result.error or "")


# ---- the importer -------------------------------------------------------------------------

def _csv_source(path: Path, **options: object) -> SourceConfig:
    return SourceConfig(id="export", name="导出", kind="file", url=str(path),
                        options={"format": "csv", "columns": {"id": "编号", "text": "内容"},
                                 **options})


def test_unclosed_quote_does_not_swallow_the_next_rows(tmp_path: Path,
                                                        client: PoliteClient) -> None:
    path = tmp_path / "export.csv"
    path.write_text('编号,内容,来源\n'
                    '1,"引号没有闭合,微博\n'
                    '2,民警救助老人,微博\n'
                    '3,"多行\n正文",新闻\n'
                    '4,"又一个"坏引号,论坛\n'
                    '5,交警整治酒驾,"微博"\n', encoding="utf-8")

    result = fetch(_csv_source(path), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert {post.external_id: post.body for post in result.posts} == {
        "2": "民警救助老人", "3": "多行\n正文", "5": "交警整治酒驾"}
    assert "line 2: " in result.error and "a quote left open" in result.error
    assert "line 6: " in result.error


def test_field_over_the_csv_limit_skips_only_its_row(tmp_path: Path,
                                                     client: PoliteClient) -> None:
    path = tmp_path / "export.csv"
    huge = "警" * 200_000   # over the csv module's default 131,072 characters per field
    path.write_text(f'编号,内容\n1,民警救助老人\n2,"{huge}"\n3,{huge}\n4,交警整治酒驾\n',
                    encoding="utf-8")

    result = fetch(_csv_source(path), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert sorted(post.external_id for post in result.posts) == ["1", "4"]
    assert "2 bad rows" in result.error and "field larger than field limit" in result.error


def test_json_object_is_stored_as_json(tmp_path: Path, client: PoliteClient) -> None:
    path = tmp_path / "export.jsonl"
    row = {"id": 7, "content": {"正文": "民警救助老人", "话题": ["#暖心#"]},
           "user": {"name": "路人甲", "verified": False}}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    source = SourceConfig(id="export", name="导出", kind="file", url=str(path),
                          options={"format": "jsonl",
                                   "columns": {"id": "id", "text": "content", "author": "user"}})

    result = fetch(source, SourceCursor(), client)

    (post,) = result.posts
    assert json.loads(post.body) == row["content"]
    assert json.loads(post.author) == row["user"]
    assert post.external_id == "7"
