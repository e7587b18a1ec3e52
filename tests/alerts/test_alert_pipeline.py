"""Alerting against a real warehouse: alert + outbox in one transaction, retry, no duplicates."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.incidents.handling import Desk, raise_and_track
from alerts.delivery.outbox import deliver_pending
from alerts.settings import parse_alert_settings
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from flows.demo.history import seed_history
from transforms.records import ScoredPost
from warehouse.store import Warehouse


def _settings(webhook_url: str, jsonl_path):
    return parse_alert_settings({
        "channels": [
            {"name": "duty-log", "kind": "jsonl", "path": str(jsonl_path), "min_level": 4},
            {"name": "command-centre", "kind": "webhook", "url": webhook_url, "min_level": 4},
        ]}, "alerts.yaml")


def _store_burst(warehouse: Warehouse, now, n: int = 12) -> None:
    """A week of ordinary days (the spike detector's history), then n negative texts."""
    source = SourceConfig(id="weibo", name="微博关键词", kind="feed",
                          url="http://127.0.0.1/w.xml", jurisdiction="qingchuan")
    warehouse.sync_sources([source])
    seed_history(warehouse, [source], now)
    posts = []
    for i in range(n):
        raw = RawPost(source_id="weibo", external_id=f"w{i}", url=f"https://weibo.com/1/{i}",
                      title=f"辅警推倒摊贩 阿姨受伤 {i}", body="现场很多人围观", author=None,
                      published_at=now - timedelta(minutes=5 + i), fetched_at=now)
        posts.append(ScoredPost(raw=raw, text=f"辅警推倒摊贩 阿姨受伤 {i}", content_hash=f"c{i}",
                                keywords=("辅警",), police_related=True, police_terms=("辅警",),
                                sentiment=0.05, polarity="negative", police_stance="negative",
                                topics=("police", "police.dispute"), rule_hits=(),
                                high_risk=i == 0))
    run = warehouse.start_run(now)
    warehouse.store_fetch(run, FetchResult(source_id="weibo", status=FETCH_OK, cursor=SourceCursor(),
                                           posts=tuple(p.raw for p in posts)), posts, now)


@pytest.fixture
def wh(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    yield warehouse
    warehouse.close()


def test_alerts_are_delivered_after_the_channel_comes_back(wh, now, webhook_receiver, tmp_path):
    settings = _settings(webhook_receiver.url, tmp_path / "n.jsonl")
    _store_burst(wh, now)
    stored = raise_and_track(wh, Desk(settings), now)
    kinds = {a["kind"] for a in wh.alerts()}
    assert {"spike", "sensitive_item"} <= kinds
    assert all(s.alert_outcome == "new" for s in stored)

    webhook_receiver.status = 503
    first = deliver_pending(wh, settings, now)
    assert first["failed"] == len(stored) and first["sent"] == len(stored)  # jsonl ok, webhook not
    assert len(webhook_receiver.received) == len(stored)
    assert wh.outbox_counts()["pending"] == len(stored)

    # Too early for the retry: nothing is attempted.
    assert deliver_pending(wh, settings, now + timedelta(seconds=5))["sent"] == 0
    webhook_receiver.status = 200
    retry = deliver_pending(wh, settings, now + timedelta(minutes=2))
    assert retry == {"sent": len(stored), "failed": 0, "errors": []}
    assert wh.outbox_counts() == {"sent": 2 * len(stored)}
    keys = [r.headers["Idempotency-Key"] for r in webhook_receiver.received]
    assert len(set(keys)) == len(stored)  # the retry re-sent the same keys

    lines = (tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(stored)


def test_the_next_cycle_does_not_alert_twice(wh, now, tmp_path):
    settings = _settings("http://127.0.0.1:9/none", tmp_path / "n.jsonl")
    _store_burst(wh, now)
    first = raise_and_track(wh, Desk(settings), now)
    again = raise_and_track(wh, Desk(settings), now + timedelta(minutes=5))
    assert {s.alert_id for s in first} == {s.alert_id for s in again}
    assert {s.alert_outcome for s in again} == {"unchanged"}
    assert len(wh.pending_notifications(now + timedelta(hours=1))) == 2 * len(first)


def test_disabled_detection_raises_nothing(wh, now, tmp_path):
    settings = _settings("http://127.0.0.1:9/none", tmp_path / "n.jsonl")
    settings = replace(settings, spike=replace(settings.spike, enabled=False),
                       sensitive_item=replace(settings.sensitive_item, enabled=False))
    _store_burst(wh, now)
    assert raise_and_track(wh, Desk(settings), now) == []
