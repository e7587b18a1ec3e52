"""Secrets stay secret when delivery fails (issue 10): the webhook URL can come from the
environment, errors show it redacted and quote at most a short, redacted piece of what the
receiver answered; SMTP never logs in over an unencrypted connection unless told to."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from alerts.delivery.channel_secrets import check_channel_secrets
from alerts.delivery.channels import DeliveryError
from alerts.delivery.deliver import deliver
from alerts.delivery.email import EmailChannel
from alerts.delivery.registry import build_channels
from alerts.settings import parse_alert_settings
from jingyu.config import ConfigError
from warehouse.records import OutboxMessage

TOKEN = "wh-s3cret-t0ken-4f9a8b7c"


@pytest.fixture
def hostile_receiver() -> Iterator[dict]:
    """A receiver that answers 500 with a megabyte of text quoting the request line (and so
    the token) over and over, and terminal escapes."""
    state = {"status": 500, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["hits"] += 1
            body = (f"error at {self.path}\x1b[2J\r\n" * 20_000).encode()
            self.send_response(state["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook/{TOKEN}?token={TOKEN}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _message() -> OutboxMessage:
    return OutboxMessage(id=1, alert_id=7, channel="ops-hook", idempotency_key="k#v1@ops-hook",
                         payload={"title": "t", "text": "t", "level": 3}, attempts=0)


def _settings(extra: str):
    return parse_alert_settings(yaml.safe_load(f"channels:\n  - {{name: ops-hook, kind: "
                                               f"webhook, {extra}}}\n"), "alerts.yaml")


def test_webhook_url_from_the_environment_and_errors_without_the_token(hostile_receiver,
                                                                       monkeypatch):
    monkeypatch.delenv("JINGYU_TEST_HOOK_URL", raising=False)
    settings = _settings("url_env: JINGYU_TEST_HOOK_URL")
    assert "JINGYU_TEST_HOOK_URL" in check_channel_secrets(settings)[0]
    [outcome] = deliver([_message()], build_channels(settings))
    assert not outcome.delivered and "JINGYU_TEST_HOOK_URL is not set" in outcome.error

    monkeypatch.setenv("JINGYU_TEST_HOOK_URL", hostile_receiver["url"])
    assert check_channel_secrets(settings) == []
    [outcome] = deliver([_message()], build_channels(settings))
    assert hostile_receiver["hits"] == 1
    assert not outcome.delivered and "HTTP 500" in outcome.error
    assert TOKEN not in outcome.error                 # what goes to outbox.last_error
    assert len(outcome.error) < 400 and "\x1b" not in outcome.error and "\r" not in outcome.error

    hostile_receiver["status"] = 200
    [outcome] = deliver([_message()], build_channels(settings))
    assert outcome.delivered


def test_a_literal_webhook_url_is_redacted_in_errors(hostile_receiver):
    channels = build_channels(_settings(f"url: '{hostile_receiver['url']}'"))
    with pytest.raises(DeliveryError) as raised:
        channels["ops-hook"].send(_message())
    assert TOKEN not in str(raised.value) and "***" in str(raised.value)


def test_webhook_takes_exactly_one_url_source():
    with pytest.raises(ConfigError, match="exactly one of url, url_env, url_block"):
        _settings("url: 'http://x/', url_env: JINGYU_X")
    with pytest.raises(ConfigError, match="exactly one of url, url_env, url_block"):
        _settings("timeout_seconds: 5")


def test_smtp_login_in_clear_needs_an_explicit_setting():
    entry = ("{name: m, kind: email, host: h, sender: a@b, to: [c@d], security: none, "
             "username: u, password_env: JINGYU_X}")
    with pytest.raises(ConfigError, match=r"channels\[0\]\.security.*unencrypted"):
        parse_alert_settings(yaml.safe_load(f"channels:\n  - {entry}\n"), "alerts.yaml")
    allowed = entry.replace("}", ", allow_plaintext_login: true}")
    [channel] = parse_alert_settings(yaml.safe_load(f"channels:\n  - {allowed}\n"),
                                     "alerts.yaml").channels
    assert channel.allow_plaintext_login
    with pytest.raises(ValueError, match="unencrypted"):
        EmailChannel("m", "h", "a@b", ["c@d"], security="none", username="u",
                     password_env="JINGYU_X")
    # Without a login nothing secret crosses the wire: a plain relay stays allowed.
    EmailChannel("m", "h", "a@b", ["c@d"], security="none")
