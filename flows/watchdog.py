"""The watchdog: a separate, small cycle that checks the monitor and pages duty staff itself.

It imports no Prefect: `jingyu watchdog` must work when Prefect is what broke. The Prefect
flow that wraps it for the 10-minute deployment lives in flows/schedule.py; `watch_forever`
is the same check on its own clock, for a service apart from Prefect (deploy/).
"""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.incidents.handling import tend_incidents, watch
from alerts.delivery.outbox import deliver_pending
from console.links import links_for
from alerts.incidents.watchdog import page_directly, warehouse_down_alert
from flows.settings import load_desk
from jingyu.timeutil import utcnow
from warehouse.db import WarehouseUnavailable
from warehouse.store import Warehouse


def run_watchdog(config_dir: str | Path | None = None, database_url: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Check the run ledger and source health, tend incident timers, deliver the outbox.

    Plain Python on purpose: it must work when the monitor flow, its worker or the Prefect
    server is what broke. Only alerts.yaml, routing.yaml, roster.yaml and the warehouse are
    read; when the warehouse itself is down, the alert goes straight to the channels.
    """
    now = now or utcnow()
    desk = load_desk(config_dir)
    report: dict[str, Any] = {"checked_at": now, "problems": [], "escalated": 0,
                              "reminded": 0, "sent": 0, "failed": 0}
    warehouse: Warehouse | None = None
    try:
        warehouse = Warehouse(database_url)
        recorded = watch(warehouse, desk, now)
        report["problems"] = [f"#{r.alert_id} {r.title}: {r.reason}" for r in recorded]
        report.update(tend_incidents(warehouse, desk, now))
        console = desk.settings.console
        delivery = deliver_pending(warehouse, desk.settings, now, links_for(
            warehouse, console.base_url, console.link_hours, console.secret_env, now))
        report["sent"], report["failed"] = delivery["sent"], delivery["failed"]
    except Exception as exc:  # the warehouse (or the watchdog) broke: page without it
        problem = (str(exc) if isinstance(exc, WarehouseUnavailable)
                   else f"{type(exc).__name__}: {exc}")
        alert = warehouse_down_alert(problem, desk.routing.watchdog, now)
        outcomes = page_directly(alert, desk.settings)
        report["problems"].append(alert.reason)
        report["sent"] += sum(o.delivered for o in outcomes)
        report["failed"] += sum(not o.delivered for o in outcomes)
    finally:
        if warehouse is not None:
            warehouse.close()
    report["healthy"] = not report["problems"]
    return report


def watch_forever(report_to: Callable[[dict[str, Any]], None],
                  config_dir: str | Path | None = None, database_url: str | None = None,
                  every_s: float = 600.0) -> None:
    """Run the watchdog on the clock (xx:00, xx:10, ... for 10 minutes) until SIGTERM or
    SIGINT; a check under way when the signal comes is finished first."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        report_to(run_watchdog(config_dir, database_url))
        stop.wait(every_s - time.time() % every_s)
