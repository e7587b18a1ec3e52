"""deliver(): every message tried once, failures reported and kept; retry backoff."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest

from alerts.delivery.channels import Channel, JsonLinesChannel, WebhookChannel
from alerts.delivery.deliver import DeliveryOutcome, deliver, next_attempt_delay
from warehouse.records import OutboxMessage


def message(message_id: int, channel: str) -> OutboxMessage:
    return OutboxMessage(id=message_id, alert_id=3, channel=channel,
                         idempotency_key=f"alert-3-v1-{channel}",
                         payload={"title": "t", "text": "预警", "markdown": "m", "level": 2,
                                  "alert": {}},
                         attempts=0)


def test_one_failing_channel_does_not_block_the_others(tmp_path, webhook_receiver):
    webhook_receiver.status = 503
    channels = {"centre": WebhookChannel("centre", webhook_receiver.url),
                "archive": JsonLinesChannel("archive", tmp_path / "out.jsonl")}

    outcomes = deliver([message(1, "centre"), message(2, "archive")], channels)

    assert outcomes[1] == DeliveryOutcome(2, delivered=True, error=None)
    assert outcomes[0].message_id == 1
    assert outcomes[0].delivered is False
    assert "HTTP 503" in outcomes[0].error
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == [2]


def test_unreachable_webhook_is_reported_not_raised(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    channels = {"centre": WebhookChannel("centre", url, timeout_seconds=2)}

    [outcome] = deliver([message(4, "centre")], channels)

    assert not outcome.delivered
    assert url in outcome.error


def test_unknown_channel_is_kept_for_retry_with_a_clear_error(tmp_path):
    channels = {"archive": JsonLinesChannel("archive", tmp_path / "out.jsonl")}

    [outcome] = deliver([message(7, "dingtalk-city")], channels)

    assert outcome == DeliveryOutcome(7, delivered=False, error=outcome.error)
    assert "'dingtalk-city'" in outcome.error
    assert "retry" in outcome.error
    assert not (tmp_path / "out.jsonl").exists()


class BrokenChannel(Channel):
    """A channel with a bug: raises something other than DeliveryError."""

    def send(self, message: OutboxMessage) -> None:
        raise KeyError("token")


def test_crashing_channel_is_reported_and_the_rest_still_delivered(tmp_path):
    channels = {"broken": BrokenChannel("broken"),
                "archive": JsonLinesChannel("archive", tmp_path / "out.jsonl")}

    outcomes = deliver([message(1, "broken"), message(2, "archive")], channels)

    assert [o.delivered for o in outcomes] == [False, True]
    assert outcomes[0].error == "KeyError: 'token'"


@pytest.mark.parametrize("attempts, delay", [
    (1, timedelta(seconds=30)),
    (2, timedelta(minutes=1)),
    (4, timedelta(minutes=4)),
    (6, timedelta(minutes=16)),
    (7, timedelta(minutes=30)),
    (10_000, timedelta(minutes=30)),
])
def test_retry_delay_doubles_up_to_thirty_minutes(attempts, delay):
    assert next_attempt_delay(attempts) == delay


def test_retry_delay_needs_a_failed_attempt():
    with pytest.raises(ValueError, match="got 0"):
        next_attempt_delay(0)
