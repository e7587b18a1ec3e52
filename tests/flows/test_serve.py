"""`jingyu serve` against a real `prefect server start`: every schedule, one process, drains."""
from __future__ import annotations

import signal
import time

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
        serve = start_process([JINGYU, "serve", "--config", config, "--database", database_url],
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
            assert ledger["status"] == "partial" and ledger["posts_new"] > 0
            assert "Traceback" not in log.read_text()
        finally:
            stop_process_group(serve)


def wait_for_deployments(server, count: int, process, log, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = server.api("POST", "/deployments/filter", {})
        if len(found) >= count:
            return found
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(1)
