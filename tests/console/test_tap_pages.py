"""One tap from the robot message, as a duty officer does it: the monitor delivers a DingTalk
actionCard to a local receiver that answers like DingTalk; the 签收 button's link, taken from
that captured payload, is opened in headless Chromium on a 375x667 phone and confirmed; the
acknowledgement is in the warehouse as that recipient, from that link. Tampered, expired and
replayed links get a clear page. The console runs for real (uvicorn on 127.0.0.1)."""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn
import yaml
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from alerts.delivery import robots
from alerts.delivery.outbox import deliver_pending
from alerts.incidents.routing import Recipient
from alerts.settings import parse_alert_settings
from console import tap
from jingyu.timeutil import utcnow
from tests.tap_support import queue_incident, signer
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DING_TOKEN = "dingtalk-test-token-0123456789"
ZHANG = Recipient("张三", "青川市公安局情指中心", "13800000011", {"dingtalk": "13800000011"})
CHEN = Recipient("陈静", "青川市公安局宣传处", "13800000021", {})


@dataclass
class DingTalkReceiver:
    """Answers like DingTalk's custom robot: token checked, actionCard fields required."""

    base: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, list[str]], body: dict[str, Any]
               ) -> dict[str, Any]:
        if path != "/robot/send" or query.get("access_token") != [DING_TOKEN]:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        card = body.get("actionCard") or {}
        if body.get("msgtype") != "actionCard" or not (
                card.get("title") and card.get("text") and card.get("btns")
                and all(b.get("title") and b.get("actionURL") for b in card["btns"])):
            return {"errcode": 40035, "errmsg": "缺少参数 actionCard"}
        self.received.append(body)
        return {"errcode": 0, "errmsg": "ok"}


@pytest.fixture
def dingtalk() -> Iterator[DingTalkReceiver]:
    state = DingTalkReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urlsplit(self.path)
            reply = json.dumps(state.answer(parts.path, parse_qs(parts.query),
                                            json.loads(raw or b"{}"))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    robots.reset_shared_limiters()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        robots.reset_shared_limiters()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    base: str
    warehouse: Warehouse


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    """The tap pages over a real SQLite warehouse, served by uvicorn on 127.0.0.1."""
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = FastAPI()
    app.state.console = SimpleNamespace(
        warehouse=warehouse, incidents=IncidentStore(warehouse),
        jurisdiction_name=lambda j: {"qingchuan": "青川市"}.get(j or "", j or "全市"))
    app.state.link_signer = signer(base)
    app.include_router(tap.router)
    app.mount("/static", StaticFiles(directory=ROOT / "console" / "static"), name="static")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Site(base, warehouse)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        warehouse.close()


def _deliver(site: Site, dingtalk: DingTalkReceiver, now: datetime, title: str | None = None
             ) -> tuple[int, dict[str, str]]:
    """The monitor's delivery step: the incident's message goes out with its links."""
    incident = queue_incident(site.warehouse, now, 21, ["duty-ding"], (ZHANG, CHEN),
                              title=title)
    settings = parse_alert_settings(yaml.safe_load(f"""
console: {{base_url: "{site.base}"}}
channels:
  - {{name: duty-ding, kind: dingtalk, url: "{dingtalk.base}/robot/send?access_token={DING_TOKEN}"}}
"""), "alerts.yaml")
    report = deliver_pending(site.warehouse, settings, now, signer(site.base))
    assert report["sent"] == 1, report
    [body] = dingtalk.received
    return incident, {b["title"]: b["actionURL"] for b in body["actionCard"]["btns"]}


def test_one_tap_from_a_dingtalk_message_acknowledges_on_a_phone(
        site, dingtalk, phone_page, screenshot):
    now = utcnow()
    incident, buttons = _deliver(site, dingtalk, now)
    assert list(buttons) == ["签收（张三）", "签收（陈静）", "查看详情"]

    response = phone_page.goto(buttons["签收（张三）"])
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert phone_page.locator("h1").inner_text() == "网友称民警执法时动手打人 #21"
    assert "青川市" in phone_page.locator(".facts").inner_text()
    confirm = phone_page.get_by_role("button", name="确认签收")
    box = confirm.bounding_box()
    assert box["width"] > 300 and box["height"] >= 48          # one big thumb target
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone_page, "phone-confirm")
    assert IncidentStore(site.warehouse).get(incident).status == "new"   # seeing is not signing

    confirm.tap()
    phone_page.wait_for_selector(".result.ok")
    assert phone_page.locator(".result.ok").inner_text().startswith("已签收 ✓ 张三 ")
    screenshot(phone_page, "phone-acknowledged")

    state = IncidentStore(site.warehouse).get(incident)
    assert (state.status, state.acknowledged_by) == ("acknowledged", "张三")
    [event] = [e for e in IncidentStore(site.warehouse).events(incident)
               if e.action == "acknowledged"]
    assert event.actor == "张三" and event.detail["via"].startswith("一键签收链接 ")
    link_id = event.detail["via"].split()[-1]
    assert buttons["签收（张三）"].rsplit("/t/", 1)[1] and len(link_id) == 16

    # the same link again (forwarded, replayed, tapped twice): refused, nothing changes
    again = phone_page.goto(buttons["签收（张三）"])
    assert again.status == 410
    assert phone_page.locator("h1").inner_text() == "链接已使用过"
    replay = requests.post(buttons["签收（张三）"], timeout=10)
    assert replay.status_code == 410 and "链接已使用过" in replay.text

    # 陈静's own link: the incident is signed for already, her page says by whom
    phone_page.goto(buttons["签收（陈静）"])
    assert phone_page.get_by_role("button", name="确认签收").count() == 0
    assert "张三" in phone_page.locator(".facts").inner_text()


def test_a_tampered_link_is_refused_with_a_clear_page(site, dingtalk, phone_page, screenshot):
    now = utcnow()
    incident, buttons = _deliver(site, dingtalk, now)
    url = buttons["签收（张三）"]
    token = url.rsplit("/t/", 1)[1]
    # another incident number, signature kept: what someone editing the link would try
    body, signature = token.rsplit(".", 1)
    forged = signer(site.base).url(incident + 1, "张三", "ack", now).rsplit("/t/", 1)[1]
    tampered = f"{site.base}/t/{forged.rsplit('.', 1)[0]}.{signature}"

    response = phone_page.goto(tampered)
    assert response.status == 403
    assert phone_page.locator("h1").inner_text() == "链接无效"
    assert phone_page.get_by_role("button").count() == 0
    screenshot(phone_page, "phone-tampered")
    assert requests.post(tampered, timeout=10).status_code == 403
    assert IncidentStore(site.warehouse).get(incident).status == "new"


def test_expired_and_view_links(site, dingtalk, phone_page):
    now = utcnow()
    incident, buttons = _deliver(site, dingtalk, now)
    old = signer(site.base).url(incident, "张三", "ack", now - timedelta(hours=3))
    assert phone_page.goto(old).status == 410
    assert phone_page.locator("h1").inner_text() == "链接已过期"
    assert requests.post(old, timeout=10).status_code == 410

    # 查看 shows the incident, offers no 签收, and cannot be POSTed to acknowledge
    assert phone_page.goto(buttons["查看详情"]).status == 200
    assert phone_page.get_by_role("button", name="确认签收").count() == 0
    assert requests.post(buttons["查看详情"], timeout=10).status_code == 403
    assert IncidentStore(site.warehouse).get(incident).status == "new"


def test_hostile_post_text_is_inert_on_the_phone_page(site, dingtalk, phone_page):
    now = utcnow()
    title = '<img src=x onerror="document.title=\'pwned\'">民警<script>alert(1)</script>'
    _, buttons = _deliver(site, dingtalk, now, title=title)
    phone_page.goto(buttons["查看详情"])
    assert phone_page.title() != "pwned"
    assert "<script>alert(1)</script>" in phone_page.locator("h1").inner_text()
    assert phone_page.locator("main img").count() == 0


def test_the_readme_screenshot_is_the_phone_page(site, dingtalk, phone_page):
    """docs/tap-phone.png (shown in the README) is refreshed from the real page when asked
    (JINGYU_UPDATE_DOCS=1), and must exist."""
    import os

    target = ROOT / "docs" / "tap-phone.png"
    if os.environ.get("JINGYU_UPDATE_DOCS") == "1":
        _, buttons = _deliver(site, dingtalk, utcnow(),
                              title="网传某派出所民警执法时推搡群众，视频转发量快速上升")
        phone_page.goto(buttons["签收（张三）"])
        phone_page.screenshot(path=str(target), full_page=True)
    assert target.exists() and target.stat().st_size > 10_000
    assert re.search(r"docs/tap-phone\.png", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_a_link_from_the_real_pipeline_acknowledges_in_the_console(console, phone_page, page,
                                                                    screenshot):
    """The whole path in the console app itself: the cycle routes an incident to the people
    on duty (roster.yaml), delivery signs their links with the warehouse's key, a tap on the
    phone acknowledges as one of them, and the logged-in board's incident page shows who and
    from which link."""
    from console.links import links_for
    from flows.settings import load_desk
    from tests.console.harness import PASSWORD

    incident = console.seed.incident("网传临江派出所辅警推搡摊主，视频转发量上升",
                                     "qingchuan.linjiang.linjiang_pcs")
    now = utcnow()
    warehouse = Warehouse(console.url)
    try:
        desk = load_desk(console.config)
        links = links_for(warehouse, console.base, 2, None, now)
        assert deliver_pending(warehouse, desk.settings, now, links)["sent"] >= 1
    finally:
        warehouse.close()
    [record] = [json.loads(line) for line in
                (console.config.parent / "notifications.jsonl").read_text().splitlines()
                if json.loads(line)["alert_id"] == incident]
    acks = [b for b in record["payload"]["buttons"] if b["action"] == "ack"]
    assert acks, record["payload"]["buttons"]
    who = acks[0]["recipient"]

    phone_page.goto(acks[0]["url"])
    phone_page.get_by_role("button", name="确认签收").tap()
    phone_page.wait_for_selector(".result.ok")
    screenshot(phone_page, "console-phone-acknowledged")

    page.goto(f"{console.base}/login")
    page.fill("input[name=name]", "张三")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("登录")).click()
    page.goto(f"{console.base}/incidents/{incident}")
    body = page.locator("body").inner_text()
    assert who in body and "一键签收链接" in body
    screenshot(page, "console-incident-acknowledged-by-link")
