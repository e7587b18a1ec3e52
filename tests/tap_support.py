"""Test helpers for one-tap links: incidents queued with their notifications, a link signer."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alerts.delivery.render import render_notification
from alerts.detection.records import Alert, Evidence
from alerts.incidents import incident as domain
from alerts.incidents.incident import IncidentOpening
from alerts.incidents.notices import ack_hint
from alerts.incidents.routing import Recipient
from console.links import LinkSigner
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

LINK_SECRET = "test-link-key-0123456789abcdefghijklmnopqrstuvwxyz"


def signer(base_url: str = "http://127.0.0.1:8700", hours: float = 2) -> LinkSigner:
    return LinkSigner(LINK_SECRET, base_url, timedelta(hours=hours))


def queue_incident(warehouse: Warehouse, at: datetime, number: int, channels: Sequence[str],
                   recipients: Sequence[Recipient], title: str | None = None,
                   level: int = 3, jurisdiction: str = "qingchuan",
                   evidence: Sequence[Evidence] | None = None) -> int:
    """Record an alert and open its incident, with one notification per channel, as the
    monitor does (alerts.incidents.handling.record_with_incident); returns the incident id."""
    title = title or f"网友称民警执法时动手打人 #{number}"
    alert = Alert(fingerprint=f"item:{number}", kind="sensitive_item", level=level,
                  title=title, reason="命中高风险话题：袭警",
                  evidence=tuple(evidence) if evidence else (
                      Evidence(number, f"https://weibo.com/post/{number}", title, "weibo", at),),
                  jurisdiction=jurisdiction, detected_at=at)

    def notify(alert_id: int, _version: int):
        payload = render_notification(alert, alert_id)
        payload["text"] += "\n" + ack_hint(alert_id, 15)
        payload["markdown"] += f"\n- **{ack_hint(alert_id, 15)}**"
        payload["recipients"] = [r.document() for r in recipients]
        return [(channel, payload) for channel in channels]

    def decide(stored, first_detected_at, current):
        opening = IncidentOpening(
            fingerprint=alert.fingerprint, kind=alert.kind, level=level, title=title,
            jurisdiction=jurisdiction, topics=("police.assault",), terms=(),
            content_hashes=(), sensitive=True, detected_at=at, track_units={},
            notified=True, detail={"recipients": [r.name for r in recipients]})
        return domain.take_alert(current, stored.alert_id, opening, first_detected_at,
                                 alert_rose=True)

    stored, _, _ = IncidentStore(warehouse).record(alert, notify, decide)
    return stored.alert_id
