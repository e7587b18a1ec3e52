"""One cycle of alerting against the warehouse: detect, record with outbox, deliver."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.channels import build_channels
from alerts.delivery import deliver, next_attempt_delay
from alerts.detect import detect_all
from alerts.render import render_notification
from alerts.settings import AlertSettings
from warehouse.store import StoredAlert, Warehouse


def raise_alerts(warehouse: Warehouse, settings: AlertSettings, now: datetime,
                 run_id: int | None = None,
                 topic_labels: Mapping[str, str] | None = None) -> list[StoredAlert]:
    """Detect over the posts of the look-back period and record each alert with its
    notifications (one per routed channel) in one transaction."""
    posts = warehouse.posts_since(now - settings.spike.lookback, until=now)
    stored = []
    for alert in detect_all(posts, settings, now, topic_labels):
        def notify(alert_id: int, _version: int, alert=alert) -> list[tuple[str, dict[str, Any]]]:
            payload = render_notification(alert, alert_id)
            return [(channel, payload) for channel in settings.channels_for(alert.level)]

        stored.append(warehouse.record_alert(alert, notify, run_id=run_id))
    return stored


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
