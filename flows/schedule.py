"""Unattended operation: the monitor flow every 5 minutes, Asia/Shanghai, one run at a time."""
from __future__ import annotations

from prefect import serve
from prefect.schedules import Cron

from flows.monitor import monitor

MONITOR_CRON = "*/5 * * * *"
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
