"""A robot's answer is read bounded (issue 10): what a receiver sends back to a DingTalk, WeCom or
Feishu post is read up to a size cap and within the channel's timeout as a whole, and quoted
short, clean and redacted in the error that goes to outbox.last_error. The receivers here are
real HTTP servers on 127.0.0.1 that answer endlessly, declare a huge body, drip, or put a
megabyte of escapes and the robot's token into their error message."""
from __future__ import annotations

import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.delivery import robots
from alerts.delivery.deliver import deliver
from alerts.delivery.robots import DingTalkChannel, FeishuChannel, RobotChannel, WeComChannel
from warehouse.records import OutboxMessage

TOKEN = "robot-t0ken-9f8e7d6c5b4a"
PATHS = {"dingtalk": f"/robot/send?access_token={TOKEN}",
         "wecom": f"/cgi-bin/webhook/send?key={TOKEN}",
         "feishu": f"/open-apis/bot/v2/hook/{TOKEN}"}


@pytest.fixture
def receiver() -> Iterator[dict]:
    """Answers every post as state["mode"] says; counts the bytes it managed to send."""
    state: dict = {"mode": "endless", "sent": 0, "stop": threading.Event()}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            mode = state["mode"]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            try:
                if mode == "endless":            # no length, never ends on its own
                    self.end_headers()
                    chunk = b'{"errcode": 0, "pad": "' + b"x" * 65536
                    while not state["stop"].is_set() and state["sent"] < 500_000_000:
                        self.wfile.write(chunk)
                        state["sent"] += len(chunk)
                elif mode == "declared":         # says 2 GB up front
                    self.send_header("Content-Length", str(2 * 1024 ** 3))
                    self.end_headers()
                    self.wfile.write(b'{"errcode": 0}' + b" " * 65536)
                elif mode == "drip":             # a byte every 0.2 s: no read ever times out
                    self.end_headers()
                    for byte in b'{"errcode": 0, "pad": "' + b"x" * 1000:
                        if state["stop"].is_set():
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.2)
                else:                            # a refusal with a huge, hostile message
                    message = (f"\x1b]0;已处置\x07\x1b[2J 拒绝 {self.path} \r\u202e"
                               * 200)          # ~30 KB: within the cap, read whole
                    body = json.dumps({"errcode": 310000, "code": 19021, "errmsg": message,
                                       "msg": message}).encode()
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    robots.reset_shared_limiters()
    try:
        yield state
    finally:
        state["stop"].set()
        server.shutdown()
        server.server_close()
        robots.reset_shared_limiters()


def _channel(kind: str, base: str) -> RobotChannel:
    cls = {"dingtalk": DingTalkChannel, "wecom": WeComChannel, "feishu": FeishuChannel}[kind]
    return cls(f"duty-{kind}", base + PATHS[kind], timeout_seconds=2)


def _message(kind: str) -> OutboxMessage:
    return OutboxMessage(id=1, alert_id=7, channel=f"duty-{kind}",
                         idempotency_key=f"item:1#v1@duty-{kind}",
                         payload={"title": "【III级 黄色预警】标题", "text": "正文",
                                  "markdown": "### 【III级 黄色预警】标题\n\n正文", "level": 3},
                         attempts=0)


def _assert_short_and_clean(error: str) -> None:
    assert TOKEN not in error
    assert len(error) < 500, len(error)
    assert not any(c in error for c in "\x1b\x07\r\u202e"), repr(error[:200])


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu"])
@pytest.mark.parametrize("mode", ["endless", "declared", "drip"])
def test_an_endless_huge_or_dripping_answer_is_cut_off(receiver, kind, mode):
    receiver["mode"] = mode
    channel = _channel(kind, receiver["base"])
    tracemalloc.start()
    started = time.monotonic()
    try:
        [outcome] = deliver([_message(kind)], {channel.name: channel})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    receiver["stop"].set()
    assert not outcome.delivered                  # an answer we did not read is no receipt
    assert f"more than {RobotChannel.MAX_REPLY_BYTES} bytes" in outcome.error
    _assert_short_and_clean(outcome.error)
    assert elapsed < 6, f"{mode}: the answer held the delivery pass for {elapsed:.1f} s"
    assert peak < 8 * 1024 * 1024, f"{mode}: {peak} bytes allocated reading the answer"


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu"])
def test_a_refusal_is_quoted_short_clean_and_without_the_token(receiver, kind):
    receiver["mode"] = "refusal"
    channel = _channel(kind, receiver["base"])
    [outcome] = deliver([_message(kind)], {channel.name: channel})
    assert not outcome.delivered and "refused the message" in outcome.error
    assert "拒绝" in outcome.error                 # what the platform said, shortened
    _assert_short_and_clean(outcome.error)
