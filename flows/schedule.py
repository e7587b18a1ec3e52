"""Unattended operation: the monitor flow every 5 minutes and the watchdog every 10,
Asia/Shanghai, one run at a time each."""
from __future__ import annotations

from typing import Any

from prefect import flow, serve
from prefect.schedules import Cron

from flows.monitor import monitor

MONITOR_CRON = "*/5 * * * *"
WATCHDOG_CRON = "*/10 * * * *"
TIMEZONE = "Asia/Shanghai"


def serve_monitor(config_dir: str | None = None, database_url: str | None = None) -> None:
    """Register the deployment with the Prefect server and run its schedule until stopped.

    Needs a running server (`prefect server start`, PREFECT_API_URL set): an ephemeral server
    cannot schedule. `limit=1` keeps cycles from overlapping when one runs long.
    """
    deployment = monitor.to_deployment(
        name="monitor-every-5-minutes",
        schedule=Cron(MONITOR_CRON, timezone=TIMEZONE),
        parameters={"config_dir": config_dir, "database_url": database_url},
        description="jingyu: one monitoring cycle (fetch, score, load, detect, deliver)",
        tags=["jingyu", "24h-patrol"],
    )
    serve(deployment, limit=1)


@flow(name="watchdog", log_prints=True)
def watchdog(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The watchdog (flows/watchdog.py) as a Prefect flow, for its 10-minute deployment."""
    from flows.watchdog import run_watchdog

    report = run_watchdog(config_dir, database_url)
    for problem in report["problems"]:
        print(f"watchdog: {problem}")
    return report


def serve_watchdog(config_dir: str | None = None, database_url: str | None = None) -> None:
    """Serve the watchdog deployment on its own, in a process apart from the monitor's, so
    a dead monitor worker does not take the watchdog down with it."""
    deployment = watchdog.to_deployment(
        name="watchdog-every-10-minutes",
        schedule=Cron(WATCHDOG_CRON, timezone=TIMEZONE),
        parameters={"config_dir": config_dir, "database_url": database_url},
        description="jingyu: watch the watcher (cycles, source health, incident timers)",
        tags=["jingyu", "watchdog"],
    )
    serve(deployment, limit=1)
