"""Watching the watcher: stalled cycles, failing, blocked and silent sources are 系统告警 for
the operators (no warning level, no incident); and the `run_watchdog` cycle that sends them
through the operators' channels itself, even with the warehouse down."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from alerts.incidents.watchdog import (
    HEALTH_LEVEL,
    LedgerFacts,
    WatchdogSettings,
    check_ledger,
    check_sources,
)
from alerts.levels import LEVELS
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
from warehouse.incidents import IncidentStore
from warehouse.records import SourceYield
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)
SETTINGS = WatchdogSettings(cycle_minutes=20, silent_hours=3, usual_days=5, failures=3)


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
    assert alert.kind == "health" and "20 分钟" in alert.reason
    assert alert.level == HEALTH_LEVEL and alert.level not in LEVELS   # never ranked I-IV
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
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "pages.jsonl")},
        {"name": "ops-log", "kind": "jsonl", "path": str(tmp_path / "ops.jsonl"),
         "audience": "operators"}]}))
    (directory / "routing.yaml").write_text(yaml.safe_dump({
        "timers": {"ack_minutes": 15, "repeat_minutes": 30},
        "watchdog": {"cycle_minutes": 20, "silent_hours": 3, "usual_days": 5, "failures": 3}}))
    return directory


def pages(tmp_path, name: str = "pages.jsonl") -> list[dict]:
    path = tmp_path / name
    if not path.exists():
        return []
    return [json.loads(line)["payload"] for line in path.read_text("utf-8").splitlines()]


def ops(tmp_path) -> list[dict]:
    return pages(tmp_path, "ops.jsonl")


def test_stalled_monitor_tells_the_operators_once_and_its_recovery_once(config, tmp_path,
                                                                          sqlite_url):
    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW)
    wh.finish_run(run, NOW + timedelta(minutes=1), alerts_new=0, notifications_sent=0, errors=[])
    wh.close()
    healthy = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=15))
    assert healthy["healthy"] and ops(tmp_path) == [] and healthy["warnings"] == []

    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=30))
    assert not report["healthy"] and "巡查周期" in report["problems"][0]
    [page] = ops(tmp_path)
    assert page["title"].startswith("【系统告警】监测中断") and page["level"] is None
    assert "级" not in page["title"] and "签收" not in page["text"]
    assert page["kind"] == "health" and "不分预警等级" in page["text"]

    # Checked every 10 minutes for an hour: the same outage, nothing new to say; no
    # reminder, no escalation to the 带班领导 (those are duty staff's incident timers).
    for minutes in (40, 50, 61):
        again = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=minutes))
        assert again["sent"] == 0 and again["escalated"] == again["reminded"] == 0
    assert len(ops(tmp_path)) == 1
    wh = Warehouse(sqlite_url)
    assert IncidentStore(wh).incidents() == []            # nothing on the duty board
    assert wh.alerts() == [] and len(wh.alerts(health=True)) == 1

    # The monitor runs again: the watchdog says so, once.
    run = wh.start_run(NOW + timedelta(minutes=65))
    wh.finish_run(run, NOW + timedelta(minutes=66), alerts_new=0, notifications_sent=0,
                  errors=[])
    wh.close()
    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=70))
    assert report["healthy"] and report["recovered"] == ["监测中断：巡查周期未成功运行"]
    recovered = ops(tmp_path)[-1]
    assert recovered["title"].startswith("【系统告警·已恢复】") and "恢复：" in recovered["text"]
    assert recovered["notice"] == "health_recovered"
    # Nothing more to say while all is well; duty staff heard nothing of any of it.
    assert run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=80))["sent"] == 0
    assert len(ops(tmp_path)) == 2 and pages(tmp_path) == []


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


def _silent_and_blocked(sqlite_url: str) -> None:
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


def test_silent_and_blocked_sources_are_told_to_the_operators(config, tmp_path, sqlite_url):
    _silent_and_blocked(sqlite_url)
    report = run_watchdog(config, sqlite_url, now=NOW)
    titles = sorted(p["title"] for p in ops(tmp_path))
    assert len(titles) == 2 and report["sent"] == 2 and pages(tmp_path) == []
    assert "【系统告警】信息源异常沉默：常更新的源" in titles
    assert "【系统告警】信息源失效：微博" in titles


def test_without_an_operators_channel_health_goes_to_the_duty_log_marked_and_warned(
        config, tmp_path, sqlite_url):
    (config / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "pages.jsonl")},
        {"name": "duty-robot", "kind": "webhook", "url": "http://127.0.0.1:9/x",
         "min_level": 3, "enabled": True}]}))
    _silent_and_blocked(sqlite_url)
    report = run_watchdog(config, sqlite_url, now=NOW)
    [warning] = report["warnings"]
    assert "audience: operators" in warning and "duty-log" in warning and "Fix:" in warning
    # Only the channel that takes every alert (min_level 4) gets them, marked; the duty
    # robot for III级 and above hears nothing of it.
    [a, b] = pages(tmp_path)
    assert all(p["title"].startswith("【系统告警】") and "未配置运维接收渠道" in p["text"]
               for p in (a, b))
    assert report["failed"] == 0


def test_health_incidents_of_before_are_settled_off_the_board(config, tmp_path, sqlite_url):
    """A warehouse upgraded with an open health incident (kind watchdog, II级) of old: the
    watchdog closes it without a word, so it leaves the duty board and its timers."""
    from alerts.detection.records import Alert
    from alerts.incidents import incident as domain
    from alerts.incidents.incident import IncidentOpening

    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW)
    wh.finish_run(run, NOW, alerts_new=0, notifications_sent=0, errors=[])
    store = IncidentStore(wh)
    old = Alert(fingerprint="watchdog:source:weibo:failing:never", kind="watchdog", level=2,
                title="信息源失效：微博", reason="x", evidence=(), jurisdiction=None,
                detected_at=NOW - timedelta(hours=1))

    def decide(stored, first, current):
        return domain.take_alert(current, stored.alert_id, IncidentOpening(
            fingerprint=old.fingerprint, kind="watchdog", level=2, title=old.title,
            jurisdiction=None, topics=(), terms=(), content_hashes=(), sensitive=False,
            detected_at=old.detected_at, track_units={}, notified=False, detail={}), first,
            alert_rose=True)

    store.record(old, lambda *_: [], decide)
    [legacy] = store.incidents()
    assert legacy.status == "new"
    wh.close()
    report = run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=5))
    wh = Warehouse(sqlite_url)
    [settled] = IncidentStore(wh).incidents()
    assert settled.status == "closed" and report["escalated"] == report["reminded"] == 0
    assert pages(tmp_path) == [] and ops(tmp_path) == []
    wh.close()


def test_with_the_warehouse_down_the_watchdog_tells_the_operators_directly(config, tmp_path):
    report = run_watchdog(config, "postgresql+psycopg://nobody@127.0.0.1:1/none", now=NOW)
    assert not report["healthy"] and report["sent"] == 1
    [page] = ops(tmp_path)
    assert page["title"] == "【系统告警】监测中断：数据库无法访问" and "127.0.0.1:1" in page["text"]
    assert pages(tmp_path) == []


OPS_ROSTER = {
    "shifts": [{"id": "day", "name": "白班", "start": "08:00", "end": "20:00"},
               {"id": "night", "name": "夜班", "start": "20:00", "end": "08:00"}],
    "units": [{"id": "tech", "name": "科信处运维值班", "jurisdiction": "qingchuan",
               "roles": ["operations"]},
              {"id": "cmd", "name": "情指中心", "jurisdiction": "qingchuan",
               "roles": ["command"]}],
    "people": [{"id": "qian", "name": "钱程", "unit": "tech", "phone": "13800000071",
                "handles": {"dingtalk": "13800000071"}},
               {"id": "xie", "name": "谢凡", "unit": "tech", "phone": "13800000072",
                "handles": {"dingtalk": "13800000072"}},
               {"id": "zhang", "name": "张三", "unit": "cmd", "phone": "13800000011",
                "handles": {"dingtalk": "13800000011"}}],
    "duty": [{"unit": "tech", "shift": "day", "daily": "qian"},
             {"unit": "tech", "shift": "night", "daily": "xie"},
             {"unit": "cmd", "shift": "day", "daily": "zhang"},
             {"unit": "cmd", "shift": "night", "daily": "zhang"}],
}


def test_health_alerts_name_the_operator_on_duty(config, tmp_path, sqlite_url):
    """With units of role operations in roster.yaml, each 系统告警 and its recovery name and
    carry (for the robots' @-mentions) the 运维 on duty at that minute, not duty staff; the
    warehouse-down page too."""
    (config / "roster.yaml").write_text(yaml.safe_dump(OPS_ROSTER, allow_unicode=True))
    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW)
    wh.finish_run(run, NOW + timedelta(minutes=1), alerts_new=0, notifications_sent=0, errors=[])
    wh.close()
    day = NOW + timedelta(minutes=30)            # 16:00 in Shanghai: 白班
    assert not run_watchdog(config, sqlite_url, now=day)["healthy"]
    [page] = ops(tmp_path)
    assert [r["name"] for r in page["recipients"]] == ["钱程"]
    assert "运维值班：钱程（科信处运维值班）" in page["text"]
    wh = Warehouse(sqlite_url)
    run = wh.start_run(NOW + timedelta(hours=7))
    wh.finish_run(run, NOW + timedelta(hours=7, minutes=1), alerts_new=0,
                  notifications_sent=0, errors=[])
    wh.close()
    run_watchdog(config, sqlite_url, now=NOW + timedelta(hours=7, minutes=5))   # 22:35: 夜班
    recovered = ops(tmp_path)[-1]
    assert recovered["notice"] == "health_recovered"
    assert [r["name"] for r in recovered["recipients"]] == ["谢凡"]
    assert pages(tmp_path) == []

    run_watchdog(config, "postgresql+psycopg://nobody@127.0.0.1:1/none", now=day)
    down = ops(tmp_path)[-1]
    assert down["title"] == "【系统告警】监测中断：数据库无法访问"
    assert [r["name"] for r in down["recipients"]] == ["钱程"]
