"""Used one-tap links (warehouse.links): each link is spent once, even by two taps at once."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from alerts.incidents.routing import Recipient
from tests.tap_support import queue_incident
from warehouse.links import LinkLedger
from warehouse.store import Warehouse

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=timezone.utc)
ZHANG = Recipient("张三", "情指中心", None, {})


def test_a_link_is_spent_once(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    try:
        incident = queue_incident(warehouse, NOW, 1, [], (ZHANG,))
        ledger = LinkLedger(warehouse)
        assert ledger.used("0123456789abcdef") is None
        first = ledger.spend("0123456789abcdef", incident, "张三", "ack", NOW)
        assert first is not None
        assert ledger.spend("0123456789abcdef", incident, "张三", "ack", NOW) is None
        used = ledger.used("0123456789abcdef")
        assert (used.incident_id, used.recipient, used.used_at) == (incident, "张三", NOW)
    finally:
        warehouse.close()


def test_two_taps_at_once_spend_the_link_once(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    try:
        incident = queue_incident(warehouse, NOW, 2, [], (ZHANG,))
        results: list[object] = []
        start = threading.Barrier(6)

        def tap() -> None:
            ledger = LinkLedger(warehouse)
            start.wait()
            results.append(ledger.spend("fedcba9876543210", incident, "张三", "ack", NOW))

        threads = [threading.Thread(target=tap) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == 6
        assert sum(r is not None for r in results) == 1
    finally:
        warehouse.close()
