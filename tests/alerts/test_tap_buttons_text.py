"""Channels without buttons (console, jsonl) carry the same signed links in their text."""
from __future__ import annotations

import json

import yaml

from alerts.delivery.outbox import deliver_pending
from alerts.incidents.routing import Recipient
from alerts.settings import parse_alert_settings
from tests.tap_support import queue_incident, signer
from warehouse.store import Warehouse

ZHANG = Recipient("张三", "情指中心", "13800000011", {})
CHEN = Recipient("陈静", "宣传处", None, {})


def test_console_and_jsonl_text_carries_the_links_and_the_deadline(tmp_path, now, capsys):
    settings = parse_alert_settings(yaml.safe_load(f"""
console: {{base_url: "https://jingyu.example.gov.cn"}}
channels:
  - {{name: console, kind: console}}
  - {{name: duty-log, kind: jsonl, path: "{tmp_path / 'n.jsonl'}"}}
"""), "alerts.yaml")
    links = signer("https://jingyu.example.gov.cn")
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        incident = queue_incident(warehouse, now, 3, ["console", "duty-log"], (ZHANG, CHEN))
        assert deliver_pending(warehouse, settings, now, links)["sent"] == 2
    finally:
        warehouse.close()
    [record] = [json.loads(line) for line in (tmp_path / "n.jsonl").read_text().splitlines()]
    text = record["payload"]["text"]
    printed = capsys.readouterr().out
    assert "15 分钟内签收" in text
    assert "15 分钟内签收" in printed
    ids = set()
    for said in (text, printed):       # each message mints its own links
        for label, action, person in (("签收（张三）", "ack", "张三"), ("签收（陈静）", "ack", "陈静"),
                                      ("查看详情", "view", "张三")):
            [line] = [x for x in said.splitlines() if x.startswith(f"{label}：")]
            link = links.read(line.split("：", 1)[1].rsplit("/t/", 1)[1], now)
            assert (link.incident_id, link.action, link.recipient) == (incident, action, person)
            ids.add(link.link_id)
    assert len(ids) == 6
