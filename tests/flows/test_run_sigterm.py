"""`jingyu run` stopped by SIGTERM (issue 10): the cycle stops at once, the run ledger says
aborted, and no process it started (Prefect's temporary server) is left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from collectors.replay import FeedReplayServer, Route
from flows.demo.run_demo import prepare_config
from tests.flows.prefect_server import stop_process_group


def _our_processes(marker: str) -> list[int]:
    """Every live process whose environment carries `marker` (our PREFECT_HOME)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _ledger(db: Path) -> list[tuple[str, object]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("select status, errors from runs"))]
    except Exception:               # not created yet
        return []
    finally:
        engine.dispose()


def test_sigterm_aborts_the_cycle_and_leaves_no_process(tmp_path):
    # A feed that takes its time: the cycle is stopped while its fetch is under way (the
    # fetch itself ends within its own deadline; the process then exits).
    slow = Route(b"<rss></rss>", delay_s=15)
    with FeedReplayServer({"/slow.xml": slow}) as server:
        config = prepare_config(tmp_path, server.url(""))
        (config / "sources.yaml").write_text(yaml.safe_dump({"sources": [
            {"id": "slow", "name": "慢", "kind": "feed", "url": server.url("/slow.xml")}]},
            allow_unicode=True), encoding="utf-8")
        db = tmp_path / "w.db"
        home = tmp_path / "prefect-home"
        env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": "",
               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
        env.pop("PREFECT_API_URL")
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--force", "--config", str(config),
             "--database", f"sqlite:///{db}"], env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while not server.hits("/slow.xml") and time.monotonic() < deadline:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.2)
            assert server.hits("/slow.xml"), "the cycle never reached the slow source"
            assert [status for status, _ in _ledger(db)] == ["running"]
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=150)
        finally:
            stop_process_group(process)
        output = process.stdout.read().decode()
    assert code == 130, output
    [(status, errors)] = _ledger(db)
    assert status == "aborted", output
    assert "signal" in str(errors)
    time.sleep(1)
    assert _our_processes(str(home)) == [], "a process of the cycle outlived it"


@pytest.mark.slow
def test_a_dead_temporary_prefect_server_is_said_at_once_and_the_run_aborted(tmp_path):
    """Prefect's temporary server of `jingyu run` killed mid-cycle: before, the command went on
    retrying the dead address for ~5 minutes, then ended in a traceback with the run 'ok'.
    Now: one line naming what died, the run aborted with that reason, exit code 4, soon."""
    slow = Route(b"<rss></rss>", delay_s=15)
    with FeedReplayServer({"/slow.xml": slow}) as server:
        config = prepare_config(tmp_path, server.url(""))
        (config / "sources.yaml").write_text(yaml.safe_dump({"sources": [
            {"id": "slow", "name": "慢", "kind": "feed", "url": server.url("/slow.xml")}]},
            allow_unicode=True), encoding="utf-8")
        db = tmp_path / "w.db"
        home = tmp_path / "prefect-home"
        env = {**os.environ, "PREFECT_HOME": str(home),
               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
        env.pop("PREFECT_API_URL", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--force", "--config", str(config),
             "--database", f"sqlite:///{db}"], env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 180
            while not server.hits("/slow.xml") and time.monotonic() < deadline:
                assert process.poll() is None, process.stderr.read().decode()
                time.sleep(0.2)
            assert server.hits("/slow.xml"), "the cycle never reached the slow source"
            [prefect_server] = [pid for pid in _our_processes(str(home)) if pid != process.pid
                                and b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            os.kill(prefect_server, signal.SIGKILL)
            killed = time.monotonic()
            code = process.wait(timeout=120)
            took = time.monotonic() - killed
        finally:
            stop_process_group(process)
        err = process.stderr.read().decode()
    assert code == 4, err
    assert took < 60, f"{took:.0f} s after the server died"
    assert f"Prefect's temporary server (pid {prefect_server}, killed by SIGKILL)" in err
    assert "Traceback" not in err
    [(status, errors)] = _ledger(db)
    assert status == "aborted" and "temporary server" in str(errors), errors
    time.sleep(1)
    assert _our_processes(str(home)) == [], "a process of the cycle outlived it"
