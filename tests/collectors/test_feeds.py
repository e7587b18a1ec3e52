"""kind: feed through the base collector, against recorded feeds served by a real local HTTP server."""
from __future__ import annotations

import gzip
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from collectors import fetch as fetch_feed
from collectors.http import HttpPolicy, PoliteClient
from collectors.posts import SEEN_IDS_KEPT
from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, SourceConfig,
                                SourceCursor)
from collectors.replay import FeedReplayServer, Route

UTC = timezone.utc
RecordedFeed = Callable[[str], bytes]
FeedSource = Callable[..., SourceConfig]


def test_rss20_items_become_posts(recorded_feed: RecordedFeed, client: PoliteClient,
                                  feed_source: FeedSource) -> None:
    routes = {"/rss.xml": Route(recorded_feed("rss20_city_police_news.xml"))}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/rss.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    assert result.http_status == 200
    assert [post.external_id for post in result.posts] == [
        "jcga-jqtb-8812",
        "jcga-fz-8790",
        # no guid: the link is the id
        "https://police.jiangcheng.example.cn/jmfw/2026/1118/8777.html",
    ]
    accident = result.posts[0]
    assert accident.source_id == "pingan-jiangcheng"
    assert accident.title == "警情通报：关于东湖路一交通事故的情况说明"
    assert "两车相撞" in accident.body
    assert accident.author == "江城市公安局交通警察支队"
    assert accident.published_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert accident.fetched_at.tzinfo is not None
    assert result.cursor.seen_ids == tuple(post.external_id for post in result.posts)
    assert result.cursor.etag and result.cursor.last_modified


def test_atom_entries_become_posts(recorded_feed: RecordedFeed, client: PoliteClient,
                                   feed_source: FeedSource) -> None:
    routes = {"/weibo/user/5550001": Route(recorded_feed("atom_county_bureau_account.xml"),
                                           content_type="application/atom+xml; charset=utf-8")}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/weibo/user/5550001")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    first, second = result.posts
    assert first.external_id == "https://weibo.com/5550001/Pq8xYz1Ab"
    assert first.url == "https://weibo.com/5550001/Pq8xYz1Ab"
    assert first.author == "平安青山"
    assert "停车问题发生纠纷" in first.body           # from <content>
    assert first.published_at == datetime(2026, 11, 20, 3, 15, tzinfo=UTC)
    assert second.body == "雨雪天气路面湿滑，请减速慢行，保持安全车距。"   # from <summary>


def test_rdf_items_become_posts(recorded_feed: RecordedFeed, client: PoliteClient,
                                feed_source: FeedSource) -> None:
    routes = {"/fazhi.rdf": Route(recorded_feed("rdf_legal_channel.xml"),
                                  content_type="application/rdf+xml")}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/fazhi.rdf")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    assert [post.title for post in result.posts] == ["多地公安机关开展冬季治安巡查防控",
                                                     "一男子袭警被依法刑事拘留"]
    assaulted = result.posts[1]
    assert assaulted.external_id == "https://news.example.cn/fazhi/2026-11/19/c_1121.htm"
    assert assaulted.published_at == datetime(2026, 11, 19, 14, 40, tzinfo=UTC)
    assert result.posts[0].author == "记者 王晓"


def test_unchanged_feed_is_not_modified_via_etag(recorded_feed: RecordedFeed,
                                                 client: PoliteClient,
                                                 feed_source: FeedSource) -> None:
    routes = {"/rss.xml": Route(recorded_feed("rss20_city_police_news.xml"))}
    with FeedReplayServer(routes) as srv:
        source = feed_source(srv.url("/rss.xml"))
        first = fetch_feed(source, SourceCursor(), client)
        second = fetch_feed(source, first.cursor, client)
        assert srv.hits("/rss.xml") == 2          # exactly one request for the second fetch
        sent = srv.last_request_headers("/rss.xml")

    assert sent["if-none-match"] == first.cursor.etag
    assert second.status == FETCH_NOT_MODIFIED
    assert second.http_status == 304
    assert second.posts == ()
    assert second.cursor == first.cursor


def test_unchanged_feed_is_not_modified_via_last_modified(recorded_feed: RecordedFeed,
                                                          client: PoliteClient,
                                                          feed_source: FeedSource) -> None:
    routes = {"/rss.xml": Route(recorded_feed("rss20_city_police_news.xml"))}
    with FeedReplayServer(routes) as srv:
        source = feed_source(srv.url("/rss.xml"))
        first = fetch_feed(source, SourceCursor(), client)
        only_date = SourceCursor(last_modified=first.cursor.last_modified,
                                 seen_ids=first.cursor.seen_ids)
        second = fetch_feed(source, only_date, client)
        assert srv.hits("/rss.xml") == 2
        sent = srv.last_request_headers("/rss.xml")

    assert "if-none-match" not in sent
    assert sent["if-modified-since"] == first.cursor.last_modified
    assert second.status == FETCH_NOT_MODIFIED
    assert second.posts == ()


def test_changed_feed_yields_only_unseen_posts(recorded_feed: RecordedFeed, client: PoliteClient,
                                               feed_source: FeedSource) -> None:
    original = recorded_feed("rss20_city_police_news.xml")
    newer = original.replace(b"<item>", """<item>
      <title>警情通报（续）</title>
      <link>https://police.jiangcheng.example.cn/jqtb/2026/1120/8820.html</link>
      <pubDate>Fri, 20 Nov 2026 12:00:00 +0800</pubDate>
      <guid isPermaLink="false">jcga-jqtb-8820</guid>
    </item>
    <item>""".encode(), 1)
    with FeedReplayServer({"/rss.xml": Route(original)}) as srv:
        source = feed_source(srv.url("/rss.xml"))
        first = fetch_feed(source, SourceCursor(), client)
        srv.set_route("/rss.xml", Route(newer))
        second = fetch_feed(source, first.cursor, client)

    assert second.status == FETCH_OK, second.error
    assert [post.external_id for post in second.posts] == ["jcga-jqtb-8820"]
    assert second.posts[0].title == "警情通报（续）"
    assert second.cursor.etag != first.cursor.etag
    assert second.cursor.seen_ids[:2] == ("jcga-jqtb-8820", "jcga-jqtb-8812")


def test_seen_ids_keep_the_newest_two_hundred(client: PoliteClient,
                                              feed_source: FeedSource) -> None:
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    items = "".join(
        f"<item><title>通报{n}</title><guid isPermaLink=\"false\">id-{n}</guid>"
        f"<pubDate>{(start + timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate></item>"
        for n in range(250))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    with FeedReplayServer({"/big.xml": Route(body)}) as srv:
        result = fetch_feed(feed_source(srv.url("/big.xml")), SourceCursor(), client)

    assert len(result.posts) == 250
    assert len(result.cursor.seen_ids) == SEEN_IDS_KEPT
    assert result.cursor.seen_ids[0] == "id-249"
    assert result.cursor.seen_ids[-1] == "id-50"


def test_item_without_guid_or_link_gets_a_stable_content_id(client: PoliteClient,
                                                            feed_source: FeedSource) -> None:
    body = ('<rss version="2.0"><channel><title>t</title>'
            '<item><title>警方提醒</title><description>谨防诈骗</description></item>'
            '</channel></rss>').encode()
    with FeedReplayServer({"/a.xml": Route(body)}) as srv:
        source = feed_source(srv.url("/a.xml"))
        first = fetch_feed(source, SourceCursor(), client)
        again = fetch_feed(source, SourceCursor(), client)

    assert first.posts[0].external_id.startswith("sha1:")
    assert first.posts[0].external_id == again.posts[0].external_id


def test_naive_dates_are_shanghai_time(recorded_feed: RecordedFeed, client: PoliteClient,
                                       feed_source: FeedSource) -> None:
    routes = {"/dongtai/rss.xml": Route(recorded_feed("rss20_relative_links_naive_dates.xml"))}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/dongtai/rss.xml")), SourceCursor(), client)

    dates = {post.title: post.published_at for post in result.posts}
    # "2026-11-20 08:30:00"
    assert dates["南湖派出所开展反诈宣传进社区活动"] == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    # "Thu, 19 Nov 2026 17:45:00", RFC 822 without a zone
    assert dates["寻找失主：民警拾得钱包一个"] == datetime(2026, 11, 19, 9, 45, tzinfo=UTC)
    assert dates["辖区道路施工绕行提示"] is None                           # "下周一"


def test_relative_links_are_made_absolute(recorded_feed: RecordedFeed, client: PoliteClient,
                                          feed_source: FeedSource) -> None:
    routes = {"/nanhu/rss.xml": Route(recorded_feed("rss20_relative_links_naive_dates.xml"))}
    with FeedReplayServer(routes) as srv:
        base = srv.url("/")
        result = fetch_feed(feed_source(srv.url("/nanhu/rss.xml")), SourceCursor(), client)

    links = {post.external_id: post.url for post in result.posts}
    assert links["nh-301"] == base + "dongtai/2026/1120/301.html"
    assert links["nh-298"] == base + "nanhu/dongtai/2026/1119/298.html"   # relative to the feed
    assert f'href="{base}fanzha/zhinan.html"' in result.posts[0].body


def test_gbk_feed_is_decoded(recorded_feed: RecordedFeed, client: PoliteClient,
                             feed_source: FeedSource) -> None:
    routes = {"/gbk.xml": Route(recorded_feed("rss20_gbk_county_bureau.xml"),
                                content_type="application/rss+xml")}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/gbk.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    post = result.posts[0]
    assert post.title == "石城县公安局破获一起电信网络诈骗案 抓获嫌疑人5名"
    assert "民警赵喆、李珺带队" in post.body


def test_gb2312_declared_feed_with_gbk_only_characters(recorded_feed: RecordedFeed,
                                                       client: PoliteClient,
                                                       feed_source: FeedSource) -> None:
    routes = {"/gb2312.xml": Route(recorded_feed("rss20_gb2312_declared_gbk_chars.xml"),
                                   content_type="text/xml")}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/gb2312.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    assert "民警王堃、陈赟带队" in result.posts[0].body


def test_gbk_charset_header_with_gb18030_only_characters(recorded_feed: RecordedFeed,
                                                         client: PoliteClient,
                                                         feed_source: FeedSource) -> None:
    # 䶮 (CJK Extension A) exists only in GB18030; feedparser alone would fall back to cp1252.
    text = recorded_feed("rss20_gbk_county_bureau.xml").decode("gbk").replace("赵喆", "刘䶮")
    routes = {"/gbk.xml": Route(text.encode("gb18030"), content_type="text/xml; charset=GBK")}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/gbk.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK, result.error
    assert "民警刘䶮、李珺带队" in result.posts[0].body
    assert result.posts[0].title.startswith("石城县公安局")


def test_not_found_is_an_error_without_retry(client: PoliteClient,
                                             feed_source: FeedSource) -> None:
    with FeedReplayServer({}) as srv:
        url = srv.url("/weibo/keyword/袭警")
        result = fetch_feed(feed_source(url), SourceCursor(etag='"old"'), client)
        assert srv.hits("/weibo/keyword/袭警") == 1

    assert result.status == FETCH_ERROR
    assert result.http_status == 404
    assert result.error == f"pingan-jiangcheng: HTTP 404 from {url}"
    assert result.cursor == SourceCursor(etag='"old"')


def test_server_error_then_success_is_retried(recorded_feed: RecordedFeed,
                                              feed_source: FeedSource) -> None:
    policy = HttpPolicy(per_host_delay_s=0.0, retries=2, backoff_s=0.3)
    with FeedReplayServer({"/rss.xml": Route(b"upstream busy", status=500)}) as srv:
        def recover_after_first_hit() -> None:
            while srv.hits("/rss.xml") == 0:
                time.sleep(0.002)
            srv.set_route("/rss.xml", Route(recorded_feed("rss20_city_police_news.xml")))

        recovery = threading.Thread(target=recover_after_first_hit, daemon=True)
        recovery.start()
        with PoliteClient(policy) as client:
            result = fetch_feed(feed_source(srv.url("/rss.xml")), SourceCursor(), client)
        recovery.join()
        assert srv.hits("/rss.xml") == 2

    assert result.status == FETCH_OK, result.error
    assert len(result.posts) == 3


def test_server_error_every_time_fails_after_retries(client: PoliteClient,
                                                     feed_source: FeedSource) -> None:
    with FeedReplayServer({"/rss.xml": Route(b"boom", status=503)}) as srv:
        url = srv.url("/rss.xml")
        result = fetch_feed(feed_source(url), SourceCursor(), client)
        assert srv.hits("/rss.xml") == 3          # the first try and policy.retries == 2

    assert result.status == FETCH_ERROR
    assert result.http_status == 503
    assert result.error == f"pingan-jiangcheng: HTTP 503 from {url} after 3 attempts"


def test_slow_site_times_out(recorded_feed: RecordedFeed, feed_source: FeedSource) -> None:
    policy = HttpPolicy(read_timeout_s=0.2, per_host_delay_s=0.0, retries=1, backoff_s=0.01)
    routes = {"/slow.xml": Route(recorded_feed("rss20_city_police_news.xml"), delay_s=1.0)}
    with FeedReplayServer(routes) as srv, PoliteClient(policy) as client:
        url = srv.url("/slow.xml")
        started = time.monotonic()
        result = fetch_feed(feed_source(url), SourceCursor(), client)
        took = time.monotonic() - started
        assert srv.hits("/slow.xml") == 2

    assert result.status == FETCH_ERROR
    assert result.error == (f"pingan-jiangcheng: cannot fetch {url}: "
                            "no data for 0.2 s (read timeout) after 2 attempts")
    assert took < 1.0


def test_truncated_xml_is_a_malformed_feed(recorded_feed: RecordedFeed, client: PoliteClient,
                                           feed_source: FeedSource) -> None:
    with FeedReplayServer({"/rss.xml": Route(recorded_feed("rss20_truncated.xml"))}) as srv:
        url = srv.url("/rss.xml")
        result = fetch_feed(feed_source(url), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.error.startswith(f"pingan-jiangcheng: malformed feed at {url}: ")
    assert "unclosed token" in result.error


def test_malformed_xml_with_salvaged_items_keeps_them(recorded_feed: RecordedFeed,
                                                      client: PoliteClient,
                                                      feed_source: FeedSource) -> None:
    routes = {"/rss.xml": Route(recorded_feed("rss20_unescaped_ampersand.xml"))}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/rss.xml")), SourceCursor(), client)

    assert result.status == FETCH_OK
    assert [post.title for post in result.posts] == ["交警&城管联合整治占道经营"]


def test_huge_response_is_cut_off(feed_source: FeedSource, client: PoliteClient) -> None:
    six_megabytes = b"<rss>" + b"x" * (6 * 1024 * 1024) + b"</rss>"
    with FeedReplayServer({"/huge.xml": Route(six_megabytes)}) as srv:
        url = srv.url("/huge.xml")
        result = fetch_feed(feed_source(url), SourceCursor(), client)
        assert srv.hits("/huge.xml") == 1         # too big is final, not retried

    assert result.status == FETCH_ERROR
    assert result.error == (f"pingan-jiangcheng: cannot fetch {url}: "
                            "response larger than 5242880 bytes, download aborted")


def test_compressed_body_that_inflates_past_the_cap_is_cut_off(feed_source: FeedSource,
                                                               client: PoliteClient) -> None:
    # Content-Length is the small compressed size, so only the streaming count can catch it.
    bomb = gzip.compress(b"<rss>" + b" " * (6 * 1024 * 1024))
    routes = {"/bomb.xml": Route(bomb, headers={"Content-Encoding": "gzip"})}
    with FeedReplayServer(routes) as srv:
        result = fetch_feed(feed_source(srv.url("/bomb.xml")), SourceCursor(), client)

    assert len(bomb) < 100_000
    assert result.status == FETCH_ERROR
    assert "response larger than 5242880 bytes" in result.error


def test_connection_refused_is_an_error(client: PoliteClient, feed_source: FeedSource) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/rss.xml"

    result = fetch_feed(feed_source(url), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.error == (f"pingan-jiangcheng: cannot fetch {url}: "
                            "connection refused after 3 attempts")


def test_weibo_anti_bot_status_is_named(client: PoliteClient, feed_source: FeedSource) -> None:
    with FeedReplayServer({"/weibo/user/1": Route(b"", status=432)}) as srv:
        url = srv.url("/weibo/user/1")
        result = fetch_feed(feed_source(url, "weibo-pingan"), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.http_status == 432
    assert result.error == (f"weibo-pingan: blocked by the site (HTTP 432) — cookie expired "
                            f"or anti-bot, at {url}")


def test_redirect_to_login_page_is_named(client: PoliteClient, feed_source: FeedSource) -> None:
    login_page = "<html><body>请登录</body></html>".encode()
    with FeedReplayServer({}) as srv:
        srv.set_route("/weibo/user/1", Route(b"", status=302,
                                             headers={"Location": srv.url("/passport/login")}))
        srv.set_route("/passport/login", Route(login_page, content_type="text/html"))
        url = srv.url("/weibo/user/1")
        result = fetch_feed(feed_source(url, "weibo-pingan"), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.error == (f"weibo-pingan: redirected to a login page {srv.url('/passport/login')}"
                            f" — cookie expired or anti-bot, at {url}")


def test_captcha_page_instead_of_feed_is_blocked(client: PoliteClient,
                                                 feed_source: FeedSource) -> None:
    captcha = "<html><head><title>安全验证</title></head><body>请完成验证</body></html>".encode()
    with FeedReplayServer({"/rss.xml": Route(captcha, content_type="text/html")}) as srv:
        url = srv.url("/rss.xml")
        result = fetch_feed(feed_source(url), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.failure == "blocked"
    assert result.error == (f"pingan-jiangcheng: a challenge page instead of content at {url}: "
                            "安全验证 请完成验证")


def test_html_page_instead_of_feed_is_a_hard_error(client: PoliteClient,
                                                  feed_source: FeedSource) -> None:
    page = ("<html><head><title>平安江城 首页</title></head><body>" + "警务动态 " * 20
            + "</body></html>").encode()
    with FeedReplayServer({"/rss.xml": Route(page, content_type="text/html")}) as srv:
        url = srv.url("/rss.xml")
        result = fetch_feed(feed_source(url), SourceCursor(), client)

    assert result.status == FETCH_ERROR
    assert result.failure == "hard"
    assert result.error == (f"pingan-jiangcheng: not an RSS/Atom/RDF feed at {url} (text/html) — "
                            "a login or captcha page, or a changed route?")


def test_valid_feed_without_items_is_ok(client: PoliteClient, feed_source: FeedSource) -> None:
    empty = '<rss version="2.0"><channel><title>平安江城</title></channel></rss>'.encode()
    with FeedReplayServer({"/rss.xml": Route(empty)}) as srv:
        result = fetch_feed(feed_source(srv.url("/rss.xml")),
                            SourceCursor(seen_ids=("jcga-fz-8790",)), client)

    assert result.status == FETCH_OK
    assert result.posts == ()
    assert result.cursor.seen_ids == ("jcga-fz-8790",)
    assert result.cursor.etag is not None
