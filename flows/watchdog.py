"""The watchdog: a separate, small cycle that checks the monitor and its sources and tells the
operators itself (系统告警, alerts.incidents.watchdog).

It imports no Prefect: `jingyu watchdog` must work when Prefect is what broke. The Prefect
flow that wraps it for the 10-minute deployment lives in flows/schedule.py; `watch_forever`
is the same check on its own clock, for a service apart from Prefect (deploy/).
"""
from __future__ import annotations

import logging
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
from alerts.incidents.routing import recipients
from alerts.incidents.watchdog import page_directly, warehouse_down_alert
from flows.settings import load_desk
from alerts.settings import AlertSettings
from jingyu.timeutil import utcnow
from warehouse.db import WarehouseUnavailable
from warehouse.store import Warehouse

log = logging.getLogger("jingyu.watchdog")


def run_watchdog(config_dir: str | Path | None = None, database_url: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Check the run ledger and source health, tend incident timers, deliver the outbox.

    Plain Python on purpose: it must work when the monitor flow, its worker or the Prefect
    server is what broke. Only alerts.yaml, routing.yaml, roster.yaml and the warehouse are
    read; when the warehouse itself is down, the 系统告警 goes straight to the operators'
    channels. `problems`: the health alerts open now; `warnings`: no operators channel.
    """
    now = now or utcnow()
    desk = load_desk(config_dir)
    report: dict[str, Any] = {"checked_at": now, "problems": [], "recovered": [],
                              "warnings": operator_warnings(desk.settings), "escalated": 0,
                              "reminded": 0, "sent": 0, "failed": 0}
    for warning in report["warnings"]:
        log.warning("%s", warning)
    warehouse: Warehouse | None = None
    try:
        warehouse = Warehouse(database_url)
        health = watch(warehouse, desk, now)
        report["problems"] = [f"#{r.alert_id} {r.title}: {r.reason}" for r in health.raised]
        report["recovered"] = list(health.recovered)
        report.update(tend_incidents(warehouse, desk, now))
        console = desk.settings.console
        delivery = deliver_pending(warehouse, desk.settings, now, links_for(
            warehouse, console.base_url, console.link_hours, console.secret_env, now))
        report["sent"], report["failed"] = delivery["sent"], delivery["failed"]
    except Exception as exc:  # the warehouse (or the watchdog) broke: page without it
        problem = (str(exc) if isinstance(exc, WarehouseUnavailable)
                   else f"{type(exc).__name__}: {exc}")
        alert = warehouse_down_alert(problem, now)
        outcomes = page_directly(alert, desk.settings,
                                 recipients(desk.roster.operators_on_duty(now)))
        report["problems"].append(alert.reason)
        report["sent"] += sum(o.delivered for o in outcomes)
        report["failed"] += sum(not o.delivered for o in outcomes)
    finally:
        if warehouse is not None:
            warehouse.close()
    report["healthy"] = not report["problems"]
    return report


def operator_warnings(settings: AlertSettings) -> list[str]:
    """Loud, every run, while no channel has audience: operators (and what happens instead)."""
    channels, fallback = settings.health_channels()
    if not fallback:
        return []
    where = (f"sent to the duty channels that take every alert instead: {', '.join(channels)}"
             if channels else "NOT SENT anywhere (no duty channel takes every alert either); "
             "they are kept in the warehouse and shown by jingyu doctor and the console's 巡查 page")
    return [f"alerts.yaml: channels: no enabled channel has 'audience: operators': 系统告警 "
            f"(dead sources, stopped cycles) are {where}. Fix: add an operators channel "
            f"(see config/alerts.yaml)"]


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
