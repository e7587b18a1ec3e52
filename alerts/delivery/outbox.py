"""Deliver the outbox: every due notification, through its channel, retried until sent."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery.buttons import LinkMaker, with_buttons
from alerts.delivery.channels import PostRecord
from alerts.delivery.deliver import deliver, next_attempt_delay
from alerts.delivery.registry import build_channels
from alerts.settings import AlertSettings
from warehouse.incidents import IncidentStore
from warehouse.records import OutboxMessage
from warehouse.store import Warehouse


class WarehouseLedger:
    """The chat robots' posts, kept in the warehouse so that every process posting through the
    same robot spends one rate budget (alerts.delivery.channels.PostLedger)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def posts_since(self, channel: str, since: datetime) -> list[PostRecord]:
        return [_post_record(p) for p in self.warehouse.robot_posts(channel, since)]

    def claim_post(self, channel: str, record: PostRecord, since: datetime,
                   decide: Callable[[list[PostRecord]], float]) -> float:
        return self.warehouse.claim_robot_post(
            channel, record.at, record.by, since,
            lambda posts: decide([_post_record(p) for p in posts]))

    def record_block(self, channel: str, record: PostRecord) -> None:
        if record.blocked_until is not None:
            self.warehouse.block_robot(channel, record.at, record.by, record.blocked_until)


def _with_links(warehouse: Warehouse, messages: list[OutboxMessage], links: LinkMaker,
                now: datetime) -> list[OutboxMessage]:
    """Messages with their buttons; 签收 only while the incident still waits for it."""
    incidents = IncidentStore(warehouse).by_ids(sorted({m.alert_id for m in messages}))
    out = []
    for message in messages:
        incident = incidents.get(message.alert_id)   # an incident takes its alert's id
        if incident is None:
            out.append(message)
            continue
        payload = with_buttons(message.payload, incident.id, links, now,
                               awaiting_ack=incident.status == "new")
        out.append(replace(message, payload=payload))
    return out


def _post_record(post: dict[str, Any]) -> PostRecord:
    return PostRecord(at=post["at"], by=post["by"], blocked_until=post["blocked_until"])


def deliver_pending(warehouse: Warehouse, settings: AlertSettings, now: datetime,
                    links: LinkMaker | None = None) -> dict[str, Any]:
    """Send every due outbox message; a failure stays pending with a later retry time.

    Chat robots count the posts other processes made through them (the monitor flow, the
    watchdog flow, `jingyu alerts ...`) before planning theirs, and record their own.
    With `links` (console.links, when alerts.yaml sets console.base_url), each message about
    an incident gets its signed 签收/查看 links as it goes out (alerts.delivery.buttons).
    """
    messages = warehouse.pending_notifications(now)
    if links is not None:
        messages = _with_links(warehouse, messages, links, now)
    attempts = {m.id: m.attempts for m in messages}
    channels = build_channels(settings)
    ledger = WarehouseLedger(warehouse)
    for channel in channels.values():
        channel.share_budget(ledger)
    sent, errors = 0, []
    for outcome in deliver(messages, channels):
        if outcome.delivered:
            warehouse.mark_delivered(outcome.message_id, now)
            sent += 1
        else:
            delay = next_attempt_delay(attempts[outcome.message_id] + 1)
            if outcome.retry_after is not None:
                # The platform said when it will take messages again (DingTalk blocks a robot
                # for 10 minutes after errcode 130101): asking sooner only extends the block.
                delay = max(delay, timedelta(seconds=outcome.retry_after))
            retry_at = now + delay
            warehouse.mark_failed(outcome.message_id, outcome.error or "unknown error", retry_at)
            errors.append(outcome.error or "unknown error")
    return {"sent": sent, "failed": len(errors), "errors": errors}
