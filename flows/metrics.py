"""Prometheus metrics of the process that runs the schedule (`jingyu serve --metrics-port`):
cycles and their duration, posts stored, alerts, notifications pending and failed, and each
source's age of last success, read from the warehouse at each scrape (warehouse.metrics).

A scrape that cannot read the warehouse still answers, with jingyu_warehouse_up 0: an
operator's alert rule can page on that, or on jingyu_last_cycle_end_timestamp_seconds growing
old (the schedule stopped), or on a source's age of last success.
"""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import start_http_server
from prometheus_client.core import (REGISTRY, CounterMetricFamily, GaugeMetricFamily,
                                    SummaryMetricFamily)
from prometheus_client.registry import Collector

from jingyu.timeutil import utcnow
from warehouse.metrics import read_figures
from warehouse.store import Warehouse


class WarehouseCollector(Collector):
    """Reads the figures from the warehouse at each scrape."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._warehouse: Warehouse | None = None

    def _figures(self):
        if self._warehouse is None:
            self._warehouse = Warehouse(self.database_url, migrate=False)
        return read_figures(self._warehouse.engine, utcnow())

    def collect(self) -> Iterator:
        up = GaugeMetricFamily("jingyu_warehouse_up",
                               "1 when this scrape could read the warehouse, else 0")
        try:
            figures = self._figures()
        except Exception:  # noqa: BLE001 - any failure to read is 'down'; the scrape answers
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        cycles = CounterMetricFamily("jingyu_cycles", "Monitoring cycles by ledger status "
                                     "(ok, partial, failed, aborted; running: under way)",
                                     labels=["status"])
        for status in sorted(set(figures.cycles) | {"ok", "partial", "failed", "aborted"}):
            cycles.add_metric([status], figures.cycles.get(status, 0))
        yield cycles
        duration = SummaryMetricFamily("jingyu_cycle_duration_seconds",
                                       "Wall time of finished monitoring cycles")
        duration.add_metric([], count_value=figures.cycle_seconds_count,
                            sum_value=figures.cycle_seconds_sum)
        yield duration
        if figures.last_cycle_ended_at is not None:
            yield GaugeMetricFamily("jingyu_last_cycle_end_timestamp_seconds",
                                    "When the last finished cycle ended (Unix time)",
                                    value=figures.last_cycle_ended_at.timestamp())
            yield GaugeMetricFamily("jingyu_last_cycle_duration_seconds",
                                    "Wall time of the last finished cycle",
                                    value=figures.last_cycle_seconds or 0.0)
            last = GaugeMetricFamily("jingyu_last_cycle_ok", "1 when the last finished cycle "
                                     "ended ok or partial, 0 when failed or aborted",
                                     labels=["status"])
            last.add_metric([figures.last_cycle_status or ""],
                            1 if figures.last_cycle_status in ("ok", "partial") else 0)
            yield last
        yield CounterMetricFamily("jingyu_posts_stored", "New posts stored by cycles",
                                  value=figures.posts_stored)
        alerts = CounterMetricFamily("jingyu_alerts", "Alerts raised, by level (1 = I级 红色 "
                                     "... 4 = IV级 蓝色)", labels=["level"])
        for level in sorted(set(figures.alerts) | {1, 2, 3, 4}):
            alerts.add_metric([str(level)], figures.alerts.get(level, 0))
        yield alerts
        yield GaugeMetricFamily("jingyu_health_alerts_open", "系统告警 (dead or blocked "
                                "sources, stopped cycles) not yet recovered; for the operators",
                                value=figures.health_alerts_open)
        notifications = GaugeMetricFamily(
            "jingyu_notifications", "Notifications in the outbox: pending (not tried yet), "
            "failed (tried, kept for retry); sent ones are in jingyu_notifications_sent",
            labels=["state"])
        notifications.add_metric(["pending"], figures.notifications_pending)
        notifications.add_metric(["failed"], figures.notifications_failed)
        yield notifications
        yield CounterMetricFamily("jingyu_notifications_sent", "Notifications delivered",
                                  value=figures.notifications_sent)
        age = GaugeMetricFamily("jingyu_source_last_success_age_seconds",
                                "Seconds since each enabled source was last fetched "
                                "successfully (absent: never)", labels=["source"])
        failures = GaugeMetricFamily("jingyu_source_consecutive_failures",
                                     "Failed fetches in a row, per enabled source",
                                     labels=["source"])
        for source in figures.sources:
            if not source.enabled:
                continue
            if source.last_success_age_s is not None:
                age.add_metric([source.id], source.last_success_age_s)
            failures.add_metric([source.id], source.consecutive_failures)
        yield age
        yield failures


def serve_metrics(port: int, host: str = "127.0.0.1", database_url: str | None = None) -> None:
    """Answer GET /metrics on host:port from a daemon thread of this process."""
    REGISTRY.register(WarehouseCollector(database_url))
    start_http_server(port, addr=host)
