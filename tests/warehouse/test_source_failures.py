"""Failures named, in the warehouse: the class and advice in source health, back-off in the
schedule, disabling after a day of hard failures (in the run ledger), re-enabling, and the
watchdog paging blocked sources once and disabled ones with their own alert."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FetchResult, SourceConfig,
                                SourceCursor)
from flows.cli import main
from flows.watchdog import run_watchdog
from warehouse.store import Warehouse

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
SOURCES = [SourceConfig(id="gone", name="改版的县局网站", kind="feed", url="http://x/g"),
           SourceConfig(id="weibo", name="微博关键词", kind="feed", url="http://x/w"),
           SourceConfig(id="flaky", name="偶尔出错的站", kind="feed", url="http://x/f")]


def failed(source_id: str, failure: str, error: str, status: int | None = None) -> FetchResult:
    return FetchResult(source_id=source_id, status=FETCH_ERROR, cursor=SourceCursor(),
                       error=f"{source_id}: {error}", http_status=status, failure=failure)


def cycle(wh: Warehouse, at: datetime, *results: FetchResult) -> dict:
    run = wh.start_run(at)
    for result in results:
        wh.store_fetch(run, result, [], at)
    return wh.finish_run(run, at, alerts_new=0, notifications_sent=0, errors=[])


@pytest.fixture
def wh(warehouse_url: str):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    yield warehouse
    warehouse.close()


def due(wh: Warehouse, at: datetime) -> list[str]:
    return [s.id for s in wh.due_sources(SOURCES, at)]


def test_backoff_disable_and_enable(wh: Warehouse) -> None:
    gone = failed("gone", "hard", "HTTP 404 from http://x/g", 404)
    soft = failed("flaky", "soft", "HTTP 502 from http://x/f", 502)
    cycle(wh, NOW, gone, soft)
    # Hard failure: waits twice the poll interval (5 min), then 4 times; soft keeps the
    # schedule.
    assert due(wh, NOW + timedelta(minutes=5)) == ["weibo", "flaky"]
    assert due(wh, NOW + timedelta(minutes=10)) == ["gone", "weibo", "flaky"]
    cycle(wh, NOW + timedelta(minutes=10), gone)
    assert "gone" not in due(wh, NOW + timedelta(minutes=29))      # 10 + 20 minutes
    assert "gone" in due(wh, NOW + timedelta(minutes=30))

    health = {r["id"]: r for r in wh.source_health(NOW + timedelta(minutes=11))}
    assert health["gone"]["failure_class"] == "hard"
    assert "check the address" in health["gone"]["advice"]
    assert health["gone"]["failing_since"] == NOW
    assert health["flaky"]["failure_class"] == "soft"
    assert health["weibo"]["failure_class"] is None and health["weibo"]["advice"] is None

    # A day of hard failures: disabled, said in the run ledger, never due again ...
    summary = cycle(wh, NOW + timedelta(hours=24), gone)
    assert any("disabled after failing hard for 24 h" in e for e in summary["errors"])
    assert "gone" not in due(wh, NOW + timedelta(days=3))
    health = {r["id"]: r for r in wh.source_health(NOW + timedelta(hours=25))}
    assert health["gone"]["disabled_at"] == NOW + timedelta(hours=24)
    # ... until the operator re-enables it.
    assert wh.enable_source("gone") and not wh.enable_source("nope")
    assert "gone" in due(wh, NOW + timedelta(days=3))
    # Success clears the class and the back-off.
    cycle(wh, NOW + timedelta(days=3), FetchResult("flaky", FETCH_NOT_MODIFIED, SourceCursor()))
    health = {r["id"]: r for r in wh.source_health(NOW + timedelta(days=3))}
    assert health["flaky"]["failure_class"] is None and health["flaky"]["failing_since"] is None


def test_old_results_without_a_class_are_classed_by_message(wh: Warehouse) -> None:
    cycle(wh, NOW, FetchResult("weibo", FETCH_ERROR, SourceCursor(), http_status=432,
                               error="weibo: blocked by the site (HTTP 432) — anti-bot"))
    assert {r["id"]: r for r in wh.source_health(NOW)}["weibo"]["failure_class"] == "blocked"


@pytest.fixture
def config(tmp_path):
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "alerts.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "duty-log", "kind": "jsonl", "path": str(tmp_path / "pages.jsonl")}]}))
    (directory / "routing.yaml").write_text(yaml.safe_dump({
        "timers": {"ack_minutes": 600, "repeat_minutes": 600},
        "watchdog": {"cycle_minutes": 20, "silent_hours": 3, "usual_days": 5, "failures": 3}}))
    return directory


def titles(tmp_path) -> list[str]:
    path = tmp_path / "pages.jsonl"
    return [json.loads(line)["payload"]["title"].split("】", 1)[-1]
            for line in path.read_text("utf-8").splitlines()] if path.exists() else []


def test_watchdog_pages_blocked_once_and_disabled_with_its_own_alert(
        config, tmp_path, sqlite_url, capsys) -> None:
    wh = Warehouse(sqlite_url)
    wh.sync_sources(SOURCES)
    blocked = failed("weibo", "blocked", "blocked by the site (HTTP 432)", 432)
    expired = failed("flaky", "credentials", "cookie or token expired (HTTP 503)", 503)
    cycle(wh, NOW, blocked, expired)
    run_watchdog(config, sqlite_url, now=NOW + timedelta(minutes=1))
    # Paged at the first failure, each once, saying what to do.
    assert sorted(titles(tmp_path)) == ["信息源失效：偶尔出错的站", "信息源失效：微博关键词"]
    pages = (tmp_path / "pages.jsonl").read_text("utf-8")
    assert "被反爬拦截" in pages and "Cookie/凭据过期" in pages and "WEIBO_COOKIES" in pages

    for hour in range(1, 4):   # still blocked: no new page
        at = NOW + timedelta(hours=hour)
        cycle(wh, at, blocked, FetchResult("gone", FETCH_NOT_MODIFIED, SourceCursor()))
        run_watchdog(config, sqlite_url, now=at + timedelta(minutes=1))
    assert len(titles(tmp_path)) == 2

    gone = failed("gone", "hard", "HTTP 404 from http://x/g", 404)
    cycle(wh, NOW + timedelta(hours=4), gone)
    cycle(wh, NOW + timedelta(hours=28), gone)
    run_watchdog(config, sqlite_url, now=NOW + timedelta(hours=28, minutes=1))
    assert "信息源已停用：改版的县局网站" in titles(tmp_path)
    wh.close()

    assert main(["sources", "--database", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert "DISABLED" in out and "jingyu sources enable gone" in out
    assert "blocked" in out and "the site refuses robots" in out
    assert main(["sources", "enable", "gone", "--database", sqlite_url]) == 0
    assert main(["sources", "enable", "nope", "--database", sqlite_url]) == 1
    assert main(["sources", "enable", "--database", sqlite_url]) == 2
