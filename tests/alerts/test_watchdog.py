"""Watching the watcher: stalled cycles, failing, blocked and silent sources; and the
`run_watchdog` cycle that pages through the channels itself, even with the warehouse down."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from alerts.incidents.watchdog import LedgerFacts, WatchdogSettings, check_ledger, check_sources
from collectors.records import (
    FETCH_ERROR,
    FETCH_NOT_MODIFIED,
    FETCH_OK,
    FetchResult,
    RawPost,
    SourceConfig,
    SourceCursor,
)
from flows.watchdog import run_watchdog
from transforms.records import ScoredPost
from warehouse.records import SourceYield
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)
SETTINGS = WatchdogSettings(cycle_minutes=20, silent_hours=3, usual_days=5, failures=3, level=2)


def source(**fields) -> SourceYield:
    base = dict(id="weibo", name="微博关键词", jurisdiction="qingchuan", consecutive_failures=0,
                last_error=None, last_success_at=NOW, last_new_post_at=NOW - timedelta(hours=4),
                new_in_window=3, usual_days=7)
    base.update(fields)
    return SourceYield(**base)


def test_stalled_cycles_alert_once_per_outage():
    ok = LedgerFacts(last_success_at=NOW - timedelta(minutes=19),
                     first_run_at=NOW - timedelta(days=3))
    assert check_ledger(ok, SETTINGS, NOW) == []
    stalled = LedgerFacts(last_success_at=NOW - timedelta(minutes=20),
                          first_run_at=ok.first_run_at)
    [alert] = check_ledger(stalled, SETTINGS, NOW)
    assert alert.kind == "watchdog" and alert.level == 2 and "20 分钟" in alert.reason
    # The same outage an hour later keeps its fingerprint: one incident, not one per check.
    [later] = check_ledger(stalled, SETTINGS, NOW + timedelta(hours=1))
    assert later.fingerprint == alert.fingerprint
    # Never succeeded since the first run: counted from the first run.
    never = LedgerFacts(last_success_at=None, first_run_at=NOW - timedelta(hours=1))
    assert "从未成功" in check_ledger(never, SETTINGS, NOW)[0].reason
    # Never ran at all: nothing to watch yet.
    assert check_ledger(LedgerFacts(None, None), SETTINGS, NOW) == []


@pytest.mark.parametrize("fields,expected", [
    ({}, None),
    ({"consecutive_failures": 2, "last_error": "HTTP 500 from x"}, None),
    ({"consecutive_failures": 3, "last_error": "HTTP 500 from x"}, "连续 3 次采集失败"),
    ({"consecutive_failures": 1, "last_error": "HTTP 432 from https://weibo.com"}, "被反爬拦截"),
    ({"consecutive_failures": 1, "last_error": "HTTP 418 I'm a teapot"}, "被反爬拦截"),
    ({"consecutive_failures": 1, "last_error": "HTTP 404 from http://h:4320/a"}, None),
    ({"consecutive_failures": 0, "last_error": "HTTP 432 (an hour ago)"}, None),
    ({"new_in_window": 0, "usual_days": 5}, "异常沉默"),
    ({"new_in_window": 0, "usual_days": 4}, None),       # a source that is often quiet
    ({"new_in_window": 1, "usual_days": 7}, None),
])
def test_source_checks(fields, expected):
    alerts = check_sources([source(**fields)], SETTINGS, NOW)
    if expected is None:
        assert alerts == []
    else:
        [alert] = alerts
        assert expected in alert.title + alert.reason
        assert alert.jurisdiction == "qingchuan"


def test_a_recovered_source_that_fails_again_is_a_new_episode():
    first = check_sources([source(consecutive_failures=3, last_error="HTTP 500")], SETTINGS, NOW)
    again = check_sources([source(consecutive_failures=3, last_error="HTTP 500",
                                  last_success_at=NOW + timedelta(hours=2))], SETTINGS, NOW)
    assert first[0].fingerprint != again[0].fingerprint


def test_disabled_watchdog_says_nothing():
    off = WatchdogSettings(enabled=False)
    assert check_sources([source(consecutive_failures=9, last_error="x")], off, NOW) == []
    assert check_ledger(LedgerFacts(None, NOW - timedelta(days=1)), off, NOW) == []


# ---- the watchdog cycle, on a real warehouse --------------------------------------------

@pytest.fixture
def config(tmp_path):
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "pages.jsonl")}]}))
    (directory / "routing.yaml").write_text(yaml.safe_dump({
        "timers": {"ack_minutes": 15, "repeat_minutes": 30},
        "watchdog": {"cycle_minutes": 20, "silent_hours": 3, "usual_days": 5, "failures": 3}}))
    return directory


def pages(tmp_path) -> list[dict]:
    path = tmp_path / "pages.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["payload"] for line in path.read_text("utf-8").splitlines()]


def test_stalled_monitor_pages_then_reminds_then_escalates(config, tmp_path, sqlite_url):
    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW)
    wh.finish_run(run, NOW + timedelta(minutes=1), alerts_new=0, notifications_sent=0, errors=[])
    wh.close()
    healthy = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=15))
    assert healthy["healthy"] and pages(tmp_path) == []

    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=30))
    assert not report["healthy"] and "巡查周期" in report["problems"][0]
    [page] = pages(tmp_path)
    assert "监测中断" in page["title"] and "jingyu alerts ack" in page["text"]

    # Ten minutes on: the same outage, nothing new to say.
    assert run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=40))["sent"] == 0
    assert len(pages(tmp_path)) == 1
    # Unacknowledged after 15 minutes: escalated; after 30: reminded.
    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=61))
    notices = [p.get("notice") for p in pages(tmp_path)[1:]]
    assert sorted(notices) == ["escalation", "reminder"]
    assert report["escalated"] == 1 and report["reminded"] == 1

    # The monitor runs again: the watchdog resolves the outage and says so.
    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW + timedelta(minutes=65))
    wh.finish_run(run, NOW + timedelta(minutes=66), alerts_new=0, notifications_sent=0,
                  errors=[])
    wh.close()
    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=70))
    assert report["healthy"]
    recovered = pages(tmp_path)[-1]
    assert recovered["notice"] == "resolved" and "已恢复" in recovered["text"]
    assert recovered["incident"]["status"] == "resolved"
    # Nothing more to say while all is well.
    assert run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=80))["sent"] == 0


def _store(wh: Warehouse, source_id: str, fetched: datetime, n: int, tag: str) -> None:
    posts = []
    for i in range(n):
        raw = RawPost(source_id=source_id, external_id=f"{tag}-{i}", url=None, title=f"t{i}",
                      body="", author=None, published_at=fetched, fetched_at=fetched)
        posts.append(ScoredPost(raw=raw, text=f"t{tag}{i}", content_hash=f"{tag}{i}",
                                keywords=(), police_related=False, police_terms=(),
                                sentiment=0.5, polarity="neutral", topics=(), rule_hits=(),
                                high_risk=False))
    run = wh.start_run(fetched)
    wh.store_fetch(run, FetchResult(source_id=source_id, status=FETCH_OK, cursor=SourceCursor(),
                                    posts=tuple(p.raw for p in posts)), posts, fetched)
    wh.finish_run(run, fetched, alerts_new=0, notifications_sent=0, errors=[])


def test_silent_and_blocked_sources_page_duty_staff(config, tmp_path, sqlite_url):
    wh = Warehouse(sqlite_url)
    wh.sync_sources([SourceConfig(id="busy", name="常更新的源", kind="feed", url="http://x/b"),
                     SourceConfig(id="weibo", name="微博", kind="feed", url="http://x/w")])
    for day in range(1, 7):   # busy yielded at this hour on 6 of the last 7 days
        _store(wh, "busy", NOW - timedelta(days=day, hours=1), 2, f"d{day}")
    _store(wh, "busy", NOW - timedelta(hours=5), 1, "today")
    blocked = FetchResult(source_id="weibo", status=FETCH_ERROR, cursor=SourceCursor(),
                          error="HTTP 432 from https://weibo.com/search", http_status=432)
    run = wh.start_run(NOW - timedelta(minutes=1))
    wh.store_fetch(run, blocked, [], NOW - timedelta(minutes=1))
    # busy answers 304 Not Modified: the cycle succeeds (partial), the source says nothing.
    wh.store_fetch(run, FetchResult(source_id="busy", status=FETCH_NOT_MODIFIED,
                                    cursor=SourceCursor(), http_status=304), [], NOW)
    wh.finish_run(run, NOW, alerts_new=0, notifications_sent=0, errors=[])
    wh.close()

    report = run_watchdog(config, sqlite_url, now=NOW)
    titles = sorted(p["title"] for p in pages(tmp_path))
    assert len(titles) == 2 and report["sent"] == 2
    assert "信息源异常沉默：常更新的源" in titles[0] + titles[1]
    assert "信息源失效：微博" in titles[0] + titles[1]


def test_with_the_warehouse_down_the_watchdog_pages_directly(config, tmp_path):
    report = run_watchdog(config, "postgresql+psycopg://nobody@127.0.0.1:1/none", now=NOW)
    assert not report["healthy"] and report["sent"] == 1
    [page] = pages(tmp_path)
    assert "数据库无法访问" in page["title"] and "127.0.0.1:1" in page["text"]
