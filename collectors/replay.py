"""A real local HTTP server that replays recorded feeds, for the demo, the tests and benchmarks."""
from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
# Versions of a route get Last-Modified one second apart from this instant, so a replaced
# route is always newer than what a client saw before, even within the same second.
_FIRST_LAST_MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Route:
    """What one path answers. Status 200 routes answer conditional GETs with 304 by themselves."""

    body: bytes
    content_type: str = RSS_CONTENT_TYPE
    status: int = 200
    delay_s: float = 0.0                 # wait before answering (timeouts, slow sites)
    headers: Mapping[str, str] = field(default_factory=dict)   # extra or overriding headers


@dataclass(frozen=True)
class _Served:
    route: Route
    etag: str
    last_modified: datetime


class FeedReplayServer:
    """Threaded HTTP server on 127.0.0.1 (or another loopback `host`) serving `routes`; use as
    a context manager."""

    def __init__(self, routes: Mapping[str, Route] | None = None, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._served: dict[str, _Served] = {}
        self._versions = 0
        self._hits: dict[str, int] = {}
        self._last_headers: dict[str, dict[str, str]] = {}
        for path, route in (routes or {}).items():
            self.set_route(path, route)
        self._host = host
        self._httpd = _QuietServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://{self._host}:{self.port}{quote(path, safe='/?=&:%')}"

    def start(self) -> FeedReplayServer:
        # A short poll interval lets stop() return at once instead of after up to 0.5 s.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=f"feed-replay-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FeedReplayServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def set_route(self, path: str, route: Route) -> None:
        """Add or replace what `path` answers; safe while the server runs."""
        with self._lock:
            last_modified = _FIRST_LAST_MODIFIED.timestamp() + self._versions
            self._versions += 1
            self._served[path] = _Served(
                route=route,
                etag='"' + hashlib.sha1(route.body).hexdigest()[:20] + '"',
                last_modified=datetime.fromtimestamp(last_modified, timezone.utc),
            )

    def has_route(self, path: str) -> bool:
        with self._lock:
            return path in self._served

    def hits(self, path: str) -> int:
        """How many requests `path` received."""
        with self._lock:
            return self._hits.get(path, 0)

    def last_request_headers(self, path: str) -> dict[str, str]:
        """Headers of the latest request to `path`, names lower-cased; empty if none came."""
        with self._lock:
            return dict(self._last_headers.get(path, {}))

    def _record(self, path: str, headers: Mapping[str, str]) -> _Served | None:
        with self._lock:
            self._hits[path] = self._hits.get(path, 0) + 1
            self._last_headers[path] = {name.lower(): value for name, value in headers.items()}
            return self._served.get(path)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handlers still sleeping out a route delay when shutting down.
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: clients hanging up mid-body (size cap, timeouts) is expected here."""


def _handler_for(server: FeedReplayServer) -> type[BaseHTTPRequestHandler]:
    class ReplayHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (name fixed by http.server)
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            # A route may be registered with its query ("/api?page=2"), for paged APIs.
            if parts.query and server.has_route(f"{path}?{unquote(parts.query)}"):
                path = f"{path}?{unquote(parts.query)}"
            served = server._record(path, dict(self.headers.items()))
            if served is None:
                self._answer(404, b"no such route", "text/plain; charset=utf-8", {})
                return
            route = served.route
            if route.delay_s:
                time.sleep(route.delay_s)
            if route.status != 200:
                self._answer(route.status, route.body, route.content_type, route.headers)
                return
            validators = {"ETag": served.etag,
                          "Last-Modified": format_datetime(served.last_modified, usegmt=True)}
            if self._not_modified(served):
                self._answer(304, b"", None, {**validators, **route.headers})
                return
            self._answer(200, route.body, route.content_type, {**validators, **route.headers})

        def _not_modified(self, served: _Served) -> bool:
            # As RFC 9110 says: If-None-Match, when sent, decides alone.
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                return served.etag in [tag.strip() for tag in if_none_match.split(",")]
            if_modified_since = self.headers.get("If-Modified-Since")
            if if_modified_since is None:
                return False
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            return since.tzinfo is not None and served.last_modified <= since

        def _answer(self, status: int, body: bytes, content_type: str | None,
                    headers: Mapping[str, str]) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo and the tests print what matters themselves."""

    return ReplayHandler


# ---- generated feeds ----------------------------------------------------------------------

_SUBJECTS = ["民警", "辅警", "交警", "派出所", "网友", "市民", "摊贩", "外卖小哥", "司机", "老人"]
_EVENTS = ["路口发生争执", "救起落水儿童", "查处酒驾", "破获电信诈骗案", "调解邻里纠纷",
          "被指暴力执法", "帮助走失老人回家", "处置交通事故", "开展反诈宣传", "接到报警后迅速出警"]
_PLACES = ["临江区", "北湖区", "云溪县", "滨河路", "人民广场", "火车站", "夜市", "小区门口"]
_TAILS = ["现场视频在网上流传。", "警方已发布通报。", "网友纷纷点赞。", "引发热议。",
         "目前事件正在调查中。", "相关部门表示将依法处理。"]


def synthetic_feed(feed: int, items: int, rng: random.Random) -> bytes:
    """An RSS feed of `items` generated police-news posts, published over the last day, with
    ids unique to (feed, item): load for benchmarks and tests."""
    now = datetime.now(timezone.utc)
    entries = []
    for i in range(items):
        text = (f"{rng.choice(_PLACES)}{rng.choice(_SUBJECTS)}{rng.choice(_EVENTS)}，"
                f"{rng.choice(_TAILS)}（{feed}-{i}）")
        published = format_datetime(now - timedelta(minutes=rng.randint(0, 24 * 60)), usegmt=True)
        entries.append(
            f"<item><title>{escape(text[:30])}</title><link>https://news.example/{feed}/{i}</link>"
            f"<guid isPermaLink=\"false\">f{feed}-i{i}</guid><pubDate>{published}</pubDate>"
            f"<description>{escape(text)}</description></item>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            f"<title>feed {feed}</title><link>https://news.example/</link>"
            f"<description>generated</description>{''.join(entries)}</channel></rss>"
            ).encode("utf-8")
