"""DingTalk, WeCom and Feishu robot channels against real local HTTP servers that behave like
the platforms: they check tokens and recompute signatures exactly as the platforms document,
answer their error codes, and count what they received. Rate limits use an injected clock."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sqlalchemy import text

from alerts.delivery import robots
from alerts.delivery.channel_secrets import check_channel_secrets, redact_text, redact_url
from alerts.delivery.channels import DeliveryError, RateLimited
from alerts.delivery.registry import build_channels
from alerts.delivery.deliver import deliver
from alerts.delivery.outbox import WarehouseLedger, deliver_pending
from alerts.detection.records import Alert, Evidence
from alerts.delivery.render import render_notification
from alerts.delivery.robots import (DingTalkChannel, FeishuChannel, SlidingWindowLimiter,
                                    WeComChannel, truncate_utf8)
from alerts.incidents.routing import Recipient
from alerts.settings import parse_alert_settings
from jingyu.config import ConfigError
from warehouse.records import OutboxMessage
from warehouse.store import Warehouse

DING_TOKEN = "dt0ken5ecretvalue0123456789abcdef"
DING_SECRET = "SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
FEISHU_HOOK = "a1b2c3d4-hook-token-5e6f"
FEISHU_SECRET = "feishuSigningSecret42"
SECRETS = (DING_TOKEN, DING_SECRET, WECOM_KEY, FEISHU_HOOK, FEISHU_SECRET)
# The wall clock of the tests starts at the `now` fixture (conftest.NOW), so that the delivery
# passes' `now` and the time robots stamp their posts with agree, as in production.
WALL_START = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc).timestamp()


# ---- a fake of the three platforms ------------------------------------------------------------

@dataclass
class Received:
    platform: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    mentioned: list[str] = field(default_factory=list)   # whom the platform would notify


@dataclass
class RobotServer:
    """What the platforms would do. Tests set `force` to make the next answers an error."""

    base: str = ""
    ding_secret: str | None = DING_SECRET
    feishu_secret: str | None = FEISHU_SECRET
    force: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    requests: int = 0
    now: Any = time.monotonic                      # the fake clock when a test injects one
    wall: Any = time.time                          # its wall clock (signature timestamps)
    accepted_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base}/robot/send?access_token={DING_TOKEN}"

    @property
    def wecom_url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"

    @property
    def feishu_url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}"

    def answer(self, path: str, query: dict[str, list[str]], body: dict[str, Any]
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests += 1
            if self.force:
                return self.force.pop(0)
        if path == "/robot/send":
            return self._dingtalk(query, body)
        if path == "/cgi-bin/webhook/send":
            return self._wecom(query, body)
        if path.startswith("/open-apis/bot/v2/hook/"):
            return self._feishu(path.rsplit("/", 1)[1], body)
        return 404, {"error": "not found"}, {}

    def _dingtalk(self, query, body):
        if query.get("access_token") != [DING_TOKEN]:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}, {}
        if self.ding_secret:
            timestamp = query.get("timestamp", [""])[0]
            sign = query.get("sign", [""])[0]          # parse_qs undid the URL encoding
            expected = base64.b64encode(hmac.new(
                self.ding_secret.encode(), f"{timestamp}\n{self.ding_secret}".encode(),
                hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(self.wall() * 1000 - int(timestamp)) < 3600_000
            if not (fresh and hmac.compare_digest(sign, expected)):
                return 200, {"errcode": 310000, "errmsg": "sign not match, more: [...]"}, {}
        if body.get("msgtype") == "actionCard":
            # 独立跳转 actionCard: title, markdown text, btns of {title, actionURL}.
            card = body.get("actionCard") or {}
            buttons = card.get("btns")
            if not (card.get("title") and card.get("text") and isinstance(buttons, list)
                    and buttons and all(b.get("title") and b.get("actionURL")
                                        for b in buttons)):
                return 200, {"errcode": 40035, "errmsg": "缺少参数 actionCard"}, {}
            text = card["text"]
        elif body.get("msgtype") == "markdown" and body["markdown"].get("text"):
            text = body["markdown"]["text"]
        else:
            return 200, {"errcode": 40035, "errmsg": "缺少参数 markdown"}, {}
        recent = [t for t in self.accepted_at if t > self.now() - 60]
        if len(recent) >= 20:                        # DingTalk's own limit
            return 200, {"errcode": 130101,
                         "errmsg": "send too fast, exceed 20 times per minute"}, {}
        # DingTalk notifies those in at.atMobiles / at.atUserIds whose "@…" is also in the
        # text; either one alone mentions nobody.
        at = body.get("at") or {}
        assert at.get("isAtAll", False) is False, "jingyu never @-mentions the whole group"
        listed = [*at.get("atMobiles", []), *at.get("atUserIds", [])]
        mentioned = [h for h in listed if f"@{h}" in text]
        self.accepted.append(Received("dingtalk", query, body, mentioned))
        self.accepted_at.append(self.now())
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    def _wecom(self, query, body):
        if query.get("key") != [WECOM_KEY]:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, {}
        if body.get("msgtype") == "template_card":
            # text_notice card: main_title.title, card_action (type 1 needs url), at most 3
            # jump_list entries (type 1 needs url), at most 6 horizontal_content_list rows.
            card = body.get("template_card") or {}
            action = card.get("card_action") or {}
            jumps = card.get("jump_list") or []
            rows = card.get("horizontal_content_list") or []
            if not (card.get("card_type") == "text_notice"
                    and (card.get("main_title") or {}).get("title")
                    and action.get("type") == 1 and action.get("url")
                    and len(jumps) <= 3 and all(j.get("title") and j.get("type") == 1
                                                and j.get("url") for j in jumps)
                    and len(rows) <= 6 and all(r.get("keyname") for r in rows)):
                return 200, {"errcode": 40058, "errmsg": "invalid template_card"}, {}
            self.accepted.append(Received("wecom", query, body, []))
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        content = body.get("markdown", {}).get("content", "")
        if len(content.encode("utf-8")) > 4096:
            return 200, {"errcode": 40058,
                         "errmsg": "markdown.content exceed max length 4096"}, {}
        # The markdown type mentions with <@userid> in the content; mentioned_list belongs
        # to the text type and does nothing here.
        mentioned = re.findall(r"<@([^<>\s]+)>", content)
        self.accepted.append(Received("wecom", query, body, mentioned))
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    def _feishu(self, hook, body):
        if hook != FEISHU_HOOK:
            return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token "
                                               "invalid"}, {}
        if self.feishu_secret:
            timestamp = str(body.get("timestamp", ""))
            expected = base64.b64encode(hmac.new(
                f"{timestamp}\n{self.feishu_secret}".encode(), b"",
                hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(self.wall() - int(timestamp)) < 3600
            if not (fresh and hmac.compare_digest(str(body.get("sign", "")), expected)):
                return 200, {"code": 19021, "data": {}, "msg": "sign match fail or timestamp "
                             "is not within one hour from current time"}, {}
        if body.get("msg_type") != "interactive" or "card" not in body:
            return 400, {"code": 9499, "msg": "Bad Request", "data": {}}, {}
        for element in body["card"].get("elements", []):
            if element.get("tag") == "action" and not all(
                    b.get("tag") == "button" and b.get("text", {}).get("tag") == "plain_text"
                    and b["text"].get("content") and b.get("url")
                    for b in element.get("actions", [])):
                return 200, {"code": 11246, "msg": "card content invalid", "data": {}}, {}
        # A card mentions with <at id=open_id></at> in a markdown element.
        mentioned = [m for element in body["card"].get("elements", [])
                     if element.get("tag") == "markdown"
                     for m in re.findall(r"<at id=([^<>\s]+)></at>", element["content"])]
        self.accepted.append(Received("feishu", {}, body, mentioned))
        return 200, {"code": 0, "msg": "success", "data": {}}, {}


@pytest.fixture
def robot_server(fake_clock) -> Iterator[RobotServer]:
    server_state = RobotServer(now=fake_clock, wall=fake_clock.wall)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urlsplit(self.path)
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = {}
            status, answer, headers = server_state.answer(parts.path, parse_qs(parts.query),
                                                          body)
            reply = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class FakeClock:
    """Monotonic time that moves only when told to (or when the code 'sleeps')."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        """The wall clock, moving with the monotonic one (robots.wallclock)."""
        return WALL_START + self.now - 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(robots, "clock", clock)
    monkeypatch.setattr(robots, "sleep", clock.sleep)
    monkeypatch.setattr(robots, "wallclock", clock.wall)
    robots.reset_shared_limiters()
    yield clock
    robots.reset_shared_limiters()


def message(message_id: int = 1, level: int = 3, title: str | None = None,
            channel: str = "robot", recipients: tuple[Recipient, ...] = ()) -> OutboxMessage:
    title = title or f"网友称民警执法时动手打人 #{message_id}"
    badge = {1: "【I级 红色预警】", 2: "【II级 橙色预警】", 3: "【III级 黄色预警】",
             4: "【IV级 蓝色预警】"}[level]
    return OutboxMessage(
        id=message_id, alert_id=100 + message_id, channel=channel,
        idempotency_key=f"item:{message_id}#v1@{channel}",
        payload={"title": badge + title, "text": f"{badge}{title}\n辖区：青川",
                 "markdown": f"### {badge}{title}\n\n- **辖区**：青川\n\n1. [{title}]"
                             f"(https://weibo.com/post/{message_id})",
                 "level": level,
                 "alert": {"id": 100 + message_id, "evidence": [
                     {"url": f"https://weibo.com/post/{message_id}", "title": title}]},
                 "recipients": [r.document() for r in recipients]},
        attempts=0)


def dingtalk(server: RobotServer, **kwargs) -> DingTalkChannel:
    kwargs.setdefault("secret", DING_SECRET)
    return DingTalkChannel("duty-ding", server.dingtalk_url, **kwargs)


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# ---- DingTalk -----------------------------------------------------------------------------------

def test_dingtalk_posts_signed_markdown_that_the_platform_accepts(robot_server, fake_clock):
    dingtalk(robot_server).send(message(1))

    [got] = robot_server.accepted
    assert got.body["msgtype"] == "markdown"
    assert got.body["markdown"]["title"] == "【III级 黄色预警】网友称民警执法时动手打人 #1"
    assert got.body["markdown"]["text"].startswith("### 【III级 黄色预警】")
    assert set(got.query) == {"access_token", "timestamp", "sign"}


def test_dingtalk_signature_matches_the_documented_example():
    # The value other implementations publish for timestamp 1700000000000 and secret "secret".
    assert robots.dingtalk_sign("1700000000000", "secret") == \
        "OuzzJR5+xZ4/EYwqtNt6sMYZQMTa/HEGvc9miJe7XzY="


def test_dingtalk_wrong_secret_is_refused_with_errcode_and_no_secret_in_the_error(
        robot_server, fake_clock):
    with pytest.raises(DeliveryError) as caught:
        dingtalk(robot_server, secret="SECwrong-secret-value").send(message(1))

    error = str(caught.value)
    assert not isinstance(caught.value, RateLimited)
    assert "errcode 310000" in error and "sign not match" in error
    assert "access_token=***" in error
    no_secret_in(error)
    assert "SECwrong-secret-value" not in error
    assert robot_server.accepted == []


def test_dingtalk_130101_is_rate_limited_and_blocks_the_robot(robot_server, fake_clock):
    robot_server.force.append((200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 "
                                     "times per minute"}, {}))
    channel = dingtalk(robot_server)

    with pytest.raises(RateLimited) as caught:
        channel.send(message(1))
    assert caught.value.retry_after == 600          # DingTalk throttles for 10 minutes

    # While throttled, jingyu does not even try: the robot would only stay blocked longer.
    with pytest.raises(RateLimited):
        channel.send(message(2))
    assert robot_server.requests == 1
    fake_clock.now += 601
    channel.send(message(2))
    assert len(robot_server.accepted) == 1


def test_client_side_limiter_stops_the_21st_dingtalk_message_in_a_minute(robot_server,
                                                                         fake_clock):
    channel = dingtalk(robot_server)
    for number in range(1, 21):
        channel.send(message(number))
        fake_clock.now += 1

    with pytest.raises(RateLimited) as caught:
        channel.send(message(21))

    assert robot_server.requests == 20               # the 21st never reached DingTalk
    assert "20/min" in str(caught.value)
    assert caught.value.retry_after == pytest.approx(40)   # the first send leaves the window
    fake_clock.now += 40
    channel.send(message(21))
    assert robot_server.requests == len(robot_server.accepted) == 21


def test_unsigned_dingtalk_robot_sends_without_timestamp_or_sign(robot_server, fake_clock):
    robot_server.ding_secret = None
    DingTalkChannel("plain", robot_server.dingtalk_url).send(message(1))
    assert set(robot_server.accepted[0].query) == {"access_token"}


# ---- WeCom --------------------------------------------------------------------------------------

def test_wecom_posts_markdown_with_the_key(robot_server, fake_clock):
    WeComChannel("duty-wecom", robot_server.wecom_url).send(message(1, level=2))
    [got] = robot_server.accepted
    assert got.body == {"msgtype": "markdown",
                        "markdown": {"content": message(1, level=2).payload["markdown"]}}


def test_wecom_wrong_key_is_a_delivery_error_without_the_key(robot_server, fake_clock):
    url = robot_server.wecom_url.replace(WECOM_KEY, "0000-wrong-key-0000")
    with pytest.raises(DeliveryError) as caught:
        WeComChannel("duty-wecom", url).send(message(1))
    assert "errcode 93000" in str(caught.value)
    assert "0000-wrong-key-0000" not in str(caught.value)
    assert "key=***" in str(caught.value)


def test_wecom_truncates_long_markdown_to_4096_utf8_bytes(robot_server, fake_clock):
    long = message(1)
    long = OutboxMessage(**{**long.__dict__, "payload": {**long.payload,
                                                         "markdown": "涉警舆情" * 2000}})
    WeComChannel("duty-wecom", robot_server.wecom_url).send(long)
    content = robot_server.accepted[0].body["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith("详见系统）")
    content.encode("utf-8").decode("utf-8")          # no broken character


def test_wecom_45009_is_rate_limited(robot_server, fake_clock):
    robot_server.force.append((200, {"errcode": 45009, "errmsg": "api freq out of limit"}, {}))
    with pytest.raises(RateLimited) as caught:
        WeComChannel("duty-wecom", robot_server.wecom_url).send(message(1))
    assert caught.value.retry_after == 60


@pytest.mark.parametrize("text, limit", [("abc", 10), ("警" * 10, 16), ("警舆" * 5, 5),
                                         ("a警" * 100, 64)])
def test_truncate_utf8_never_splits_a_character(text, limit):
    cut = truncate_utf8(text, limit, marker="…")
    assert len(cut.encode("utf-8")) <= limit
    assert text.startswith(cut.rstrip("…"))


# ---- Feishu -------------------------------------------------------------------------------------

def feishu(server: RobotServer, **kwargs) -> FeishuChannel:
    kwargs.setdefault("secret", FEISHU_SECRET)
    return FeishuChannel("duty-feishu", server.feishu_url, **kwargs)


def test_feishu_posts_a_signed_card_coloured_by_level(robot_server, fake_clock):
    feishu(robot_server).send(message(1, level=1))

    [got] = robot_server.accepted
    card = got.body["card"]
    assert got.body["msg_type"] == "interactive"
    assert card["header"]["template"] == "red"
    assert card["header"]["title"]["content"] == "【I级 红色预警】网友称民警执法时动手打人 #1"
    assert "https://weibo.com/post/1" in card["elements"][0]["content"]
    assert not card["elements"][0]["content"].startswith("###")   # title is in the header


def test_feishu_wrong_secret_is_refused_with_19021(robot_server, fake_clock):
    with pytest.raises(DeliveryError) as caught:
        feishu(robot_server, secret="not-the-secret").send(message(1))
    assert "19021" in str(caught.value)
    assert not isinstance(caught.value, RateLimited)
    no_secret_in(str(caught.value))
    assert "/hook/***" in str(caught.value)


@pytest.mark.parametrize("status, answer, headers, retry_after", [
    (429, {"code": 99991400, "msg": "request trigger frequency limit"},
     {"Retry-After": "7"}, 7),
    (429, {"code": 99991400, "msg": "request trigger frequency limit"},
     {"x-ogw-ratelimit-reset": "52"}, 52),
    (400, {"code": 99991400, "msg": "request trigger frequency limit"},
     {"x-ogw-ratelimit-reset": "3"}, 3),
    (200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"},
     {}, 60),
])
def test_feishu_frequency_limits_are_rate_limited_honouring_the_header(
        robot_server, fake_clock, status, answer, headers, retry_after):
    robot_server.force.append((status, answer, headers))
    with pytest.raises(RateLimited) as caught:
        feishu(robot_server).send(message(1))
    assert caught.value.retry_after == retry_after


def test_feishu_older_status_code_answer_counts_as_sent(robot_server, fake_clock):
    robot_server.force.append((200, {"Extra": None, "StatusCode": 0,
                                     "StatusMessage": "success"}, {}))
    feishu(robot_server).send(message(1))          # no exception


def test_feishu_five_per_second_is_waited_out_not_deferred(robot_server, fake_clock):
    channel = feishu(robot_server)
    results = channel.send_batch([message(n) for n in range(1, 13)])

    assert results == [None] * 12                  # within 100/min: one post per alert
    assert len(robot_server.accepted) == 12
    assert fake_clock.slept and sum(fake_clock.slept) == pytest.approx(2.0)


# ---- limiter, digests and delivery ------------------------------------------------------------

def test_sliding_window_limiter_counts_every_window():
    now = [0.0]
    limiter = SlidingWindowLimiter(((100, 60.0), (5, 1.0)), now=lambda: now[0])
    for _ in range(5):
        limiter.record()
    assert limiter.available() == 0
    assert limiter.available(ignore_shorter_than=2.0) == 95
    assert limiter.wait_time() == pytest.approx(1.0)
    now[0] = 1.0
    assert limiter.available() == 5
    limiter.block_for(30)
    assert limiter.available(ignore_shorter_than=2.0) == 0
    assert limiter.wait_time() == pytest.approx(30)


def test_thirty_due_messages_go_out_as_a_few_digests_most_severe_first(robot_server,
                                                                        fake_clock):
    messages = [message(n, level=(1 if n in (17, 29) else 2 if n % 5 == 0 else 4),
                        channel="duty-ding") for n in range(1, 31)]
    outcomes = deliver(messages, {"duty-ding": dingtalk(robot_server)})

    assert [o.message_id for o in outcomes] == list(range(1, 31))
    assert all(o.delivered for o in outcomes)
    posts = robot_server.accepted
    assert len(posts) == 3                          # 30 alerts, 10 per digest
    first = posts[0].body["markdown"]
    assert first["title"] == "10 条预警（最高 I级 红色）"
    assert first["text"].index("#17") < first["text"].index("#29") < first["text"].index("#5")
    every = "\n".join(p.body["markdown"]["text"] for p in posts)
    for n in range(1, 31):
        assert f"动手打人 #{n} — [原文](https://weibo.com/post/{n}) · 告警编号 {100 + n}" in every
    assert all(len(p.body["markdown"]["text"].encode()) <= 4096 for p in posts)


def test_digests_grow_to_fit_the_remaining_budget(robot_server, fake_clock):
    channel = dingtalk(robot_server)
    for _ in range(18):                            # 18 of this minute's 20 already used
        channel.limiter.record()

    outcomes = deliver([message(n, channel="duty-ding") for n in range(1, 31)],
                       {"duty-ding": channel})

    assert all(o.delivered for o in outcomes)
    assert [p.body["markdown"]["title"] for p in robot_server.accepted] == [
        "15 条预警（最高 III级 黄色）", "15 条预警（最高 III级 黄色）"]


def test_what_does_not_fit_the_budget_stays_pending_least_severe_last(robot_server,
                                                                     fake_clock):
    channel = dingtalk(robot_server)
    for _ in range(19):                            # one post left this minute
        channel.limiter.record()
    messages = [message(n, level=(2 if n % 3 == 0 else 4), channel="duty-ding")
                for n in range(1, 61)]

    outcomes = deliver(messages, {"duty-ding": channel})

    [post] = robot_server.accepted
    assert len(post.body["markdown"]["text"].encode("utf-8")) <= 4096
    delivered = {o.message_id for o in outcomes if o.delivered}
    assert 10 < len(delivered) < 60
    assert {n for n in range(1, 61) if n % 3 == 0} <= delivered    # all 20 II级 went out
    for n in delivered:                            # delivered means shown, never cut off
        assert f"动手打人 #{n} — [原文]" in post.body["markdown"]["text"]
    for outcome in outcomes:
        if not outcome.delivered:
            assert isinstance(outcome.retry_after, float) and outcome.retry_after > 0
            assert "own rate limit" in outcome.error
    # Nothing is lost: the next minute takes the rest.
    fake_clock.now += 60
    rest = deliver([m for m in messages if m.id not in delivered], {"duty-ding": channel})
    assert all(o.delivered for o in rest)


def test_rate_limited_message_stays_pending_and_goes_out_on_a_later_cycle(
        robot_server, fake_clock, warehouse_url, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{robot_server.dingtalk_url}",
     secret_env: JINGYU_TEST_DINGTALK_SECRET}}
"""), "alerts.yaml")
    warehouse = Warehouse(warehouse_url)
    try:
        for n in range(1, 4):
            alert = Alert(fingerprint=f"item:{n}", kind="sensitive_item", level=3,
                          title=f"网友称民警执法时动手打人 #{n}", reason="命中 袭警",
                          evidence=(Evidence(n, f"https://weibo.com/post/{n}", "标题", "weibo",
                                             now),),
                          jurisdiction="qingchuan", detected_at=now)
            warehouse.record_alert(alert, lambda alert_id, _v, alert=alert: [
                ("duty-ding", render_notification(alert, alert_id))])
        robot_server.force.append((200, {"errcode": 130101, "errmsg": "send too fast, "
                                         "exceed 20 times per minute"}, {}))

        first = deliver_pending(warehouse, settings, now)

        assert first["sent"] == 0 and first["failed"] == 3
        assert warehouse.outbox_counts() == {"pending": 3}
        assert robot_server.accepted == []
        # The retry time honours DingTalk's 10-minute block instead of the 1-minute backoff.
        assert warehouse.pending_notifications(now + timedelta(minutes=9)) == []
        assert len(warehouse.pending_notifications(now + timedelta(minutes=10))) == 3
        # Half a minute later the retry is due, but DingTalk's 10-minute penalty is not over:
        # jingyu holds back by itself and still counts nothing as delivered.
        fake_clock.now += 30
        second = deliver_pending(warehouse, settings, now + timedelta(seconds=30))
        assert second["sent"] == 0
        assert warehouse.outbox_counts() == {"pending": 3}
        assert robot_server.requests == 1

        fake_clock.now += 600
        third = deliver_pending(warehouse, settings, now + timedelta(minutes=11))

        assert third == {"sent": 3, "failed": 0, "errors": []}
        assert warehouse.outbox_counts() == {"sent": 3}
        assert len(robot_server.accepted) == 3
    finally:
        warehouse.close()


def test_unreachable_robot_fails_fast_and_leaks_no_token(fake_clock, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/robot/send?access_token={DING_TOKEN}"
    channel = DingTalkChannel("duty-ding", url, secret=DING_SECRET, timeout_seconds=2)

    with caplog.at_level(logging.DEBUG):
        outcomes = deliver([message(n, channel="duty-ding") for n in range(1, 4)],
                           {"duty-ding": channel})

    assert not any(o.delivered for o in outcomes)
    assert "no response" in outcomes[0].error
    assert "not tried" in outcomes[1].error        # no 3 × timeout stall
    for outcome in outcomes:
        no_secret_in(outcome.error)
    no_secret_in(caplog.text)
    assert "access_token=***" in caplog.text


def test_secrets_never_reach_the_logs_even_at_debug(robot_server, fake_clock, caplog):
    with caplog.at_level(logging.DEBUG):
        dingtalk(robot_server).send(message(1))
        feishu(robot_server).send(message(2))
        WeComChannel("duty-wecom", robot_server.wecom_url).send(message(3))
        robot_server.force.append((200, {"errcode": 310000, "errmsg": "sign not match"}, {}))
        deliver([message(4, channel="d")], {"d": dingtalk(robot_server)})

    # urllib3 logs each request line with its query string: the filter has redacted it.
    assert any("POST /robot/send?access_token=***" in r.getMessage() for r in caplog.records)
    no_secret_in(caplog.text)
    sent_sign = [r for r in caplog.records if "sign=" in r.getMessage()]
    assert all("sign=***" in r.getMessage() for r in sent_sign)


# ---- @-mentions of the routed recipients -------------------------------------------------------

ZHANG = Recipient("张三", "青川市公安局情指中心", "13800000011",
                  {"dingtalk": "13800000011", "wecom": "zhangsan", "feishu": "ou_zhangsan"})
WANG = Recipient("王五", "青川市公安局情指中心", "13800000013", {"wecom": "wangwu"})
CHEN = Recipient("陈静", "青川市公安局宣传处", "13800000021",
                 {"feishu": "ou_chenjing", "email": "chen.jing@example.invalid"})
SUN = Recipient("孙丽", "青川市公安局法制支队", None, {"email": "sun.li@example.invalid"})
TANG = Recipient("唐宇", "北湖分局指挥室", "13800000211", {"dingtalk": "tangyu_ding"})


def test_dingtalk_mentions_by_at_list_and_by_at_mobile_in_the_text(robot_server, fake_clock):
    dingtalk(robot_server).send(message(1, recipients=(ZHANG, WANG, SUN, TANG)))

    [got] = robot_server.accepted
    # 王五 has no dingtalk handle: his phone serves (DingTalk @-mentions by mobile); 孙丽 has
    # neither; 唐宇's handle is a DingTalk userId.
    assert got.body["at"] == {"atMobiles": ["13800000011", "13800000013"],
                              "atUserIds": ["tangyu_ding"], "isAtAll": False}
    assert got.mentioned == ["13800000011", "13800000013", "tangyu_ding"]
    text = got.body["markdown"]["text"]
    assert text.endswith("\n\n提醒 @13800000011 @13800000013 @tangyu_ding")
    assert text.startswith("### 【III级 黄色预警】")


def test_wecom_markdown_mentions_with_at_userid_in_the_content(robot_server, fake_clock):
    WeComChannel("duty-wecom", robot_server.wecom_url).send(
        message(1, recipients=(ZHANG, WANG, CHEN)))

    [got] = robot_server.accepted
    assert got.mentioned == ["zhangsan", "wangwu"]            # 陈静 has no WeCom userid
    assert set(got.body) == {"msgtype", "markdown"}           # no mentioned_list: text only
    assert got.body["markdown"]["content"].endswith("提醒 <@zhangsan> <@wangwu>")


def test_feishu_card_mentions_with_the_card_at_syntax(robot_server, fake_clock):
    feishu(robot_server).send(message(1, level=2, recipients=(ZHANG, WANG, CHEN)))

    [got] = robot_server.accepted
    assert got.mentioned == ["ou_zhangsan", "ou_chenjing"]
    content = got.body["card"]["elements"][0]["content"]
    assert content.endswith("提醒 <at id=ou_zhangsan></at> <at id=ou_chenjing></at>")


@pytest.mark.parametrize("recipients", [(), (SUN,)])
def test_nothing_is_mentioned_when_no_recipient_has_a_handle(robot_server, fake_clock,
                                                            recipients):
    dingtalk(robot_server).send(message(1, recipients=recipients))
    WeComChannel("duty-wecom", robot_server.wecom_url).send(message(2, recipients=(TANG,)))
    feishu(robot_server).send(message(3, recipients=(WANG,)))

    ding, wecom, lark = robot_server.accepted
    assert "at" not in ding.body
    assert "提醒" not in ding.body["markdown"]["text"]
    assert wecom.mentioned == [] and "提醒" not in wecom.body["markdown"]["content"]
    assert lark.mentioned == [] and "<at" not in lark.body["card"]["elements"][0]["content"]


def test_a_handle_that_would_break_the_markup_is_not_mentioned(robot_server, fake_clock):
    broken = Recipient("李四", "情指中心", None, {"wecom": "lisi> **伪造**"})
    WeComChannel("duty-wecom", robot_server.wecom_url).send(
        message(1, recipients=(broken, ZHANG)))
    assert robot_server.accepted[0].mentioned == ["zhangsan"]
    assert "lisi" not in robot_server.accepted[0].body["markdown"]["content"]


@pytest.mark.parametrize("make", [
    lambda server: dingtalk(server),
    lambda server: WeComChannel("duty-wecom", server.wecom_url),
])
def test_mentions_survive_truncation_of_a_long_message(robot_server, fake_clock, make):
    long = message(1, recipients=(ZHANG, WANG))
    long = OutboxMessage(**{**long.__dict__, "payload": {**long.payload,
                                                         "markdown": "涉警舆情" * 2000}})
    make(robot_server).send(long)

    [got] = robot_server.accepted
    text = got.body["markdown"].get("text") or got.body["markdown"]["content"]
    assert len(text.encode("utf-8")) <= 4096
    assert "（内容过长，已截断，详见系统）" in text
    assert len(got.mentioned) == 2
    assert text.endswith(("@13800000011 @13800000013", "<@zhangsan> <@wangwu>"))


def test_a_digest_mentions_the_union_of_its_recipients_once(robot_server, fake_clock):
    channel = dingtalk(robot_server)
    for _ in range(19):                            # one post left: everything in one digest
        channel.limiter.record()
    messages = [message(n, level=(2 if n == 7 else 4), channel="duty-ding",
                        recipients=((ZHANG, TANG) if n % 2 else (ZHANG, WANG)))
                for n in range(1, 13)]

    outcomes = deliver(messages, {"duty-ding": channel})

    assert all(o.delivered for o in outcomes)
    [post] = robot_server.accepted
    text = post.body["markdown"]["text"]
    assert post.body["markdown"]["title"] == "12 条预警（最高 II级 橙色）"
    assert post.mentioned == ["13800000011", "13800000013", "tangyu_ding"]
    assert post.body["at"]["atMobiles"] == ["13800000011", "13800000013"]
    assert text.count("@13800000011") == 1
    # In the order of the digest: #7 (II级, routed to 张三 and 唐宇) comes first.
    assert text.endswith("提醒 @13800000011 @tangyu_ding @13800000013")


def test_digest_packing_keeps_room_for_the_mentions(robot_server, fake_clock):
    channel = WeComChannel("duty-wecom", robot_server.wecom_url)
    for _ in range(19):
        channel.limiter.record()
    many = tuple(Recipient(f"值班员{n}", "情指中心", None, {"wecom": f"duty{n:03d}"})
                 for n in range(40))
    messages = [message(n, title="网友称民警执法时动手打人" * 4 + f" #{n}", channel="w",
                        recipients=many) for n in range(1, 61)]

    outcomes = deliver(messages, {"w": channel})

    [post] = robot_server.accepted                 # the rest waits for the next minute
    content = post.body["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert "已截断" not in content                  # packed to fit, not cut
    assert len(post.mentioned) == 40
    for outcome in outcomes:
        if outcome.delivered:
            assert f"告警编号 {100 + outcome.message_id}" in content


def test_recipients_routed_by_the_roster_are_mentioned_end_to_end(
        robot_server, fake_clock, warehouse_url, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    settings = _ding_settings(robot_server)
    warehouse = Warehouse(warehouse_url)
    try:
        _queue_alerts(warehouse, now, [1], recipients=(ZHANG, CHEN))
        assert deliver_pending(warehouse, settings, now)["sent"] == 1
    finally:
        warehouse.close()
    [got] = robot_server.accepted
    assert got.mentioned == ["13800000011", "13800000021"]   # 陈静 by her phone


# ---- the rate budget, shared by every process posting through the robot -------------------------

def _ding_settings(server: RobotServer):
    return parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{server.dingtalk_url}",
     secret_env: JINGYU_TEST_DINGTALK_SECRET}}
"""), "alerts.yaml")


def _queue_alerts(warehouse: Warehouse, at, numbers, level: int = 3,
                  recipients: tuple[Recipient, ...] = (), channel: str = "duty-ding") -> None:
    """Record one alert per number, each with one notification for the channel."""
    for n in numbers:
        alert = Alert(fingerprint=f"item:{n}", kind="sensitive_item", level=level,
                      title=f"网友称民警执法时动手打人 #{n}", reason="命中 袭警",
                      evidence=(Evidence(n, f"https://weibo.com/post/{n}", "标题", "weibo", at),),
                      jurisdiction="qingchuan", detected_at=at)

        def notify(alert_id, _version, alert=alert):
            payload = render_notification(alert, alert_id)
            payload["recipients"] = [r.document() for r in recipients]
            return [(channel, payload)]

        warehouse.record_alert(alert, notify)


def _new_process() -> None:
    """What a separate process (the watchdog flow, a `jingyu alerts` command) starts with: no
    in-process memory of the robot's budget."""
    robots.reset_shared_limiters()


@pytest.mark.parametrize("separate_processes", [True, False])
def test_a_second_process_spends_what_is_left_of_the_robots_budget(
        robot_server, fake_clock, warehouse_url, now, monkeypatch, separate_processes):
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    settings = _ding_settings(robot_server)
    warehouse = Warehouse(warehouse_url)
    try:
        # The monitor flow posts 18 alerts one by one: 2 of DingTalk's 20 a minute are left.
        _queue_alerts(warehouse, now, range(1, 19))
        assert deliver_pending(warehouse, settings, now)["sent"] == 18
        assert len(robot_server.accepted) == 18

        # Ten seconds later another process has 5 alerts for the same robot: without the
        # shared budget it would post 5 times and DingTalk would refuse the last 3 (130101,
        # then block the robot for 10 minutes). It digests them into one post instead.
        if separate_processes:
            _new_process()
        fake_clock.now += 10
        later = now + timedelta(seconds=10)
        _queue_alerts(warehouse, later, range(19, 24))
        second = deliver_pending(warehouse, settings, later)
        assert second == {"sent": 5, "failed": 0, "errors": []}
        assert len(robot_server.accepted) == 19
        assert robot_server.accepted[-1].body["markdown"]["title"].startswith("5 条预警")

        # The digest was one post: one is left, and a third process uses it.
        if separate_processes:
            _new_process()
        fake_clock.now += 5
        later += timedelta(seconds=5)
        _queue_alerts(warehouse, later, range(24, 27))
        assert deliver_pending(warehouse, settings, later)["sent"] == 3
        assert len(robot_server.accepted) == 20

        # Nothing left this minute: a fourth process holds back without asking DingTalk.
        if separate_processes:
            _new_process()
        fake_clock.now += 5
        later += timedelta(seconds=5)
        _queue_alerts(warehouse, later, range(27, 29))
        fourth = deliver_pending(warehouse, settings, later)
        assert fourth["sent"] == 0 and fourth["failed"] == 2
        assert all("own rate limit" in e for e in fourth["errors"])
        assert robot_server.requests == 20
        assert warehouse.outbox_counts() == {"sent": 26, "pending": 2}

        # A minute after the first posts the budget is back, for whichever process is next.
        if separate_processes:
            _new_process()
        fake_clock.now += 60
        later += timedelta(seconds=60)
        assert deliver_pending(warehouse, settings, later)["sent"] == 2
        assert warehouse.outbox_counts() == {"sent": 28}
        assert robot_server.requests == len(robot_server.accepted) == 22
    finally:
        warehouse.close()


def test_a_platform_block_holds_for_every_process(robot_server, fake_clock, warehouse_url,
                                                  now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    settings = _ding_settings(robot_server)
    warehouse = Warehouse(warehouse_url)
    try:
        _queue_alerts(warehouse, now, [1])
        robot_server.force.append((200, {"errcode": 130101, "errmsg": "send too fast, "
                                         "exceed 20 times per minute"}, {}))
        assert deliver_pending(warehouse, settings, now)["failed"] == 1

        # Another process, with a new alert for the robot, must not extend DingTalk's block.
        _new_process()
        fake_clock.now += 30
        later = now + timedelta(seconds=30)
        _queue_alerts(warehouse, later, [2])
        second = deliver_pending(warehouse, settings, later)
        assert second["sent"] == 0
        # Said as the platform's block (errcode 130101), not as jingyu's own limit.
        assert "blocked this robot" in second["errors"][0]
        assert "errcode 130101" in second["errors"][0]
        assert "own rate limit" not in second["errors"][0]
        assert robot_server.requests == 1

        _new_process()
        fake_clock.now += 600
        assert deliver_pending(warehouse, settings, now + timedelta(minutes=11))["sent"] == 2
    finally:
        warehouse.close()


def test_feishu_second_process_waits_out_the_five_per_second_window(
        robot_server, fake_clock, warehouse_url, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-feishu, kind: feishu, url: "{robot_server.feishu_url}",
     secret_env: JINGYU_TEST_FEISHU_SECRET}}
"""), "alerts.yaml")
    warehouse = Warehouse(warehouse_url)
    try:
        _queue_alerts(warehouse, now, range(1, 5), channel="duty-feishu")   # 4 of 5 a second
        assert deliver_pending(warehouse, settings, now)["sent"] == 4
        _new_process()
        _queue_alerts(warehouse, now, range(5, 8), channel="duty-feishu")
        assert deliver_pending(warehouse, settings, now)["sent"] == 3
        assert fake_clock.slept == [pytest.approx(1.0)]     # the 6th post waited a second
        assert len(robot_server.accepted) == 7
    finally:
        warehouse.close()


def _feishu_settings(server: RobotServer):
    return parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-feishu, kind: feishu, url: "{server.feishu_url}",
     secret_env: JINGYU_TEST_FEISHU_SECRET}}
"""), "alerts.yaml")


FEISHU_429 = (429, {"code": 99991400, "msg": "request trigger frequency limit"})


def test_feishu_429_is_retried_when_the_platform_says_within_the_pass(
        robot_server, fake_clock, warehouse_url, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    warehouse = Warehouse(warehouse_url)
    try:
        _queue_alerts(warehouse, now, [1], channel="duty-feishu")
        robot_server.force.append((*FEISHU_429, {"x-ogw-ratelimit-reset": "5"}))
        report = deliver_pending(warehouse, _feishu_settings(robot_server), now)
        # Asked again 5 s later, as Feishu said: not a cycle (minutes) later.
        assert report == {"sent": 1, "failed": 0, "errors": []}
        assert fake_clock.slept == [pytest.approx(5.0)]
        assert robot_server.requests == 2 and len(robot_server.accepted) == 1
        assert warehouse.outbox_counts() == {"sent": 1}
    finally:
        warehouse.close()


def test_a_longer_platform_reset_is_the_next_attempt_time_not_a_backoff(
        robot_server, fake_clock, warehouse_url, now, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    warehouse = Warehouse(warehouse_url)
    try:
        _queue_alerts(warehouse, now, [1], channel="duty-feishu")
        # Failed twice before: the backoff alone would wait 2 minutes.
        with warehouse.engine.begin() as conn:
            conn.execute(text("update outbox set attempts = 2"))
        robot_server.force.append((*FEISHU_429, {"x-ogw-ratelimit-reset": "45"}))
        report = deliver_pending(warehouse, _feishu_settings(robot_server), now)
        assert report["sent"] == 0 and "HTTP 429" in report["errors"][0]
        assert fake_clock.slept == []
        assert warehouse.pending_notifications(now + timedelta(seconds=44)) == []
        assert len(warehouse.pending_notifications(now + timedelta(seconds=45))) == 1
        fake_clock.now += 45
        later = deliver_pending(warehouse, _feishu_settings(robot_server),
                                now + timedelta(seconds=45))
        assert later["sent"] == 1 and len(robot_server.accepted) == 1
    finally:
        warehouse.close()


def _claim(warehouse: Warehouse, channel: str, at: datetime, by: str,
           blocked_until: datetime | None = None) -> None:
    assert warehouse.claim_robot_post(channel, at, by, at - timedelta(hours=1),
                                      lambda _posts: 0.0) == 0.0
    if blocked_until is not None:
        warehouse.block_robot(channel, at, by, blocked_until)


def test_the_warehouse_keeps_robot_posts_per_channel_and_forgets_old_ones(warehouse_url, now):
    warehouse = Warehouse(warehouse_url)
    try:
        _claim(warehouse, "duty-ding", now - timedelta(days=2), "ancient")
        _claim(warehouse, "duty-ding", now - timedelta(hours=2), "old")
        _claim(warehouse, "duty-ding", now - timedelta(seconds=30), "a",
               blocked_until=now + timedelta(minutes=9))
        _claim(warehouse, "duty-ding", now - timedelta(seconds=5), "a")
        _claim(warehouse, "other-robot", now, "b")              # not its channel

        posts = warehouse.robot_posts("duty-ding", now - timedelta(seconds=10))
        assert [(p["at"], p["by"], p["blocked_until"]) for p in posts] == [
            (now - timedelta(seconds=30), "a", now + timedelta(minutes=9)),   # still blocking
            (now - timedelta(seconds=5), "a", None)]
        # A day-old post is dropped once newer ones come; the two-hour-old one is kept.
        everything = warehouse.robot_posts("duty-ding", now - timedelta(days=3))
        assert [p["by"] for p in everything] == ["old", "a", "a"]
        assert [p["by"] for p in warehouse.robot_posts("other-robot", now)] == ["b"]
    finally:
        warehouse.close()


def test_a_refused_claim_records_nothing_and_decide_sees_the_window(warehouse_url, now):
    warehouse = Warehouse(warehouse_url)
    seen: list[list[str]] = []

    def full(posts):
        seen.append([p["by"] for p in posts])
        return 42.0

    try:
        _claim(warehouse, "duty-ding", now - timedelta(minutes=90), "too-old-to-matter")
        _claim(warehouse, "duty-ding", now - timedelta(seconds=20), "a")
        assert warehouse.claim_robot_post("duty-ding", now, "b", now - timedelta(hours=1),
                                          full) == 42.0
        assert seen == [["a"]]
        assert [p["by"] for p in warehouse.robot_posts("duty-ding", now - timedelta(hours=1))
                ] == ["a"]
    finally:
        warehouse.close()


def test_two_processes_posting_at_once_never_exceed_the_robots_budget(
        robot_server, fake_clock, warehouse_url):
    """The monitor flow and the watchdog flow deliver at the same moment, each with 15 alerts
    for the robot (DingTalk takes 20 a minute). Both read the shared budget as empty when
    they start; claiming each post against the warehouse keeps them to 20 together, so
    DingTalk never refuses one (130101) and never blocks the robot for 10 minutes."""
    barrier = threading.Barrier(2)
    results: dict[str, list] = {}

    def process(name: str) -> None:
        warehouse = Warehouse(warehouse_url)       # its own connections, as a process has
        try:
            channel = dingtalk(robot_server, limiter=SlidingWindowLimiter(((20, 60.0),)))
            channel.share_budget(WarehouseLedger(warehouse))
            batch = [message(n) for n in range(1, 16)]
            barrier.wait()
            results[name] = channel.send_batch(batch)
        finally:
            warehouse.close()

    Warehouse(warehouse_url).close()                # migrate once, before both start
    threads = [threading.Thread(target=process, args=(name,)) for name in ("monitor", "watchdog")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = [r for batch in results.values() for r in batch]
    assert len(outcomes) == 30
    assert robot_server.requests <= 20
    assert len(robot_server.accepted) == robot_server.requests      # no 130101 refusal
    assert all(r is None or isinstance(r, RateLimited) for r in outcomes)
    # Whatever was held back is RateLimited (kept pending), and the budget was used up.
    assert robot_server.requests == 20 or not any(outcomes)


# ---- secrets and settings -----------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    (f"https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}&timestamp=1&sign=a%2Bb",
     "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***"),
    (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}",
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"),
    (f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_HOOK}",
     "https://open.feishu.cn/open-apis/bot/v2/hook/***"),
    ("http://user:pw@127.0.0.1:8900/jingyu/alerts?x=1",
     "http://***@127.0.0.1:8900/jingyu/alerts?x=1"),
    ("http://127.0.0.1:8900/jingyu/alerts", "http://127.0.0.1:8900/jingyu/alerts"),
])
def test_redact_url_hides_tokens_keys_and_signs(url, expected):
    assert redact_url(url) == expected


def test_redact_text_hides_urls_inside_messages_and_known_secrets():
    text = (f"HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
            f"/robot/send?access_token={DING_TOKEN}&timestamp=17&sign=Ouzz%2B (secret "
            f"{DING_SECRET})")
    cleaned = redact_text(text, [DING_SECRET])
    no_secret_in(cleaned)
    assert "timestamp=17" in cleaned


def test_missing_secret_env_is_reported_at_send_time_and_by_the_startup_check(
        robot_server, fake_clock, monkeypatch):
    monkeypatch.delenv("JINGYU_DINGTALK_SECRET", raising=False)
    monkeypatch.delenv("JINGYU_WECOM_URL", raising=False)
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{robot_server.dingtalk_url}",
     secret_env: JINGYU_DINGTALK_SECRET}}
  - {{name: duty-wecom, kind: wecom, url_env: JINGYU_WECOM_URL}}
  - {{name: spare, kind: wecom, url_env: JINGYU_NOT_USED, enabled: false}}
"""), "alerts.yaml")                                # parsing does not need the environment

    problems = check_channel_secrets(settings)
    assert len(problems) == 2
    assert "'duty-ding'" in problems[0] and "JINGYU_DINGTALK_SECRET is not set" in problems[0]
    assert "JINGYU_WECOM_URL is not set" in problems[1]

    channels = build_channels(settings)
    with pytest.raises(DeliveryError, match="secret env JINGYU_DINGTALK_SECRET is not set"):
        channels["duty-ding"].send(message(1))
    assert robot_server.requests == 0

    monkeypatch.setenv("JINGYU_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("JINGYU_WECOM_URL", robot_server.wecom_url)
    assert check_channel_secrets(settings) == []
    channels = build_channels(settings)
    channels["duty-ding"].send(message(1))
    channels["duty-wecom"].send(message(2))
    assert [r.platform for r in robot_server.accepted] == ["dingtalk", "wecom"]


def test_secret_from_a_prefect_secret_block(robot_server, fake_clock, monkeypatch):
    from alerts.delivery import channel_secrets

    blocks = {"jingyu-feishu-secret": FEISHU_SECRET}
    monkeypatch.setattr(channel_secrets, "load_secret_block", lambda name: blocks[name])
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-feishu, kind: feishu, url: "{robot_server.feishu_url}",
     secret_block: jingyu-feishu-secret}}
"""), "alerts.yaml")

    build_channels(settings)["duty-feishu"].send(message(1))

    assert len(robot_server.accepted) == 1
    blocks.clear()
    problems = check_channel_secrets(settings)
    assert "Prefect Secret block 'jingyu-feishu-secret' cannot be loaded" in problems[0]


def test_robot_settings_parse_with_their_defaults():
    settings = parse_alert_settings(yaml.safe_load("""
channels:
  - {name: d, kind: dingtalk, url_env: JINGYU_DINGTALK_URL, secret_env: JINGYU_DINGTALK_SECRET,
     min_level: 2}
  - {name: w, kind: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}
  - {name: f, kind: feishu, url_block: jingyu-feishu-url, timeout_seconds: 5}
  - {name: m, kind: email, host: smtp.example.gov.cn, sender: jingyu@example.gov.cn,
     to: [duty@example.gov.cn], username: jingyu, password_env: JINGYU_SMTP_PASSWORD}
"""), "alerts.yaml")
    d, w, f, m = settings.channels
    assert (d.url, d.url_env, d.secret_env, d.min_level) == (
        None, "JINGYU_DINGTALK_URL", "JINGYU_DINGTALK_SECRET", 2)
    assert w.url.startswith("https://qyapi")
    assert (f.url_block, f.timeout_seconds) == ("jingyu-feishu-url", 5.0)
    assert (m.host, m.port, m.security, m.to) == ("smtp.example.gov.cn", 587, "starttls",
                                                  ("duty@example.gov.cn",))


@pytest.mark.parametrize("entry, field", [
    ("{name: a, kind: dingtalk}", "channels[0].url_env"),
    ("{name: a, kind: dingtalk, url: 'https://x', url_env: X}", "channels[0].url_env"),
    ("{name: a, kind: dingtalk, url: 'ftp://x'}", "channels[0].url"),
    ("{name: a, kind: wecom, url_env: X, secret_env: Y}", "channels[0].secret_env"),
    ("{name: a, kind: feishu, url_env: X, secret_env: 'SEC123-abc!'}", "channels[0].secret_env"),
    ("{name: a, kind: feishu, url_env: X, secret_env: A, secret_block: b}",
     "channels[0].secret_env"),
    ("{name: a, kind: console, url_env: X}", "channels[0].url_env"),
    ("{name: a, kind: webhook, url: 'http://h', secret_env: X}", "channels[0].secret_env"),
    ("{name: a, kind: dingtalk, url_env: X, host: smtp.x}", "channels[0].host"),
    ("{name: a, kind: email, sender: a@b, to: [c@d]}", "channels[0].host"),
    ("{name: a, kind: email, host: h, to: [c@d]}", "channels[0].sender"),
    ("{name: a, kind: email, host: h, sender: a@b}", "channels[0].to"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [nobody]}", "channels[0].to"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], security: tls}",
     "channels[0].security"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], username: u}",
     "channels[0].password_env"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], password_env: P}",
     "channels[0].username"),
    ("{name: a, kind: email, host: h, sender: a@b, to: [c@d], port: 70000}", "channels[0].port"),
])
def test_invalid_robot_and_email_settings_name_the_field(entry, field):
    with pytest.raises(ConfigError) as caught:
        parse_alert_settings(yaml.safe_load(f"channels: [{entry}]"), "alerts.yaml")
    assert caught.value.field == field
    assert caught.value.fix


def test_the_commented_examples_in_config_alerts_yaml_are_valid_when_switched_on():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "config" / "alerts.yaml").read_text(encoding="utf-8")
    uncommented = text.replace("  # - ", "  - ").replace("  #   ", "    ")
    settings = parse_alert_settings(yaml.safe_load(uncommented), "alerts.yaml")
    kinds = {c.kind for c in settings.channels}
    assert {"dingtalk", "wecom", "feishu", "email"} <= kinds
    assert all(not c.enabled for c in settings.channels if c.kind in kinds - {"console", "jsonl"})


# ---- 签收/查看 buttons: signed one-tap links (alerts.delivery.buttons, console.links) ------------

def _robot_settings(server: RobotServer):
    return parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{server.dingtalk_url}",
     secret_env: JINGYU_TEST_DINGTALK_SECRET}}
  - {{name: duty-wecom, kind: wecom, url: "{server.wecom_url}"}}
  - {{name: duty-feishu, kind: feishu, url: "{server.feishu_url}",
     secret_env: JINGYU_TEST_FEISHU_SECRET}}
"""), "alerts.yaml")


def _deliver_with_links(server, warehouse_url, now, monkeypatch, recipients):
    from tests.tap_support import queue_incident, signer

    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    links = signer("https://jingyu.example.gov.cn")
    warehouse = Warehouse(warehouse_url)
    try:
        incident = queue_incident(warehouse, now, 7, ["duty-ding", "duty-wecom", "duty-feishu"],
                                  recipients)
        report = deliver_pending(warehouse, _robot_settings(server), now, links)
    finally:
        warehouse.close()
    assert report["sent"] == 3, report
    return incident, links, {r.platform: r.body for r in server.accepted}


def test_robot_messages_carry_signed_ack_and_view_buttons(robot_server, fake_clock,
                                                          warehouse_url, now, monkeypatch):
    incident, links, bodies = _deliver_with_links(robot_server, warehouse_url, now,
                                                  monkeypatch, (ZHANG, CHEN))

    card = bodies["dingtalk"]["actionCard"]
    assert bodies["dingtalk"]["msgtype"] == "actionCard"
    assert [b["title"] for b in card["btns"]] == ["签收（张三）", "签收（陈静）", "查看详情"]
    assert "15 分钟内签收" in card["text"]
    # still @-mentions: the at list and "@…" in the text, as for markdown
    assert bodies["dingtalk"]["at"]["atMobiles"] == ["13800000011", "13800000021"]
    assert "@13800000011" in card["text"]
    said = [links.read(b["actionURL"].rsplit("/t/", 1)[1], now) for b in card["btns"]]
    assert [(s.incident_id, s.recipient, s.action) for s in said] == [
        (incident, "张三", "ack"), (incident, "陈静", "ack"), (incident, "张三", "view")]
    assert all(s.expires_at == now + timedelta(hours=2) for s in said)
    assert len({s.link_id for s in said}) == 3
    assert all(b["actionURL"].startswith("https://jingyu.example.gov.cn/t/")
               for b in card["btns"])

    wecom = bodies["wecom"]
    assert wecom["msgtype"] == "template_card"
    template = wecom["template_card"]
    assert [j["title"] for j in template["jump_list"]] == ["签收（张三）", "签收（陈静）", "查看详情"]
    assert template["card_action"]["url"] == template["jump_list"][-1]["url"]
    assert template["horizontal_content_list"][0]["url"] == "https://weibo.com/post/7"
    assert template["emphasis_content"] == {"title": "15 分钟", "desc": "内签收"}
    assert template["sub_title_text"].startswith("@张三 命中高风险话题")   # 陈静: no wecom handle
    assert "###" not in template["sub_title_text"] and "<@" not in template["sub_title_text"]

    [action] = [e for e in bodies["feishu"]["card"]["elements"] if e["tag"] == "action"]
    assert [(b["text"]["content"], b["type"]) for b in action["actions"]] == [
        ("签收（张三）", "primary"), ("签收（陈静）", "primary"), ("查看详情", "default")]


def test_wecom_card_keeps_to_three_jumps_with_view_last(robot_server, fake_clock,
                                                        warehouse_url, now, monkeypatch):
    _, _, bodies = _deliver_with_links(robot_server, warehouse_url, now, monkeypatch,
                                       (ZHANG, WANG, CHEN, SUN))
    jumps = bodies["wecom"]["template_card"]["jump_list"]
    assert [j["title"] for j in jumps] == ["签收（张三）", "签收（王五）", "查看详情"]
    assert len(bodies["dingtalk"]["actionCard"]["btns"]) == 5       # 4 acks and 查看


def test_an_acknowledged_incident_gets_only_the_view_button(robot_server, fake_clock,
                                                            warehouse_url, now, monkeypatch):
    from alerts.incidents import actions
    from warehouse.incidents import IncidentStore
    from tests.tap_support import queue_incident, signer

    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    monkeypatch.setenv("JINGYU_TEST_FEISHU_SECRET", FEISHU_SECRET)
    warehouse = Warehouse(warehouse_url)
    try:
        incident = queue_incident(warehouse, now, 8, ["duty-ding"], (ZHANG,))
        actions.acknowledge(IncidentStore(warehouse), incident, "张三", now)
        deliver_pending(warehouse, _robot_settings(robot_server), now, signer())
    finally:
        warehouse.close()
    [got] = robot_server.accepted
    assert [b["title"] for b in got.body["actionCard"]["btns"]] == ["查看详情"]


def test_without_a_console_address_messages_stay_markdown(robot_server, fake_clock,
                                                          warehouse_url, now, monkeypatch):
    from tests.tap_support import queue_incident

    monkeypatch.setenv("JINGYU_TEST_DINGTALK_SECRET", DING_SECRET)
    warehouse = Warehouse(warehouse_url)
    try:
        queue_incident(warehouse, now, 9, ["duty-ding"], (ZHANG,))
        deliver_pending(warehouse, _robot_settings(robot_server), now)
    finally:
        warehouse.close()
    [got] = robot_server.accepted
    assert got.body["msgtype"] == "markdown"
    assert "15 分钟内签收（命令行：jingyu alerts ack 1 --by 姓名）" in got.body["markdown"]["text"]


# ---- 系统告警 (source and pipeline health): no level, no colour ---------------------------

def health_message(message_id: int, name: str = "微博关键词", channel: str = "robot",
                   operators: tuple[Recipient, ...] = ()) -> OutboxMessage:
    from alerts.delivery.render import render_health
    from alerts.incidents.watchdog import HealthAlert

    alert = HealthAlert(fingerprint=f"health:source:s{message_id}:failing:never",
                        title=f"信息源失效：{name}", reason="连续 3 次采集失败；最近错误：HTTP 500",
                        jurisdiction="qingchuan", detected_at=datetime(2026, 11, 26, 7, 30,
                                                                       tzinfo=timezone.utc))
    return OutboxMessage(id=message_id, alert_id=100 + message_id, channel=channel,
                         idempotency_key=f"{alert.fingerprint}#v1@{channel}",
                         payload=render_health(alert, 100 + message_id, operators=operators),
                         attempts=0)


def test_health_messages_carry_no_level_on_any_robot(robot_server, fake_clock):
    feishu(robot_server).send(health_message(1))
    robots.WeComChannel("ops-wecom", robot_server.wecom_url).send(health_message(2))
    dingtalk(robot_server).send(health_message(3, name="[点我](https://evil.example) **x**"))
    card, wecom, ding = robot_server.accepted
    header = card.body["card"]["header"]
    assert header["template"] == "grey"                      # not red/orange/yellow/blue
    assert header["title"]["content"] == "【系统告警】信息源失效：微博关键词"
    text = wecom.body["markdown"]["content"]
    assert text.startswith("### 【系统告警】") and "级 " not in text
    assert "不分预警等级" in text                            # the 预警 keyword, and what it is
    markdown = ding.body["markdown"]["text"]
    assert "](https://evil.example)" not in markdown and "**x**" not in markdown


def test_health_messages_mention_the_operators_on_duty(robot_server, fake_clock):
    """The roster's 运维 on duty are named in a 系统告警 and @-mentioned like duty staff, so
    the operator's phone rings at 3 a.m., not only a group's."""
    qian = Recipient("钱程", "青川市公安局科信处运维值班", "13800000071",
                     {"dingtalk": "13800000071", "wecom": "qiancheng"})
    dingtalk(robot_server).send(health_message(1, operators=(qian,)))
    robots.WeComChannel("ops-wecom", robot_server.wecom_url).send(
        health_message(2, operators=(qian,)))
    dingtalk(robot_server).send(health_message(3))
    ding, wecom, nobody = robot_server.accepted
    assert ding.mentioned == ["13800000071"] and wecom.mentioned == ["qiancheng"]
    assert "运维值班：钱程（青川市公安局科信处运维值班）" in ding.body["markdown"]["text"]
    assert nobody.mentioned == [] and "运维值班" not in nobody.body["markdown"]["text"]


def test_a_digest_ranks_health_after_every_opinion_alert(robot_server, fake_clock):
    messages = [health_message(n, channel="duty-ding") for n in (1, 2)] + [
        message(n, level=4, channel="duty-ding") for n in range(3, 31)]
    deliver(messages, {"duty-ding": dingtalk(robot_server)})
    posts = [p.body["markdown"] for p in robot_server.accepted]
    assert posts[0]["title"] == "10 条预警（最高 IV级 蓝色）"
    assert "系统告警" not in posts[0]["text"]
    assert "【系统告警】信息源失效" in posts[-1]["text"]
    only_health = [health_message(n, channel="duty-ding") for n in range(40, 62)]
    robot_server.accepted.clear()
    fake_clock.sleep(120)
    deliver(only_health, {"duty-ding": dingtalk(robot_server)})
    assert robot_server.accepted[0].body["markdown"]["title"].endswith("条系统告警")
