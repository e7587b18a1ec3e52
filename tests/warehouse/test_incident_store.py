"""Incidents in the warehouse (SQLite and PostgreSQL): migration 0002, upsert by fingerprint,
status changes with their audit trail, escalations and reminders queued once, silences."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from alerts.detection.records import Alert
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.db import current_revision, head_revision
from warehouse.incidents import IncidentError, IncidentOpening, IncidentStore
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)


@pytest.fixture
def wh(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    yield warehouse
    warehouse.close()


@pytest.fixture
def store(wh):
    return IncidentStore(wh)


def alert(level: int = 3, fingerprint: str = "item:abc", at: datetime = NOW) -> Alert:
    return Alert(fingerprint=fingerprint, kind="sensitive_item", level=level,
                 title=f"敏感信息 L{level}", reason="r", evidence=(), jurisdiction="qingchuan",
                 detected_at=at)


def opening(level: int = 3, fingerprint: str = "item:abc", at: datetime = NOW,
            terms: tuple[str, ...] = ("辅警", "摊贩"), notified: bool = True) -> IncidentOpening:
    return IncidentOpening(fingerprint=fingerprint, kind="sensitive_item", level=level,
                           title=f"敏感信息 L{level}", jurisdiction="qingchuan",
                           topics=("police.enforcement_dispute",), terms=terms,
                           content_hashes=("h1",), sensitive=level <= 2, detected_at=at,
                           track_units={"opinion": "宣传处"}, notified=notified,
                           detail={"recipients": ["张三"]})


def open_incident(wh: Warehouse, store: IncidentStore, level: int = 3, at: datetime = NOW,
                  fingerprint: str = "item:abc"):
    stored = wh.record_alert(alert(level, fingerprint, at), lambda *_: [("log", {"t": 1})])
    return store.upsert(stored.alert_id, opening(level, fingerprint, at))


def test_migration_creates_the_incident_tables(wh):
    assert current_revision(wh.engine) == head_revision()
    tables = set(inspect(wh.engine).get_table_names())
    assert {"incidents", "incident_tracks", "incident_events", "silences"} <= tables


def test_an_alert_opens_one_incident_with_three_tracks(wh, store):
    incident, outcome = open_incident(wh, store)
    assert outcome == "opened" and incident.status == "new"
    assert incident.id == incident.alert_id              # the number in the notification
    assert [t.track for t in incident.tracks] == ["legal", "opinion", "control"]
    assert {t.track: t.unit for t in incident.tracks}["opinion"] == "宣传处"
    assert incident.opened_at == NOW and incident.last_notified_at == NOW
    again, outcome = store.upsert(incident.alert_id, opening(at=NOW + timedelta(minutes=5),
                                                             terms=("阿姨",)))
    assert outcome == "unchanged" and again.id == incident.id
    assert again.terms == ("辅警", "摊贩", "阿姨")
    assert len(store.incidents()) == 1
    assert [e.action for e in store.events(incident.id)] == ["opened"]


def test_a_rising_level_updates_the_incident_and_reopens_it(wh, store):
    incident, _ = open_incident(wh, store, level=3)
    store.resolve(incident.id, "张三", NOW + timedelta(minutes=10))
    later = NOW + timedelta(hours=1)
    stored = wh.record_alert(alert(2, at=later), lambda *_: [])
    raised, outcome = store.upsert(stored.alert_id, opening(2, at=later))
    assert outcome == "raised" and raised.id == incident.id
    assert raised.level == 2 and raised.sensitive and raised.status == "new"
    assert raised.resolved_at is None and raised.opened_at == NOW
    actions = [e.action for e in store.events(incident.id)]
    assert actions == ["opened", "resolved", "level_raised", "reopened"]
    assert store.events(incident.id)[2].detail["from"] == 3


def test_status_changes_are_audited_with_who_and_when(wh, store):
    incident, _ = open_incident(wh, store)
    t = NOW + timedelta(minutes=3)
    acked = store.acknowledge(incident.id, "张三", t, "已签收，通知属地")
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == ("acknowledged",
                                                                            "张三", t)
    with pytest.raises(IncidentError, match="acknowledged by 张三"):
        store.acknowledge(incident.id, "李四", t)
    handling = store.track(incident.id, "opinion", "start", "李四", t + timedelta(minutes=1),
                           unit="宣传科", note="起草警情通报")
    assert handling.status == "handling"
    opinion = handling.tracks[1]
    assert (opinion.unit, opinion.started_by) == ("宣传科", "李四")
    assert opinion.notes[0]["note"] == "起草警情通报"
    with pytest.raises(IncidentError, match="not started"):
        store.track(incident.id, "legal", "done", "王五", t)
    with pytest.raises(IncidentError, match="unknown track"):
        store.track(incident.id, "publicity", "start", "王五", t)
    done = store.track(incident.id, "opinion", "done", "李四", t + timedelta(hours=1))
    assert done.tracks[1].done_at == t + timedelta(hours=1)
    with pytest.raises(IncidentError, match="resolve it first"):
        store.close(incident.id, "王五", t)
    store.resolve(incident.id, "王五", t + timedelta(hours=2), "已发布通报",
                  [("log", {"title": "已处置"})])
    closed = store.close(incident.id, "王五", t + timedelta(hours=3))
    assert closed.status == "closed"
    with pytest.raises(IncidentError, match="closed"):
        store.track(incident.id, "legal", "start", "王五", t)
    trail = [(e.actor, e.action) for e in store.events(incident.id)]
    assert trail == [("system", "opened"), ("张三", "acknowledged"), ("李四", "track_start"),
                     ("李四", "track_done"), ("王五", "resolved"), ("王五", "closed")]
    keys = [o["key"] for o in store.outbox(incident.id)]
    assert f"incident:{incident.id}:resolved@log" in keys


def test_starting_a_track_acknowledges_a_new_incident(wh, store):
    incident, _ = open_incident(wh, store)
    started = store.track(incident.id, "legal", "start", "赵六", NOW + timedelta(minutes=2))
    assert started.status == "handling" and started.acknowledged_by == "赵六"


def test_lookups_by_id_for_the_cli(wh, store):
    incident, _ = open_incident(wh, store)
    other, _ = open_incident(wh, store, fingerprint="item:other")
    assert set(store.by_ids([incident.id, other.id, 999])) == {incident.id, other.id}
    assert store.alert(incident.alert_id)["title"] == "敏感信息 L3"
    with pytest.raises(IncidentError, match="no alert 999"):
        store.alert(999)


def test_unknown_incident_is_an_error(store):
    with pytest.raises(IncidentError, match="no incident 99"):
        store.get(99)


def test_escalation_is_queued_once_per_timer(wh, store):
    incident, _ = open_incident(wh, store)
    later = NOW + timedelta(minutes=20)
    assert store.escalate(incident.id, "ack", later, [("log", {"title": "超时"})], {"x": 1})
    assert not store.escalate(incident.id, "ack", later, [("log", {"title": "超时"})], {})
    assert store.get(incident.id).escalated == ("ack",)
    pending = [m for m in wh.pending_notifications(later) if "breach" in m.idempotency_key]
    assert [m.idempotency_key for m in pending] == [f"incident:{incident.id}:breach-ack@log"]


def test_reminders_respect_the_interval_under_the_lock(wh, store):
    incident, _ = open_incident(wh, store)
    every = timedelta(minutes=30)
    assert not store.renotify(incident.id, NOW + timedelta(minutes=29), every, [("log", {})], {})
    assert store.renotify(incident.id, NOW + timedelta(minutes=30), every, [("log", {})], {})
    # A second caller (the watchdog next to the monitor) in the same minute sends nothing.
    assert not store.renotify(incident.id, NOW + timedelta(minutes=31), every, [("log", {})], {})
    assert store.renotify(incident.id, NOW + timedelta(minutes=60), every, [("log", {})], {})
    state = store.get(incident.id)
    assert state.repeats == 2 and state.last_notified_at == NOW + timedelta(minutes=60)
    store.acknowledge(incident.id, "张三", NOW + timedelta(minutes=61))
    assert not store.renotify(incident.id, NOW + timedelta(hours=5), every, [("log", {})], {})


def test_statements_set_first_statement_then_progress(wh, store):
    incident, _ = open_incident(wh, store)
    first = store.record_statement(incident.id, NOW + timedelta(hours=2), "system")
    assert first.official_statement_at == NOW + timedelta(hours=2)
    event = store.events(incident.id)[-1]
    assert event.action == "official_statement" and event.detail["minutes_after_detection"] == 120
    progress = store.record_statement(incident.id, NOW + timedelta(hours=20), "李四",
                                      url="https://weibo.com/qcga/2")
    assert progress.progress_at == NOW + timedelta(hours=20)
    assert store.record_statement(incident.id, NOW + timedelta(hours=30), "x") is None


def test_silences_expire(store):
    made = store.add_silence("spike:", NOW + timedelta(hours=2), "张三", NOW, "演练")
    assert made.id is not None and made.created_by == "张三"
    assert [s.match for s in store.silences(NOW + timedelta(hours=1))] == ["spike:"]
    assert store.silences(NOW + timedelta(hours=2)) == []
    with pytest.raises(IncidentError, match="already"):
        store.add_silence("x", NOW - timedelta(minutes=1), "张三", NOW)
    with pytest.raises(IncidentError, match="every alert"):
        store.add_silence(" ", NOW + timedelta(hours=1), "张三", NOW)


def _store_posts(wh: Warehouse, source_id: str, fetched: datetime, n: int) -> None:
    posts = []
    for i in range(n):
        raw = RawPost(source_id=source_id, external_id=f"{fetched.isoformat()}-{i}", url=None,
                      title="t", body="", author=None, published_at=fetched, fetched_at=fetched)
        posts.append(ScoredPost(raw=raw, text=f"t{i}", content_hash=f"{fetched}{i}",
                                keywords=("通报",), police_related=True,
                                police_terms=("民警",), sentiment=0.5, polarity="neutral",
                                topics=(), rule_hits=(), high_risk=False))
    run = wh.start_run(fetched)
    wh.store_fetch(run, FetchResult(source_id=source_id, status=FETCH_OK, cursor=SourceCursor(),
                                    posts=tuple(p.raw for p in posts)), posts, fetched)
    wh.finish_run(run, fetched, alerts_new=0, notifications_sent=0, errors=[])


def test_source_yields_count_the_same_window_on_past_days(wh, store):
    wh.sync_sources([SourceConfig(id="news", name="新闻", kind="feed", url="http://x/n"),
                     SourceConfig(id="police", name="青川公安", kind="feed", url="http://x/p",
                                  tags=("official",), jurisdiction="qingchuan")])
    for day in (1, 2, 3):
        _store_posts(wh, "news", NOW - timedelta(days=day, hours=1), 2)
    _store_posts(wh, "news", NOW - timedelta(days=4, hours=5), 1)     # outside the window
    _store_posts(wh, "police", NOW - timedelta(minutes=30), 1)
    yields = {y.id: y for y in store.source_yields(NOW, timedelta(hours=3))}
    assert (yields["news"].new_in_window, yields["news"].usual_days) == (0, 3)
    assert (yields["police"].new_in_window, yields["police"].usual_days) == (1, 0)
    last_success, first_run = store.ledger()
    assert last_success == NOW - timedelta(minutes=30)
    assert first_run == NOW - timedelta(days=4, hours=5)
    official = store.official_posts_since(NOW - timedelta(hours=1))
    assert [p.source_id for p in official] == ["police"]
    assert official[0].official and official[0].keywords == ("通报",)
