"""Deliver the outbox: every due notification, through its channel, retried until sent."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.channels import build_channels
from alerts.delivery import deliver, next_attempt_delay
from alerts.settings import AlertSettings
from warehouse.store import Warehouse


def deliver_pending(warehouse: Warehouse, settings: AlertSettings, now: datetime
                    ) -> dict[str, Any]:
    """Send every due outbox message; a failure stays pending with a later retry time."""
    messages = warehouse.pending_notifications(now)
    attempts = {m.id: m.attempts for m in messages}
    sent, errors = 0, []
    for outcome in deliver(messages, build_channels(settings)):
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
