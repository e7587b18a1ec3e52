"""Channels against real receivers: a JSON Lines file and an HTTP server on 127.0.0.1."""
from __future__ import annotations

import json
import socket

import pytest
import yaml

from alerts.delivery.channels import ConsoleChannel, DeliveryError, JsonLinesChannel, WebhookChannel
from alerts.delivery.registry import CHANNEL_FACTORIES, build_channels
from alerts.settings import CHANNEL_KINDS, parse_alert_settings
from warehouse.records import OutboxMessage

PAYLOAD = {"title": "【III级 黄色预警】敏感信息", "text": "【III级 黄色预警】敏感信息\n命中 袭警",
           "markdown": "### 敏感信息", "level": 3, "alert": {"fingerprint": "item:abc"}}


def message(message_id: int = 1, channel: str = "duty", key: str = "alert-5-v1-duty"
            ) -> OutboxMessage:
    return OutboxMessage(id=message_id, alert_id=5, channel=channel, idempotency_key=key,
                         payload=PAYLOAD, attempts=0)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/jingyu/alerts"


def test_jsonl_appends_one_utf8_line_per_message(tmp_path):
    path = tmp_path / "var" / "notifications.jsonl"
    channel = JsonLinesChannel("duty", path)

    channel.send(message(1, key="k-1"))
    channel.send(message(2, key="k-2"))

    raw = path.read_text(encoding="utf-8")
    assert "黄色预警" in raw                                  # not \u-escaped
    records = [json.loads(line) for line in raw.splitlines()]
    assert [r["message_id"] for r in records] == [1, 2]
    assert [r["idempotency_key"] for r in records] == ["k-1", "k-2"]
    assert records[0]["payload"] == PAYLOAD


def test_jsonl_unwritable_path_is_a_delivery_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(DeliveryError, match="not-a-dir"):
        JsonLinesChannel("duty", blocker / "out.jsonl").send(message())


def test_webhook_posts_json_with_idempotency_key(webhook_receiver):
    WebhookChannel("centre", webhook_receiver.url).send(message(key="alert-5-v2-centre"))

    [request] = webhook_receiver.received
    assert request.path == "/jingyu/alerts"
    assert request.headers["Idempotency-Key"] == "alert-5-v2-centre"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == PAYLOAD


def test_webhook_server_error_is_a_delivery_error(webhook_receiver):
    webhook_receiver.status = 500
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel("centre", webhook_receiver.url).send(message())
    assert webhook_receiver.url in str(caught.value)
    assert "HTTP 500" in str(caught.value)
    assert len(webhook_receiver.received) == 1


def test_webhook_closed_port_is_a_delivery_error():
    url = closed_port_url()
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel("centre", url, timeout_seconds=2).send(message())
    assert url in str(caught.value)
    assert "no response" in str(caught.value)


def test_console_prints_the_text(capsys):
    ConsoleChannel("console").send(message())
    assert "[console] 【III级 黄色预警】敏感信息\n命中 袭警" in capsys.readouterr().out


def test_build_channels_makes_enabled_channels_by_name(tmp_path):
    settings = parse_alert_settings(yaml.safe_load(f"""
channels:
  - {{name: console, kind: console}}
  - {{name: archive, kind: jsonl, path: "{tmp_path / 'a.jsonl'}"}}
  - {{name: centre, kind: webhook, url: "http://127.0.0.1:9/x", timeout_seconds: 3}}
  - {{name: spare, kind: console, enabled: false}}
"""), "alerts.yaml")

    channels = build_channels(settings)

    assert list(channels) == ["console", "archive", "centre"]
    assert isinstance(channels["console"], ConsoleChannel)
    assert channels["archive"].path == tmp_path / "a.jsonl"
    assert "(http://127.0.0.1:9/x)" in channels["centre"].prefix
    assert channels["centre"].timeout_seconds == 3.0
    assert {c.name for c in channels.values()} == set(channels)


def test_every_configurable_kind_can_be_built():
    assert set(CHANNEL_FACTORIES) == set(CHANNEL_KINDS)
