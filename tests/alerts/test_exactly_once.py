"""Exactly-once notifications: delivery passes that overlap (two `jingyu watchdog` processes,
the monitor and the watchdog) each claim messages before sending, against a slow receiver
(2 s a request) answering like a webhook and like DingTalk, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from alerts.delivery.outbox import deliver_pending
from alerts.delivery.render import render_notification
from alerts.detection.records import Alert, Evidence
from alerts.settings import parse_alert_settings
from jingyu.timeutil import utcnow
from warehouse.store import Warehouse

JINGYU = str(Path(sys.executable).with_name("jingyu"))
SECONDS_PER_REQUEST = 2.0


@dataclass
class SlowReceiver:
    """Takes SECONDS_PER_REQUEST to answer; records what arrived (webhook Idempotency-Key,
    DingTalk markdown title) and when each request began."""

    url: str = ""
    arrived: list[str] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[SlowReceiver]:
    state = SlowReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            with state.lock:
                state.started.append(time.monotonic())
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            time.sleep(SECONDS_PER_REQUEST)
            if self.path.startswith("/robot/send"):
                what = "dingtalk:" + body["markdown"]["title"]
                reply = {"errcode": 0, "errmsg": "ok"}
            else:
                what = "webhook:" + self.headers["Idempotency-Key"]
                reply = {"ok": True}
            with state.lock:
                state.arrived.append(what)
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _config(tmp_path: Path, receiver: SlowReceiver) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "hook", "kind": "webhook", "url": f"{receiver.url}/jingyu/alerts",
         "min_level": 4},
        {"name": "ding", "kind": "dingtalk", "url": f"{receiver.url}/robot/send?"
         "access_token=t0ken", "min_level": 4}]}), encoding="utf-8")
    (directory / "routing.yaml").write_text(yaml.safe_dump({
        "watchdog": {"cycle_minutes": 20, "silent_hours": 3, "usual_days": 5,
                     "failures": 3}}), encoding="utf-8")
    return directory


def _queue(warehouse: Warehouse, count: int) -> list[str]:
    """A healthy run ledger (the watchdog has nothing of its own to say) and `count` alerts,
    each with a webhook and a DingTalk notification; their webhook keys."""
    now = utcnow()
    run = warehouse.start_run(now - timedelta(minutes=1))
    warehouse.finish_run(run, now, alerts_new=0, notifications_sent=0, errors=[])
    keys = []
    for n in range(1, count + 1):
        alert = Alert(fingerprint=f"item:{n}", kind="sensitive_item", level=3,
                      title=f"网友称民警执法时动手打人 #{n}", reason="命中 袭警",
                      evidence=(Evidence(n, f"https://weibo.com/post/{n}", "标题", "weibo",
                                         now),),
                      jurisdiction="qingchuan", detected_at=now)

        def notify(alert_id, _version, alert=alert):
            payload = render_notification(alert, alert_id)
            return [("hook", payload), ("ding", payload)]

        warehouse.record_alert(alert, notify)
    with warehouse.engine.connect() as conn:
        keys = [k for (k,) in conn.execute(text(
            "select idempotency_key from outbox where channel = 'hook' order by id"))]
    assert len(keys) == count
    return keys


def _watchdog(config: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([JINGYU, "watchdog", "--config", str(config), "--database", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_two_delivery_processes_at_once_send_each_message_once(tmp_path, receiver,
                                                               warehouse_url) -> None:
    config = _config(tmp_path, receiver)
    warehouse = Warehouse(warehouse_url)
    try:
        keys = _queue(warehouse, 3)
        passes = [_watchdog(config, warehouse_url) for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0] for p in passes]
        assert [p.returncode for p in passes] == [0, 0], outputs

        arrived = Counter(receiver.arrived)
        assert {k: arrived[f"webhook:{k}"] for k in keys} == dict.fromkeys(keys, 1)
        ding = {what: n for what, n in arrived.items() if what.startswith("dingtalk:")}
        assert len(ding) == 3 and set(ding.values()) == {1}, ding
        assert warehouse.outbox_counts() == {"sent": 6}
        with warehouse.engine.connect() as conn:
            assert conn.execute(text("select count(*) from outbox where claimed_by is not null"
                                     )).scalar() == 0
    finally:
        warehouse.close()


def test_a_killed_pass_resends_at_most_the_message_in_flight(tmp_path, receiver,
                                                            warehouse_url) -> None:
    config = _config(tmp_path, receiver)
    warehouse = Warehouse(warehouse_url)
    try:
        _queue(warehouse, 3)
        doomed = _watchdog(config, warehouse_url)
        deadline = time.monotonic() + 60
        while len(receiver.started) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.started) == 3, doomed.communicate(timeout=30)[0]
        os.killpg(doomed.pid, signal.SIGKILL)      # two sent and marked, the third in flight
        doomed.wait(timeout=30)
        time.sleep(SECONDS_PER_REQUEST + 0.5)      # the request in flight completes anyway

        # What it held waits for its lease; a pass now sends none of it twice.
        assert deliver_pending(warehouse, _settings(config), utcnow())["sent"] == 0
        with warehouse.engine.begin() as conn:     # the lease runs out
            conn.execute(text("update outbox set claimed_until = :past "
                              "where claimed_by is not null"),
                         {"past": (utcnow() - timedelta(seconds=1)).replace(tzinfo=None)})
        report = deliver_pending(warehouse, _settings(config), utcnow())
        assert report["failed"] == 0
        arrived = Counter(receiver.arrived)
        assert len(arrived) == 6                    # every message arrived
        assert sum(arrived.values()) <= 7           # and at most one (in flight) twice
        assert warehouse.outbox_counts() == {"sent": 6}
    finally:
        warehouse.close()


def _settings(config: Path):
    return parse_alert_settings(yaml.safe_load((config / "alerts.yaml").read_text("utf-8")),
                                "alerts.yaml")
