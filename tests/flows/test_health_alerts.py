"""系统告警 end to end: a feed dies while a crowd surge builds. Real monitor cycles (Prefect's
harness) and real watchdog runs against real SQLite and PostgreSQL, the feeds on a local HTTP
server, a DingTalk-like robot for the duty group and a WeCom-like robot for the operators,
answering as the platforms do. The duty group gets the surge at III级 and nothing about the
dead feed; the operators get the dead feed once (not every cycle), and its recovery once."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from collectors.replay import Route
from flows.demo.run_demo import seed_demo_history
from flows.monitor import monitor
from flows.watchdog import run_watchdog
from tests.alerts.test_robot_channels import DING_SECRET, RobotServer
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

DEAD = "linjiang-gov"                       # 临江区人民政府·政务要闻, /rdf_district.rdf
DEAD_NAME = "临江区人民政府·政务要闻"


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    """One local server answering like DingTalk and WeCom (tests/alerts/test_robot_channels)."""
    state = RobotServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urlsplit(self.path)
            status, answer, headers = state.answer(parts.path, parse_qs(parts.query),
                                                   json.loads(raw.decode("utf-8")))
            reply = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _texts(robots: RobotServer, platform: str) -> list[str]:
    """What each accepted message says (title and body), per platform."""
    out = []
    for received in robots.accepted:
        if received.platform != platform:
            continue
        body = received.body
        if platform == "dingtalk":
            part = body.get("markdown") or body.get("actionCard") or {}
            out.append(f"{part.get('title', '')}\n{part.get('text', '')}")
        else:
            out.append((body.get("markdown") or {}).get("content", "")
                       or json.dumps(body.get("template_card"), ensure_ascii=False))
    return out


def test_a_dead_feed_reaches_the_operators_once_and_never_the_duty_group(
        recorded_feeds, warehouse_url, robots, monkeypatch):
    monkeypatch.setenv("JINGYU_TEST_DING_SECRET", DING_SECRET)
    config = recorded_feeds.config_dir
    # The demo's sources, less its two broken from the start: one feed dies in this test.
    sources = yaml.safe_load((config / "sources.yaml").read_text("utf-8"))
    sources["sources"] = [s for s in sources["sources"]
                          if s["id"] not in ("qingchuan-traffic-wechat", "beihu-media")]
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    dead_path = urlsplit(next(s["url"] for s in sources["sources"] if s["id"] == DEAD)).path
    alerts = yaml.safe_load((config / "alerts.yaml").read_text("utf-8"))
    # The surge is 较大 (III级) here: 5+ distinct texts, and no level added for the share.
    alerts["spike"] = {"levels": [{"level": 3, "min_count": 5}], "default_level": 4,
                       "share_rise": 1.0}
    alerts["channels"] = [
        {"name": "duty-dingtalk", "kind": "dingtalk", "url": robots.dingtalk_url,
         "secret_env": "JINGYU_TEST_DING_SECRET", "min_level": 4},
        {"name": "ops-wecom", "kind": "wecom", "url": robots.wecom_url,
         "audience": "operators"},
    ]
    (config / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True), "utf-8")
    (config / "routing.yaml").write_text(yaml.safe_dump(
        {"watchdog": {"failures": 3, "cycle_minutes": 20}}), "utf-8")
    assert seed_demo_history(config, warehouse_url, recorded_feeds.rendered_at) > 300
    t0 = recorded_feeds.rendered_at

    def cycle(minutes: int) -> dict:
        at = t0 + timedelta(minutes=minutes)
        summary = monitor(config_dir=str(config), database_url=warehouse_url, force=True,
                          per_host_delay_s=0.01, now=at)
        report = run_watchdog(config, warehouse_url, now=at + timedelta(seconds=30))
        assert report["warnings"] == [] and report["failed"] == 0, report
        return {"summary": summary, "watchdog": report}

    first = cycle(0)
    assert first["summary"]["sources_failed"] == 0
    duty = _texts(robots, "dingtalk")
    # The night market at III级: its sensitive item and its crowd surge are one incident.
    market = [t for t in duty if "III级 黄色" in t and "夜市" in t]
    assert market, duty
    assert _texts(robots, "wecom") == []                  # nothing wrong yet

    # The feed dies (its route gone: 404); three failed fetches in a row make a 系统告警.
    recorded_feeds.server.set_route(dead_path, Route(body=b"not found", status=404,
                                                     content_type="text/plain"))
    for minutes in (5, 10, 15, 20, 25, 30):
        report = cycle(minutes)
        assert report["summary"]["sources_failed"] == 1
    [told] = _texts(robots, "wecom")                      # once, though six cycles saw it
    assert "【系统告警】信息源失效" in told and DEAD_NAME in told and "级" not in told.split(
        "\n")[0]
    assert "连续 3 次采集失败" in told and "不分预警等级" in told
    duty_after = _texts(robots, "dingtalk")
    assert not any("系统告警" in t or "信息源" in t or DEAD_NAME in t for t in duty_after)
    # Off the duty board: every incident is an opinion incident; the health alert has none.
    warehouse = Warehouse(warehouse_url)
    incidents = IncidentStore(warehouse).incidents(limit=500)
    assert incidents and all(i.kind in ("spike", "sensitive_item") for i in incidents)
    assert {i.level for i in incidents} <= {3, 4}
    assert any(a["kind"] == "spike" and a["level"] == 3 for a in warehouse.alerts(limit=500))
    [health] = warehouse.alerts(health=True)
    assert health["status"] == "open" and health["incident_id"] is None
    assert health["notifications"] == {"sent": 1}
    assert all(a["kind"] != "health" for a in warehouse.alerts(limit=500))
    warehouse.close()

    # The feed comes back: its recovery is said once, to the operators only.
    recorded_feeds.server.set_route(dead_path, Route(
        body=next(body for path, (body, _) in _demo_feeds(recorded_feeds).items()
                  if path == dead_path), content_type="application/rdf+xml"))
    back = cycle(35)
    assert back["summary"]["sources_failed"] == 0 and back["watchdog"]["healthy"]
    cycle(40)
    ops = _texts(robots, "wecom")
    assert len(ops) == 2 and "【系统告警·已恢复】信息源失效" in ops[1] and DEAD_NAME in ops[1]
    assert not any("系统告警" in t for t in _texts(robots, "dingtalk"))
    assert all("【系统告警" in t for t in ops)              # and no opinion alert went there


def _demo_feeds(recorded_feeds) -> dict[str, tuple[bytes, str]]:
    from flows.demo.data import render_demo_feeds

    return render_demo_feeds(recorded_feeds.rendered_at)
