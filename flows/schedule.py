"""Unattended operation: every scheduled flow (monitor, watchdog, daily brief), Asia/Shanghai.

The table below is what `jingyu serve` registers and runs; prefect.yaml declares the same
deployments for a work pool and a worker (a test keeps the two in step).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from prefect import Flow, flow
from prefect.artifacts import create_markdown_artifact
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from flows.monitor import monitor
from flows.present import as_markdown, format_watchdog
from flows.reporting import daily_brief
from flows.service import serve_until_stopped
from flows.watchdog import run_watchdog

TIMEZONE = "Asia/Shanghai"


@flow(name="watchdog", log_prints=True)
def watchdog(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The watchdog (flows/watchdog.py) as a Prefect flow, for its 10-minute deployment."""
    report = run_watchdog(config_dir, database_url)
    for problem in report["problems"]:
        print(f"watchdog: {problem}")
    create_markdown_artifact(markdown=as_markdown(format_watchdog(report)), key="watchdog-report",
                             description="what the watchdog found")
    return report


@dataclass(frozen=True)
class Scheduled:
    """One deployment: its short name for `jingyu serve --skip`, and how it is registered."""

    short: str
    name: str
    flow: Flow
    cron: str
    description: str
    tags: tuple[str, ...]


SCHEDULED = (
    Scheduled("monitor", "monitor-every-5-minutes", monitor, "*/5 * * * *",
              "One monitoring cycle: fetch due sources, score, load, detect, deliver "
              "(24h patrol).", ("jingyu", "24h-patrol")),
    Scheduled("watchdog", "watchdog-every-10-minutes", watchdog, "*/10 * * * *",
              "Watch the watcher: no successful cycle, dead or blocked sources, incident "
              "timers; pages duty staff itself.", ("jingyu", "watchdog")),
    Scheduled("daily-brief", "daily-brief-0800", daily_brief, "0 8 * * *",
              "舆情日报: yesterday's brief at 08:00 as HTML, Word and Markdown under "
              "data/reports, and a Markdown artifact in the UI.", ("jingyu", "reports")),
)


def serve_scheduled(config_dir: str | None = None, database_url: str | None = None,
                    skip: Collection[str] = (), drain_s: float = 600) -> None:
    """Register every scheduled deployment (but `skip`) and run their schedules until stopped.

    Needs a running server (`prefect server start`, PREFECT_API_URL set): an ephemeral server
    cannot schedule. Each deployment runs one at a time (concurrency_limit=1), but a long
    monitoring cycle does not hold up the watchdog or the brief: each flow run is its own
    process. SIGTERM lets runs under way finish, then stops (flows/service.py).
    """
    unknown = set(skip) - {s.short for s in SCHEDULED}
    if unknown:
        raise ValueError(f"jingyu serve --skip: unknown {', '.join(sorted(unknown))} "
                         f"(choose from {', '.join(s.short for s in SCHEDULED)})")
    parameters = {"config_dir": config_dir, "database_url": database_url}
    deployments = [
        s.flow.to_deployment(
            name=s.name, schedule=Cron(s.cron, timezone=TIMEZONE), parameters=parameters,
            description=s.description, tags=list(s.tags), concurrency_limit=1,
            # by module, not file: runs load from the installed package, whatever the cwd
            entrypoint_type=EntrypointType.MODULE_PATH)
        for s in SCHEDULED if s.short not in skip]
    serve_until_stopped(deployments, drain_s)
