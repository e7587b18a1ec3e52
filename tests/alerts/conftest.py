"""Fixtures for the alert tests: hand-built warehouse posts and a real local webhook receiver."""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from transforms.records import NEGATIVE
from warehouse.records import PostRow

# 15:30 in Asia/Shanghai.
NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)


@pytest.fixture
def now() -> datetime:
    """The detection time the tests use: 2026-11-26 15:30 Asia/Shanghai."""
    return NOW


@pytest.fixture
def make_post() -> Callable[..., PostRow]:
    """Build a PostRow: by default a negative, police-related, high-risk post seen at NOW."""
    ids = itertools.count(1)

    def build(**fields: Any) -> PostRow:
        post_id = fields.pop("id", next(ids))
        seen = fields.pop("seen_at", NOW)
        row: dict[str, Any] = {
            "id": post_id,
            "source_id": "weibo-keyword-police",
            "url": f"https://weibo.com/post/{post_id}",
            "title": f"网友称民警执法时动手打人 #{post_id}",
            "text": f"网友称民警执法时动手打人，现场视频流传 #{post_id}",
            "published_at": seen,
            "fetched_at": seen,
            "content_hash": f"text-{post_id}",
            "police_related": True,
            "polarity": NEGATIVE,
            "sentiment": 0.08,
            "topics": ("police.assault",),
            "high_risk": True,
            "jurisdiction": None,
            "official": False,
        }
        row.update(fields)
        if row["police_related"] and "police_stance" not in fields:
            row["police_stance"] = row["polarity"]      # its stance toward the police
        return PostRow(**row)

    return build


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class WebhookReceiver:
    """What the local receiver got, and the status it answers with (tests may change it)."""

    url: str
    status: int = 200
    received: list[ReceivedRequest] = field(default_factory=list)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 recording every POST it receives."""
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(ReceivedRequest(self.path, dict(self.headers), body))
            reply = b'{"ok": true}' if receiver.status < 300 else b'{"error": "receiver down"}'
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            # Keep pytest output to the assertions.
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/jingyu/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
