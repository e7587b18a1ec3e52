"""FeedReplayServer: conditional GET, replaceable routes, hit counts, quick shutdown."""
from __future__ import annotations

import threading
import time

import requests

from collectors.replay import FeedReplayServer, Route

FEED = '<rss version="2.0"><channel><title>平安</title></channel></rss>'.encode()


def test_serves_route_with_validators() -> None:
    with FeedReplayServer({"/rss.xml": Route(FEED)}) as srv:
        response = requests.get(srv.url("/rss.xml"), timeout=2)

    assert response.status_code == 200
    assert response.content == FEED
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Last-Modified"].endswith("GMT")


def test_answers_304_to_matching_etag_or_date() -> None:
    with FeedReplayServer({"/rss.xml": Route(FEED)}) as srv:
        first = requests.get(srv.url("/rss.xml"), timeout=2)
        by_etag = requests.get(srv.url("/rss.xml"), timeout=2,
                               headers={"If-None-Match": first.headers["ETag"]})
        by_date = requests.get(srv.url("/rss.xml"), timeout=2,
                               headers={"If-Modified-Since": first.headers["Last-Modified"]})
        stale_etag = requests.get(srv.url("/rss.xml"), timeout=2,
                                  headers={"If-None-Match": '"other"',
                                           "If-Modified-Since": first.headers["Last-Modified"]})

    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert by_date.status_code == 304
    assert stale_etag.status_code == 200      # If-None-Match, when sent, decides alone


def test_replaced_route_is_newer_than_the_old_one() -> None:
    with FeedReplayServer({"/rss.xml": Route(FEED)}) as srv:
        first = requests.get(srv.url("/rss.xml"), timeout=2)
        srv.set_route("/rss.xml", Route(FEED + b"\n"))
        after = requests.get(srv.url("/rss.xml"), timeout=2,
                             headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert after.status_code == 200
    assert after.content == FEED + b"\n"
    assert after.headers["ETag"] != first.headers["ETag"]


def test_counts_hits_and_keeps_last_headers_per_path() -> None:
    with FeedReplayServer({"/weibo/keyword/警察": Route(FEED)}) as srv:
        for n in range(3):
            requests.get(srv.url("/weibo/keyword/警察"), headers={"X-Try": str(n)}, timeout=2)
        requests.get(srv.url("/missing"), timeout=2)

        assert srv.hits("/weibo/keyword/警察") == 3
        assert srv.hits("/missing") == 1
        assert srv.hits("/never") == 0
        assert srv.last_request_headers("/weibo/keyword/警察")["x-try"] == "2"
        assert srv.last_request_headers("/never") == {}


def test_non_200_routes_answer_as_recorded() -> None:
    routes = {"/blocked": Route(b"", status=432, headers={"X-Reason": "anti-bot"})}
    with FeedReplayServer(routes) as srv:
        response = requests.get(srv.url("/blocked"), timeout=2,
                                headers={"If-None-Match": "*"})

    assert response.status_code == 432
    assert response.headers["X-Reason"] == "anti-bot"


def test_stops_quickly_with_a_slow_request_in_flight() -> None:
    srv = FeedReplayServer({"/slow.xml": Route(FEED, delay_s=5.0)}).start()

    def ask_and_give_up() -> None:
        try:
            requests.get(srv.url("/slow.xml"), timeout=0.5)
        except requests.RequestException:
            pass    # expected: the server went away before answering

    slow = threading.Thread(target=ask_and_give_up, daemon=True)
    slow.start()
    while srv.hits("/slow.xml") == 0:
        time.sleep(0.005)

    started = time.monotonic()
    srv.stop()

    assert time.monotonic() - started < 1.0
