"""prefect.yaml against a real `prefect server start`: deploy, list, run through a worker."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from collectors.replay import Route
from flows.demo.data import render_demo_feeds
from flows.schedule import SCHEDULED, TIMEZONE
from tests.flows.prefect_server import (
    JINGYU,
    ROOT,
    PrefectServer,
    running_prefect_server,
    start_process,
    stop_process_group,
)
from warehouse.store import Warehouse

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))["deployments"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    with running_prefect_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer) -> PrefectServer:
    """prefect.yaml deployed the way the README says, its schedules paused: a test's runs are
    started by hand and must not meet a cron run that reads the repository's own config."""
    prefect_server.cli("work-pool", "create", "jingyu", "--type", "process")
    # Failed with 422 (limit: None) after the first deployment under fastapi >= 0.151.
    prefect_server.cli("deploy", "--all", env={**prefect_server.env, "JINGYU_HOME": str(ROOT)})
    prefect_server.cli("deployment", "schedule", "pause", "--all")
    return prefect_server


def run_deployment(server: PrefectServer, name: str, **parameters: str) -> str:
    args = [arg for key, value in parameters.items() for arg in ("--param", f"{key}={value}")]
    out = server.cli("deployment", "run", name, *args).stdout
    return re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)


def wait_final(server: PrefectServer, flow_run_ids: list[str], log: Path,
               timeout: float = 300) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {i: server.api("GET", f"/flow_runs/{i}") for i in flow_run_ids}
        if all(r["state"]["type"] in FINAL for r in runs.values()):
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"flow runs not finished in {timeout:.0f} s: "
                        f"{[r['state']['name'] for r in runs.values()]}\n"
                        f"{log.read_text()[-3000:]}")
        time.sleep(1)


def wait_running(server: PrefectServer, flow_run_id: str, log: Path,
                 timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while server.api("GET", f"/flow_runs/{flow_run_id}")["state"]["type"] != "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"flow run not running after {timeout:.0f} s\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    time.sleep(2)   # into the cycle: the run ledger has its entry


def slow_down(feeds, delay_s: float) -> None:
    """Every feed answers after `delay_s` from now on, so a cycle stays under way a while."""
    for path, (body, ctype) in render_demo_feeds(feeds.rendered_at).items():
        feeds.server.set_route(path, Route(body=body, content_type=ctype, delay_s=delay_s))


def artifacts_of(server: PrefectServer, flow_run_id: str) -> dict[str, dict]:
    found = server.api("POST", "/artifacts/filter",
                       {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
    return {a["key"]: a for a in found}


def test_every_entrypoint_loads_the_way_a_worker_loads_it():
    # A fresh interpreter, as in a worker's flow-run process: an entrypoint file named like
    # one of our packages (flows/reports.py) shadowed that package and failed to load.
    code = ("import sys\n"
            "from prefect.flows import load_flow_from_entrypoint\n"
            "for entrypoint in sys.argv[1:]:\n"
            "    print(entrypoint, load_flow_from_entrypoint(entrypoint).name)\n")
    entrypoints = [d["entrypoint"] for d in DEPLOYMENTS]
    done = subprocess.run([sys.executable, "-c", code, *entrypoints], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == len(entrypoints)


def test_prefect_yaml_declares_what_jingyu_serve_serves():
    declared = {d["name"]: d for d in DEPLOYMENTS}
    assert set(declared) == {s.name for s in SCHEDULED}
    for scheduled in SCHEDULED:
        deployment = declared[scheduled.name]
        path, name = deployment["entrypoint"].split(":")
        assert (path.removesuffix(".py").replace("/", "."), name) == (
            scheduled.flow.fn.__module__, scheduled.flow.fn.__name__)
        assert [(s["cron"], s["timezone"]) for s in deployment["schedules"]] == [
            (scheduled.cron, TIMEZONE)]
        assert deployment["concurrency_limit"] == 1


def test_prefect_cli_deploys_everything_and_lists_it(deployed: PrefectServer):
    listed = deployed.cli("deployment", "ls").stdout
    for deployment in DEPLOYMENTS:
        assert deployment["name"] in listed
    assert "jingyu" in deployed.cli("work-pool", "ls").stdout
    deployed.cli("flow-run", "ls")
    found = deployed.api("POST", "/deployments/filter", {"limit": None})
    assert sorted(d["name"] for d in found) == sorted(d["name"] for d in DEPLOYMENTS)
    for deployment in found:
        assert deployment["schedules"], f"{deployment['name']} has no schedule"
        assert deployment["global_concurrency_limit"]["limit"] == 1


def test_a_worker_runs_every_deployment_then_drains_on_sigterm(
        deployed: PrefectServer, recorded_feeds, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'jingyu.db'}"
    config = str(recorded_feeds.config_dir)
    env = {**deployed.env, "JINGYU_HOME": str(ROOT), "JINGYU_CONFIG_DIR": config,
           "JINGYU_DATABASE_URL": database_url}
    log = tmp_path / "worker.log"
    worker = start_process([JINGYU, "worker", "--pool", "jingyu"], env, log)
    try:
        monitor_run = run_deployment(deployed, "monitor/monitor-every-5-minutes",
                                     config_dir=config, database_url=database_url)
        watchdog_run = run_deployment(deployed, "watchdog/watchdog-every-10-minutes",
                                      config_dir=config, database_url=database_url)
        brief_run = run_deployment(deployed, "daily-brief/daily-brief-0800", config_dir=config,
                                   database_url=database_url, output_dir=str(tmp_path / "rep"))
        runs = wait_final(deployed, [monitor_run, watchdog_run, brief_run], log)

        # The demo config has a dead source: the cycle shows as Partial, not plain green.
        assert runs[monitor_run]["state"]["type"] == "COMPLETED"
        assert runs[monitor_run]["state"]["name"] == "Partial"
        assert "1 of 7 sources failed" in runs[monitor_run]["state"]["message"]
        assert [runs[r]["state"]["name"] for r in (watchdog_run, brief_run)] == [
            "Completed", "Completed"]

        summary = artifacts_of(deployed, monitor_run)["monitor-run-summary"]["data"]
        stored = Warehouse(database_url).runs(limit=1)[0]
        assert f"run {stored['run_id']}: partial" in summary
        assert f"new posts: {stored['posts_new']}" in summary and stored["posts_new"] > 0
        assert "watchdog-report" in artifacts_of(deployed, watchdog_run)
        assert "daily-brief-all" in artifacts_of(deployed, brief_run)
        assert sorted(p.suffix for p in (tmp_path / "rep").iterdir()) == [
            ".docx", ".html", ".md"]
        logs = deployed.cli("flow-run", "logs", monitor_run).stdout
        assert f"run {stored['run_id']} partial" in logs

        # SIGTERM while a cycle is under way (a slow source keeps it busy): the cycle
        # finishes and is recorded, then the worker exits 0.
        slow_down(recorded_feeds, delay_s=4)
        second = run_deployment(deployed, "monitor/monitor-every-5-minutes",
                                config_dir=config, database_url=database_url)
        wait_running(deployed, second, log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(300) == 0, log.read_text()[-3000:]
        assert deployed.api("GET", f"/flow_runs/{second}")["state"]["type"] == "COMPLETED"
        latest = Warehouse(database_url).runs(limit=1)[0]
        assert latest["run_id"] == stored["run_id"] + 1
        assert latest["status"] in ("ok", "partial") and latest["ended_at"] is not None
    finally:
        stop_process_group(worker)
