"""The watchdog runs apart from the monitor: its own deployment, and no Prefect in its path."""
from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_deploys_the_watchdog_every_10_minutes_on_its_own_queue():
    deployments = {d["name"]: d for d in
                   yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))["deployments"]}
    watchdog = deployments["watchdog-every-10-minutes"]
    assert watchdog["schedules"][0]["cron"] == "*/10 * * * *"
    assert watchdog["schedules"][0]["timezone"] == "Asia/Shanghai"
    assert watchdog["work_pool"]["work_queue_name"] != (
        deployments["monitor-every-5-minutes"]["work_pool"]["work_queue_name"])
    path, name = watchdog["entrypoint"].split(":")
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
    assert isinstance(flow, Flow) and flow.name == "watchdog"


def test_the_watchdog_command_does_not_need_prefect():
    code = ("import sys, flows.watchdog, flows.cli; "
            "assert 'prefect' not in sys.modules, 'prefect imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_watchdog_serve_checks_on_its_own_clock_and_stops_on_sigterm(tmp_path, sqlite_url):
    # No Prefect server here: the service apart from Prefect still pages when Prefect broke.
    log = tmp_path / "watchdog.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "watchdog", "--serve", "--every", "0.04",
             "--database", sqlite_url], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("watchdog ") < 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in log.read_text()
