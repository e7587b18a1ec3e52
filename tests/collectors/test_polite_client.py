"""PoliteClient: user agent, conditional headers, per-host spacing, retry rules, size cap."""
from __future__ import annotations

import threading
import time

import pytest

from collectors.http import DEFAULT_USER_AGENT, DownloadError, HttpPolicy, PoliteClient
from collectors.replay import FeedReplayServer, Route

FEED = '<rss version="2.0"><channel><title>平安</title></channel></rss>'.encode()


def test_get_sends_user_agent_and_validators() -> None:
    with FeedReplayServer({"/rss.xml": Route(FEED)}) as srv, PoliteClient() as client:
        response = client.get(srv.url("/rss.xml"), etag='"abc"',
                              last_modified="Fri, 20 Nov 2026 01:00:00 GMT")
        sent = srv.last_request_headers("/rss.xml")

    assert response.status == 200
    assert response.body == FEED
    assert response.url == srv.url("/rss.xml")
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert sent["user-agent"] == DEFAULT_USER_AGENT
    assert sent["if-none-match"] == '"abc"'
    assert sent["if-modified-since"] == "Fri, 20 Nov 2026 01:00:00 GMT"


def test_unconditional_get_sends_no_validators() -> None:
    with FeedReplayServer({"/rss.xml": Route(FEED)}) as srv, PoliteClient() as client:
        client.get(srv.url("/rss.xml"))
        sent = srv.last_request_headers("/rss.xml")

    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_requests_to_one_host_are_spaced() -> None:
    policy = HttpPolicy(per_host_delay_s=0.3)
    with FeedReplayServer({"/a.xml": Route(FEED)}) as srv, PoliteClient(policy) as client:
        started = time.monotonic()
        client.get(srv.url("/a.xml"))
        client.get(srv.url("/a.xml"))
        took = time.monotonic() - started

    assert took >= 0.3


def test_spacing_holds_across_threads() -> None:
    policy = HttpPolicy(per_host_delay_s=0.2)
    with FeedReplayServer({"/a.xml": Route(FEED)}) as srv, PoliteClient(policy) as client:
        fetches = [threading.Thread(target=client.get, args=(srv.url("/a.xml"),))
                   for _ in range(3)]
        started = time.monotonic()
        for fetch in fetches:
            fetch.start()
        for fetch in fetches:
            fetch.join()
        took = time.monotonic() - started
        assert srv.hits("/a.xml") == 3

    assert took >= 0.4          # three requests: two gaps of 0.2 s


def test_client_errors_are_returned_at_once() -> None:
    policy = HttpPolicy(per_host_delay_s=0.0, retries=2, backoff_s=0.01)
    with FeedReplayServer({"/gone.xml": Route(b"gone", status=410)}) as srv, \
            PoliteClient(policy) as client:
        response = client.get(srv.url("/gone.xml"))
        assert srv.hits("/gone.xml") == 1

    assert response.status == 410
    assert response.attempts == 1


def test_server_errors_are_retried_with_backoff() -> None:
    policy = HttpPolicy(per_host_delay_s=0.0, retries=2, backoff_s=0.1)
    with FeedReplayServer({"/busy.xml": Route(b"busy", status=502)}) as srv, \
            PoliteClient(policy) as client:
        started = time.monotonic()
        response = client.get(srv.url("/busy.xml"))
        took = time.monotonic() - started
        assert srv.hits("/busy.xml") == 3

    assert response.status == 502
    assert response.attempts == 3
    assert took >= 0.1 + 0.2    # backoff doubles: 0.1 s, then 0.2 s


def test_body_over_the_cap_raises_download_error() -> None:
    policy = HttpPolicy(per_host_delay_s=0.0, max_bytes=1000)
    with FeedReplayServer({"/big.xml": Route(b"x" * 1001)}) as srv, \
            PoliteClient(policy) as client:
        with pytest.raises(DownloadError) as raised:
            client.get(srv.url("/big.xml"))

    assert raised.value.reason == "response larger than 1000 bytes, download aborted"
    assert raised.value.url == srv.url("/big.xml")


def test_body_at_the_cap_is_accepted() -> None:
    policy = HttpPolicy(per_host_delay_s=0.0, max_bytes=1000)
    with FeedReplayServer({"/ok.xml": Route(b"x" * 1000)}) as srv, \
            PoliteClient(policy) as client:
        response = client.get(srv.url("/ok.xml"))

    assert len(response.body) == 1000


def test_unsupported_url_raises_download_error_without_retry() -> None:
    with PoliteClient(HttpPolicy(per_host_delay_s=0.0)) as client:
        with pytest.raises(DownloadError) as raised:
            client.get("ftp://127.0.0.1/rss.xml")

    assert raised.value.attempts == 1
    assert "InvalidSchema" in raised.value.reason
