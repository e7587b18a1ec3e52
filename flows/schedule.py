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


def _serve_every(flow_obj: Any, name: str, cron: str, description: str, tags: list[str],
                 config_dir: str | None, database_url: str | None) -> None:
    """Register one deployment with the Prefect server and run its schedule until stopped.

    Needs a running server (`prefect server start`, PREFECT_API_URL set): an ephemeral server
    cannot schedule. `limit=1` keeps runs from overlapping when one runs long.
    """
    deployment = flow_obj.to_deployment(
        name=name, schedule=Cron(cron, timezone=TIMEZONE),
        parameters={"config_dir": config_dir, "database_url": database_url},
        description=description, tags=tags)
    serve(deployment, limit=1)


def serve_monitor(config_dir: str | None = None, database_url: str | None = None) -> None:
    _serve_every(monitor, "monitor-every-5-minutes", MONITOR_CRON,
                 "jingyu: one monitoring cycle (fetch, score, load, detect, deliver)",
                 ["jingyu", "24h-patrol"], config_dir, database_url)


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
    _serve_every(watchdog, "watchdog-every-10-minutes", WATCHDOG_CRON,
                 "jingyu: watch the watcher (cycles, source health, incident timers)",
                 ["jingyu", "watchdog"], config_dir, database_url)
