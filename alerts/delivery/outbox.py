"""Deliver the outbox: every due notification, through its channel, retried until sent."""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery import robots
from alerts.delivery.buttons import LinkMaker, with_buttons
from alerts.delivery.channels import PostRecord
from alerts.delivery.deliver import DeliveryOutcome, deliver, next_attempt_delay
from alerts.delivery.registry import build_channels
from alerts.settings import AlertSettings
from warehouse.incidents import IncidentStore
from warehouse.records import OutboxMessage
from warehouse.store import Warehouse


# A platform that says "again in a few seconds" (Feishu's 429 with its reset header) is asked
# again within the pass, when it said, not a cycle (minutes) later; longer waits are kept as
# the message's next attempt time.
RETRY_IN_PASS_S = 30.0
IN_PASS_ROUNDS = 3


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


class OutboxReceipts:
    """The outbox as a channel hears of it: a message is this pass's to send while its lease
    holds, and is marked sent right after its own send (not at the end of the pass), so a
    crash re-sends at most the message in flight."""

    def __init__(self, warehouse: Warehouse, claimer: str, now: datetime) -> None:
        self.warehouse, self.claimer, self.now = warehouse, claimer, now

    def hold(self, messages: Sequence[OutboxMessage]) -> bool:
        ids = {m.id for m in messages}
        return self.warehouse.hold_notifications(ids, self.claimer) == ids

    def delivered(self, messages: Sequence[OutboxMessage]) -> None:
        self.warehouse.mark_delivered([m.id for m in messages], self.now)


def delivery_pass_id() -> str:
    """Names one delivery pass in the outbox's claims: host, process, and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def deliver_pending(warehouse: Warehouse, settings: AlertSettings, now: datetime,
                    links: LinkMaker | None = None) -> dict[str, Any]:
    """Send every due outbox message exactly once; a failure stays pending with a later
    retry time.

    The pass first claims the due messages nobody else holds (Warehouse.claim_notifications),
    so the monitor, the watchdog and a `jingyu alerts` command running at once share them out
    instead of each sending all. A platform that asks for a short pause (Feishu's 429 with
    its reset header) is asked again within the pass, when it said. Chat robots count the
    posts other processes made through them before planning theirs, and record their own.
    With `links` (console.links, when alerts.yaml sets console.base_url), each message about
    an incident gets its signed 签收/查看 links as it goes out (alerts.delivery.buttons).
    """
    claimer = delivery_pass_id()
    messages = warehouse.claim_notifications(now, claimer)
    if not messages:
        return {"sent": 0, "failed": 0, "errors": []}
    if links is not None:
        messages = _with_links(warehouse, messages, links, now)
    channels = build_channels(settings)
    ledger = WarehouseLedger(warehouse)
    for channel in channels.values():
        channel.share_budget(ledger)
    receipts = OutboxReceipts(warehouse, claimer, now)
    sent, waited = 0, 0.0
    unsent: dict[int, DeliveryOutcome] = {}
    try:
        todo = list(messages)
        for round_ in range(1, IN_PASS_ROUNDS + 1):
            again: set[int] = set()
            wait = 0.0
            for outcome in deliver(todo, channels, receipts):
                if outcome.delivered or outcome.taken_over:
                    sent += outcome.delivered
                    unsent.pop(outcome.message_id, None)
                    continue
                unsent[outcome.message_id] = outcome
                if (outcome.retry_after is not None and outcome.retry_after <= RETRY_IN_PASS_S
                        and round_ < IN_PASS_ROUNDS):
                    again.add(outcome.message_id)
                    wait = max(wait, outcome.retry_after)
            if not again:
                break
            robots.sleep(wait)          # the robots' clock: tests replace it
            waited += wait
            receipts.now = now + timedelta(seconds=waited)
            todo = [m for m in messages if m.id in again]
        attempts = {m.id: m.attempts for m in messages}
        errors = []
        for message_id, outcome in unsent.items():
            error = outcome.error or "unknown error"
            if outcome.retry_after is not None:
                # The platform (or our budget for it) said when it takes messages again:
                # then, not a backoff later (DingTalk's 10-minute block after 130101 too).
                delay = timedelta(seconds=max(1.0, outcome.retry_after))
            else:
                delay = next_attempt_delay(attempts[message_id] + 1)
            warehouse.mark_failed(message_id, error, receipts.now + delay)
            errors.append(error)
    finally:
        warehouse.release_notifications(claimer)
    return {"sent": sent, "failed": len(errors), "errors": errors}
