"""The warehouse on real SQLite files and real PostgreSQL: loads, cursor, ledger, outbox."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from collectors.records import (FETCH_ERROR, FETCH_NOT_MODIFIED, FETCH_OK, FetchResult, RawPost,
                                SourceConfig, SourceCursor)
from transforms.records import ScoredPost
from warehouse.db import WarehouseUnavailable, current_revision, head_revision
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
SOURCES = [
    SourceConfig(id="police", name="青川公安", kind="feed", url="http://127.0.0.1/p.xml",
                 tags=("official",), jurisdiction="qingchuan"),
    SourceConfig(id="news", name="青川日报", kind="feed", url="http://127.0.0.1/n.xml"),
]


def scored(source_id: str, n: int, *, start: int = 0, negative: bool = False) -> list[ScoredPost]:
    posts = []
    for i in range(start, start + n):
        raw = RawPost(source_id=source_id, external_id=f"{source_id}-{i}",
                      url=f"https://example.org/{source_id}/{i}", title=f"标题{i}",
                      body=f"正文{i}", author=None,
                      published_at=NOW - timedelta(minutes=i), fetched_at=NOW)
        posts.append(ScoredPost(raw=raw, text=f"标题{i} 正文{i}", content_hash=f"h{source_id}{i}",
                                keywords=("正文",), police_related=True, police_terms=("民警",),
                                sentiment=0.1 if negative else 0.8,
                                polarity="negative" if negative else "positive",
                                police_stance="negative" if negative else "positive",
                                topics=("police",), rule_hits=("police: 民警",), high_risk=False))
    return posts


def ok(source_id: str, posts: list[ScoredPost], etag: str = '"v1"') -> FetchResult:
    return FetchResult(source_id=source_id, status=FETCH_OK,
                       cursor=SourceCursor(etag=etag, last_modified="Wed, 25 Nov 2026 08:00:00 GMT",
                                           seen_ids=tuple(p.raw.external_id for p in posts)),
                       posts=tuple(p.raw for p in posts), http_status=200)


@pytest.fixture
def wh(warehouse_url: str):
    warehouse = Warehouse(warehouse_url)
    warehouse.sync_sources(SOURCES)
    yield warehouse
    warehouse.close()


def test_schema_is_migrated_on_first_use(warehouse_url: str) -> None:
    warehouse = Warehouse(warehouse_url)
    assert current_revision(warehouse.engine) == head_revision()
    tables = set(inspect(warehouse.engine).get_table_names())
    assert {"posts", "sources", "runs", "run_sources", "alerts", "outbox"} <= tables
    warehouse.close()


def test_same_fetch_twice_stores_each_post_once(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    posts = scored("news", 5)
    assert wh.store_fetch(run, ok("news", posts), posts, NOW) == 5
    run2 = wh.start_run(NOW + timedelta(minutes=5))
    assert wh.store_fetch(run2, ok("news", posts), posts, NOW + timedelta(minutes=5)) == 0
    more = scored("news", 3, start=5)
    assert wh.store_fetch(run2, ok("news", posts + more), posts + more, NOW) == 3
    assert wh.table_counts(["posts"])["posts"] == 8


def test_cursor_is_stored_with_the_posts(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    posts = scored("news", 2)
    wh.store_fetch(run, ok("news", posts, etag='"abc"'), posts, NOW)
    cursor = wh.cursors()["news"]
    assert cursor.etag == '"abc"'
    assert cursor.last_modified == "Wed, 25 Nov 2026 08:00:00 GMT"
    assert cursor.seen_ids == ("news-0", "news-1")


def test_interrupted_load_leaves_no_rows_and_no_cursor(wh: Warehouse) -> None:
    """A load that dies mid-transaction commits nothing; rerunning stores everything once."""
    run = wh.start_run(NOW)
    posts = scored("news", 4)
    broken = posts[:3] + [replace(posts[3], raw=replace(posts[3].raw, source_id="no-such-source"))]
    with pytest.raises(Exception):
        wh.store_fetch(run, ok("news", posts, etag='"new"'), broken, NOW)
    assert wh.table_counts(["posts"])["posts"] == 0
    assert wh.cursors()["news"].etag is None  # cursor did not advance past unstored posts
    assert wh.store_fetch(run, ok("news", posts, etag='"new"'), posts, NOW) == 4
    assert wh.cursors()["news"].etag == '"new"'


def test_failures_are_counted_and_cleared(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    posts = scored("news", 2)
    wh.store_fetch(run, ok("news", posts), posts, NOW)
    failure = FetchResult(source_id="news", status=FETCH_ERROR, cursor=SourceCursor(),
                          error="HTTP 500 from http://127.0.0.1/n.xml", http_status=500)
    wh.store_fetch(run, failure, [], NOW + timedelta(minutes=5))
    wh.store_fetch(run, failure, [], NOW + timedelta(minutes=10))
    health = {h["id"]: h for h in wh.source_health(NOW + timedelta(minutes=10))}
    assert health["news"]["consecutive_failures"] == 2
    assert "HTTP 500" in health["news"]["last_error"]
    assert health["news"]["posts_24h"] == 2
    assert wh.cursors()["news"].etag == '"v1"'  # a failure keeps the old cursor
    unchanged = FetchResult(source_id="news", status=FETCH_NOT_MODIFIED,
                            cursor=wh.cursors()["news"], http_status=304)
    wh.store_fetch(run, unchanged, [], NOW + timedelta(minutes=15))
    health = {h["id"]: h for h in wh.source_health(NOW + timedelta(minutes=15))}
    assert health["news"]["consecutive_failures"] == 0
    assert health["news"]["posts_24h"] == 2
    assert health["news"]["posts_24h"] == 2
    assert {h["id"]: h for h in wh.source_health(NOW + timedelta(hours=25))}["news"]["posts_24h"] == 0


def test_run_ledger_records_counts_and_status(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    posts = scored("news", 3)
    wh.store_fetch(run, ok("news", posts), posts, NOW)
    wh.store_fetch(run, FetchResult(source_id="police", status=FETCH_ERROR, cursor=SourceCursor(),
                                    error="timeout"), [], NOW)
    summary = wh.finish_run(run, NOW + timedelta(seconds=9), alerts_new=1, notifications_sent=2,
                            errors=[])
    assert summary["status"] == "partial"
    assert (summary["sources_ok"], summary["sources_failed"], summary["posts_new"]) == (1, 1, 3)
    assert summary["errors"] == ["police: timeout"]
    assert wh.runs()[0]["ended_at"] == NOW + timedelta(seconds=9)


def test_a_killed_run_is_closed_as_aborted_by_the_next(wh: Warehouse) -> None:
    killed = wh.start_run(NOW)
    wh.start_run(NOW + timedelta(hours=2))
    statuses = {r["run_id"]: r["status"] for r in wh.runs()}
    assert statuses[killed] == "aborted"


def test_due_sources_follow_poll_interval(wh: Warehouse) -> None:
    assert [s.id for s in wh.due_sources(SOURCES, NOW)] == ["police", "news"]
    run = wh.start_run(NOW)
    wh.store_fetch(run, ok("news", []), [], NOW)
    assert [s.id for s in wh.due_sources(SOURCES, NOW + timedelta(minutes=2))] == ["police"]
    assert len(wh.due_sources(SOURCES, NOW + timedelta(minutes=5))) == 2


def test_posts_since_flags_official_sources(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    police, news = scored("police", 2), scored("news", 2, negative=True)
    wh.store_fetch(run, ok("police", police), police, NOW)
    wh.store_fetch(run, ok("news", news), news, NOW)
    rows = wh.posts_since(NOW - timedelta(hours=1))
    assert {(r.source_id, r.official) for r in rows} == {("police", True), ("news", False)}
    assert {r.polarity for r in rows if r.source_id == "news"} == {"negative"}
    assert all(r.published_at.tzinfo is not None for r in rows)
    assert {r.jurisdiction for r in rows if r.source_id == "police"} == {"qingchuan"}


@dataclass(frozen=True)
class FakeAlert:
    fingerprint: str
    level: int
    kind: str = "spike"
    title: str = "负面涉警信息激增"
    reason: str = "最近60分钟 20 条"
    jurisdiction: str | None = None
    detected_at: datetime = NOW
    evidence: tuple = ()


def _notify(alert_id: int, version: int):
    return [("console", {"text": f"alert {alert_id} v{version}"}),
            ("webhook", {"text": f"alert {alert_id} v{version}"})]


def test_alert_is_stored_once_and_escalation_requeues(wh: Warehouse) -> None:
    first = wh.record_alert(FakeAlert("spike:x", level=4), _notify)
    again = wh.record_alert(FakeAlert("spike:x", level=4, detected_at=NOW + timedelta(minutes=5)),
                            _notify)
    assert (first.outcome, again.outcome) == ("new", "unchanged")
    assert first.alert_id == again.alert_id
    assert len(wh.pending_notifications(NOW)) == 2
    up = wh.record_alert(FakeAlert("spike:x", level=3), _notify)
    assert (up.outcome, up.version) == ("escalated", 2)
    pending = wh.pending_notifications(NOW)
    assert len(pending) == 4
    assert len({m.idempotency_key for m in pending}) == 4
    assert wh.alerts()[0]["level"] == 3
    assert wh.table_counts(["alerts"])["alerts"] == 1


def test_failed_delivery_stays_pending_until_retry_time(wh: Warehouse) -> None:
    wh.record_alert(FakeAlert("item:abc", level=3), _notify)
    console, webhook = wh.pending_notifications(NOW)
    wh.mark_delivered(console.id, NOW)
    wh.mark_failed(webhook.id, "connection refused", NOW + timedelta(minutes=1))
    assert wh.pending_notifications(NOW) == []
    retry = wh.pending_notifications(NOW + timedelta(minutes=1))
    assert [m.id for m in retry] == [webhook.id] and retry[0].attempts == 1
    assert wh.outbox_counts() == {"sent": 1, "pending": 1}


def test_unreachable_database_names_the_url() -> None:
    with pytest.raises(WarehouseUnavailable, match="127.0.0.1:1"):
        Warehouse("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_bad_database_url_is_explained() -> None:
    with pytest.raises(WarehouseUnavailable, match="not valid"):
        Warehouse("not a url")


def test_sqlite_file_is_created_under_its_directory(tmp_path) -> None:
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'nested' / 'jy.db'}")
    with warehouse.engine.connect() as conn:
        assert conn.execute(text("select count(*) from posts")).scalar() == 0
    assert (tmp_path / "nested" / "jy.db").exists()


def test_mentions_carry_what_spike_detection_counts(wh: Warehouse) -> None:
    run = wh.start_run(NOW)
    wh.store_fetch(run, ok("police", scored("police", 2)), scored("police", 2), NOW)
    wh.store_fetch(run, ok("news", scored("news", 3, negative=True)),
                   scored("news", 3, negative=True), NOW)

    mentions = wh.mentions_since(NOW - timedelta(minutes=1), NOW)

    # Published 0 and 1 minutes before NOW (the window keeps both ends), oldest first.
    assert sorted((m.content_hash, m.negative, m.official) for m in mentions) == [
        ("hnews0", True, False), ("hnews1", True, False),
        ("hpolice0", False, True), ("hpolice1", False, True)]
    assert [m.seen_at for m in mentions] == sorted(m.seen_at for m in mentions)
    assert all(m.topics == ("police",) and m.police_related for m in mentions)
    assert mentions[0].seen_at == NOW - timedelta(minutes=1)
    assert mentions[-1].seen_at == NOW


def test_coverage_starts_with_monitoring_or_with_imported_history(wh: Warehouse) -> None:
    assert wh.coverage_start() is None
    # A feed's first fetch carries posts from before it: a backlog, not a full record.
    run = wh.start_run(NOW)
    backlog = scored("news", 3)
    backlog = [replace(p, raw=replace(p.raw, published_at=NOW - timedelta(days=2 + i)))
               for i, p in enumerate(backlog)]
    wh.store_fetch(run, ok("news", backlog), backlog, NOW)
    assert wh.coverage_start() == NOW
    # An export imported from another platform is a full record of its week.
    export = SourceConfig(id="export", name="某平台导出", kind="file", url="/data/export.csv")
    wh.sync_sources([*SOURCES, export])
    imported = [replace(p, raw=replace(p.raw, source_id="export",
                                       published_at=NOW - timedelta(days=7, hours=i)))
                for i, p in enumerate(scored("export", 2))]
    later = wh.start_run(NOW + timedelta(hours=1))
    wh.store_fetch(later, ok("export", imported), imported, NOW + timedelta(hours=1))
    assert wh.coverage_start() == NOW - timedelta(days=7, hours=1)


def test_alert_fingerprints_of_a_kind_since_a_time(wh: Warehouse) -> None:
    wh.record_alert(FakeAlert("spike:old", 4, detected_at=NOW - timedelta(hours=8)), _notify)
    wh.record_alert(FakeAlert("spike:a", 4, detected_at=NOW - timedelta(hours=2)), _notify)
    wh.record_alert(FakeAlert("item:b", 3, kind="sensitive_item",
                              detected_at=NOW - timedelta(hours=1)), _notify)
    wh.record_alert(FakeAlert("spike:c", 4, detected_at=NOW - timedelta(minutes=5)), _notify)
    assert wh.alert_fingerprints("spike", since=NOW - timedelta(hours=6)) == ["spike:c", "spike:a"]
