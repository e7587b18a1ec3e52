"""`jingyu serve` against a real `prefect server start`: every schedule, one process, drains."""
from __future__ import annotations

import re
import signal
import socket
import time

import requests

from flows.schedule import SCHEDULED
from tests.flows.prefect_server import (
    JINGYU,
    running_prefect_server,
    start_process,
    stop_process_group,
)
from tests.flows.test_deployments import (
    artifacts_of,
    run_deployment,
    slow_down,
    wait_final,
    wait_running,
)
from warehouse.store import Warehouse


def test_jingyu_serve_runs_every_schedule_and_drains_on_sigterm(recorded_feeds, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'jingyu.db'}"
    config = str(recorded_feeds.config_dir)
    with running_prefect_server(tmp_path / "prefect-home") as server:
        log = tmp_path / "serve.log"
        metrics_port = _free_port()
        serve = start_process([JINGYU, "serve", "--config", config, "--database", database_url,
                               "--metrics-port", str(metrics_port)],
                              server.env, log, cwd=tmp_path)
        try:
            served = wait_for_deployments(server, len(SCHEDULED), serve, log)
            assert sorted(d["name"] for d in served) == sorted(s.name for s in SCHEDULED)
            for deployment in served:
                assert [s["schedule"]["timezone"] for s in deployment["schedules"]] == [
                    "Asia/Shanghai"]
                assert deployment["global_concurrency_limit"]["limit"] == 1
                assert deployment["parameters"] == {"config_dir": config,
                                                    "database_url": database_url}

            watchdog_run = run_deployment(server, "watchdog/watchdog-every-10-minutes")
            assert wait_final(server, [watchdog_run], log)[watchdog_run]["state"]["type"] == (
                "COMPLETED")
            assert "watchdog-report" in artifacts_of(server, watchdog_run)

            # One cycle, then Prometheus' view of it, scraped from the serving process.
            first = run_deployment(server, "monitor/monitor-every-5-minutes", force="true")
            assert wait_final(server, [first], log)[first]["state"]["name"] == "Partial"
            metrics = _scrape(metrics_port)
            # Compared with the ledger, not fixed numbers: a scheduled cycle may also have run
            # (a 5-minute boundary inside the test); it finds nothing due and stores nothing.
            ledger = Warehouse(database_url)
            runs = ledger.runs()
            alerts = ledger.alerts(limit=1000)
            assert metrics['jingyu_warehouse_up'] == 1
            assert metrics['jingyu_cycles_total{status="partial"}'] == sum(
                r["status"] == "partial" for r in runs) >= 1
            assert metrics["jingyu_cycle_duration_seconds_count"] >= 1
            assert metrics["jingyu_posts_stored_total"] == sum(r["posts_new"] for r in runs) > 0
            assert sum(v for k, v in metrics.items() if k.startswith("jingyu_alerts_total")) \
                == len(alerts) > 0
            assert metrics['jingyu_notifications{state="pending"}'] == 0
            ages = {k: v for k, v in metrics.items()
                    if k.startswith("jingyu_source_last_success_age_seconds")}
            assert len(ages) == 6 and all(0 <= v < 600 for v in ages.values())   # 7th: 404
            assert metrics['jingyu_source_consecutive_failures{source="qingchuan-traffic-wechat"}'] \
                >= 1

            # SIGTERM in the middle of a cycle: it finishes and is recorded, then exit 0.
            slow_down(recorded_feeds, delay_s=3)
            # Forced: the scheduled cycle may have just run (a 5-minute boundary fell inside
            # the test), leaving no source due and nothing to interrupt.
            cycle = run_deployment(server, "monitor/monitor-every-5-minutes", force="true")
            wait_running(server, cycle, log)
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(300) == 0, log.read_text()[-3000:]
            state = server.api("GET", f"/flow_runs/{cycle}")["state"]
            assert (state["type"], state["name"]) == ("COMPLETED", "Partial")
            ledger = Warehouse(database_url).runs(limit=1)[0]
            assert ledger["status"] == "partial" and ledger["sources_total"] == 7
            assert "Traceback" not in log.read_text()
        finally:
            stop_process_group(serve)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(port: int) -> dict[str, float]:
    """The samples of GET /metrics in Prometheus' text format, by name{labels}."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    samples = {}
    for line in text.splitlines():
        found = re.match(r"^(jingyu_\S+) (\S+)$", line)
        if found:
            samples[found.group(1)] = float(found.group(2))
    return samples


def wait_for_deployments(server, count: int, process, log, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = server.api("POST", "/deployments/filter", {})
        if len(found) >= count:
            return found
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(1)
