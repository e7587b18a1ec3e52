"""The monitor cycle opens incidents, routes them by the roster and tends their timers."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from flows.monitor import monitor
from jingyu.timeutil import utcnow
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")
CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_cycles_open_incidents_and_escalate_unacknowledged_ones(recorded_feeds, sqlite_url):
    config = recorded_feeds.config_dir
    for name in ("routing.yaml", "roster.yaml"):
        shutil.copyfile(CONFIG / name, config / name)
    first = monitor(config_dir=str(config), database_url=sqlite_url, force=True,
                    per_host_delay_s=0.01)
    warehouse = Warehouse(sqlite_url)
    store = IncidentStore(warehouse)
    alerts = warehouse.alerts()
    incidents = store.incidents()
    assert first["alerts_new"] == len(alerts) and alerts
    # Every alert has its incident; alerts about one real-world event share one.
    assert {i.id for i in incidents} == {a["incident_id"] for a in alerts}
    assert len(incidents) < len(alerts)
    assert all(i.status == "new" and len(i.tracks) == 3 for i in incidents)
    lines = [json.loads(line) for line in
             recorded_feeds.notifications.read_text("utf-8").splitlines()]
    assert lines and all(line["payload"]["recipients"] for line in lines)

    # 20 minutes on, nobody acknowledged: the 签收 timer escalates each incident to the
    # 带班领导 (one notice per channel), and nothing is opened twice.
    monitor(config_dir=str(config), database_url=sqlite_url, per_host_delay_s=0.01,
            now=utcnow() + timedelta(minutes=20))
    assert {i.id for i in store.incidents()} == {i.id for i in incidents}
    assert all("ack" in i.escalated for i in store.incidents())
    escalations = [json.loads(line)["payload"] for line in
                   recorded_feeds.notifications.read_text("utf-8").splitlines()
                   if json.loads(line)["payload"].get("notice") == "escalation"]
    assert len(escalations) == len(incidents)
    warehouse.close()
