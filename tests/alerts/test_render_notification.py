"""Notification payloads: what duty staff read on the phone and what receivers parse."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from alerts.detection.records import Alert, Evidence
from alerts.delivery.render import render_notification

DETECTED = datetime(2026, 11, 26, 7, 30, 40, tzinfo=timezone.utc)   # 15:30 in Shanghai


def make_alert(evidence_count: int, jurisdiction: str | None = "city.east") -> Alert:
    evidence = tuple(
        Evidence(post_id=n, url=f"https://news.example.cn/a/{n}", title=f"报道 [{n}]",
                 source_id="news-society",
                 published_at=DETECTED - timedelta(minutes=n))
        for n in range(1, evidence_count + 1))
    return Alert(fingerprint="item:abc", kind="sensitive_item", level=3,
                 title="敏感信息：网友称民警执法时动手打人",
                 reason="涉警负面敏感信息：命中 袭警 (police.assault)",
                 evidence=evidence, jurisdiction=jurisdiction, detected_at=DETECTED)


def test_text_leads_with_level_and_shows_shanghai_time():
    payload = render_notification(make_alert(2), alert_id=42)

    lines = payload["text"].splitlines()
    assert lines[0] == "【III级 黄色预警】敏感信息：网友称民警执法时动手打人"
    assert lines[1] == "涉警负面敏感信息：命中 袭警 (police.assault)"
    assert "辖区：city.east" in lines
    assert "时间：2026-11-26 15:30" in lines
    assert "告警编号：42" in lines
    assert payload["title"] == lines[0]
    assert payload["level"] == 3


def test_text_lists_at_most_five_links_and_says_how_many_more():
    payload = render_notification(make_alert(7, jurisdiction=None), alert_id=1)

    text = payload["text"]
    assert text.count("https://news.example.cn/a/") == 5
    assert "https://news.example.cn/a/6" not in text
    assert "另有 2 条" in text
    assert "辖区：未指定辖区" in text
    assert "报道 ［1］ [原文](https://news.example.cn/a/1)" in payload["markdown"]
    assert payload["markdown"].count("](https://") == 5


def test_alert_document_is_json_safe_with_iso_times():
    payload = render_notification(make_alert(7), alert_id=9)

    document = json.loads(json.dumps(payload, ensure_ascii=False))["alert"]
    assert document["id"] == 9
    assert document["fingerprint"] == "item:abc"
    assert document["kind"] == "sensitive_item"
    assert document["level_label"] == "III级 黄色预警 (较大)"
    assert document["detected_at"] == "2026-11-26T07:30:40+00:00"
    assert len(document["evidence"]) == 7                      # all of it, not just the 5 shown
    assert document["evidence"][0]["published_at"] == "2026-11-26T07:29:40+00:00"
