"""Failures named: every fault of a local world of faulty servers gets its class (hard, soft,
blocked, credentials) from the base collector, with a message that says what happened."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest

from collectors import fetch
from collectors.failures import (FailureClass, FailurePolicy, after_fetch, class_of_message,
                                 class_of_transport)
from collectors.faulty_world import FAULTS
from collectors.http import HttpPolicy, PoliteClient
from collectors.records import FETCH_ERROR, FETCH_OK, SourceConfig, SourceCursor
from collectors.replay import FeedReplayServer

# One attempt, short timeouts: the slow server is a timeout at once.
POLICY = HttpPolicy(connect_timeout_s=1.0, read_timeout_s=0.5, per_host_delay_s=0.0,
                    retries=0, backoff_s=0.01)


@pytest.fixture(scope="module")
def world():
    with FeedReplayServer({fault.path: fault.route for fault in FAULTS}) as server:
        yield server


@pytest.mark.parametrize("fault", FAULTS, ids=[f.path.strip("/") for f in FAULTS])
def test_each_fault_is_classified(world: FeedReplayServer, fault) -> None:
    source = SourceConfig(id="s", name="S", kind="feed", url=world.url(fault.path))
    with PoliteClient(POLICY) as client:
        result = fetch(source, SourceCursor(etag="kept"), client)
    if fault.expected is None:
        assert result.status == FETCH_OK, result.error
        assert result.failure is None
        return
    assert result.status == FETCH_ERROR
    assert result.failure == fault.expected, f"{fault.what}: {result.error}"
    assert result.error and result.error.startswith("s: ") and world.url(fault.path) in result.error
    assert result.cursor == SourceCursor(etag="kept")     # a failure never moves the cursor


def test_messages_say_what_the_page_said(world: FeedReplayServer) -> None:
    with PoliteClient(POLICY) as client:
        def error(path: str) -> str:
            return fetch(SourceConfig(id="s", name="S", kind="feed", url=world.url(path)),
                         SourceCursor(), client).error or ""
        assert "Cookies expired. Please update WEIBO_COOKIES" in error("/rsshub-cookie")
        assert "cookie or token expired (HTTP 503)" in error("/rsshub-cookie")
        assert error("/weibo-432").startswith("s: blocked by the site (HTTP 432)")
        assert "Web 应用防火墙" in error("/waf")
        assert "redirected to a login page" in error("/login-redirect")
        assert "an empty page" in error("/empty")
        assert "RSSHub error item" in error("/rsshub-item")
        assert "read timeout" in error("/slow")


def test_refused_connection_is_soft_and_a_long_anti_fraud_page_is_not_a_captcha(
        world: FeedReplayServer) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with PoliteClient(POLICY) as client:
        refused = fetch(SourceConfig(id="s", name="S", kind="feed",
                                     url=f"http://127.0.0.1:{port}/rss"), SourceCursor(), client)
    assert refused.failure == "soft" and "connection refused" in (refused.error or "")
    # A news list that talks about 验证码 fraud is long: not taken for a captcha page.
    assert class_of_message("反诈提醒：不要把验证码告诉任何人") is FailureClass.BLOCKED  # a message alone
    assert class_of_transport("host name not found (DNS)") is FailureClass.HARD
    assert class_of_transport("no data for 20 s (read timeout)") is FailureClass.SOFT
    assert class_of_transport("response larger than 5242880 bytes, download aborted") \
        is FailureClass.HARD


def test_hard_failures_back_off_and_disable_soft_ones_do_not() -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    policy = FailurePolicy(max_backoff=timedelta(hours=6), disable_after=timedelta(hours=24))
    first = after_fetch(FailureClass.HARD, failing_since=None, consecutive_failures=0,
                        poll_minutes=5, now=now, policy=policy)
    assert first.failing_since == now and first.backoff_until == now + timedelta(minutes=10)
    third = after_fetch(FailureClass.HARD, failing_since=now, consecutive_failures=2,
                        poll_minutes=5, now=now + timedelta(hours=1), policy=policy)
    assert third.backoff_until == now + timedelta(hours=1, minutes=40)
    capped = after_fetch(FailureClass.BLOCKED, failing_since=now, consecutive_failures=12,
                         poll_minutes=5, now=now + timedelta(hours=2), policy=policy)
    assert capped.backoff_until == now + timedelta(hours=8) and not capped.disable
    soft = after_fetch(FailureClass.SOFT, failing_since=now, consecutive_failures=5,
                       poll_minutes=5, now=now + timedelta(hours=30), policy=policy)
    assert soft.backoff_until is None and not soft.disable
    gone = after_fetch(FailureClass.HARD, failing_since=now, consecutive_failures=40,
                       poll_minutes=5, now=now + timedelta(hours=24), policy=policy)
    assert gone.disable and "disabled after failing hard for 24 h" in (gone.note or "")
    assert after_fetch(None, failing_since=now, consecutive_failures=3, poll_minutes=5,
                       now=now, policy=policy).failing_since is None
