"""Incidents in the warehouse (SQLite and PostgreSQL): migration 0002, each domain Change
stored whole in one transaction (alert, incident, tracks, events, outbox), one officer at a
time per incident — also across processes — and what the watchdog reads."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from alerts.detection.records import Alert
from alerts.incidents import actions
from alerts.incidents import incident as domain
from alerts.incidents.incident import IncidentError, IncidentOpening, take_alert
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.db import current_revision, head_revision
from warehouse.incidents import IncidentStore, NoSuchIncident
from warehouse.store import Warehouse

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


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
            terms: tuple[str, ...] = ("辅警", "摊贩")) -> IncidentOpening:
    return IncidentOpening(fingerprint=fingerprint, kind="sensitive_item", level=level,
                           title=f"敏感信息 L{level}", jurisdiction="qingchuan",
                           topics=("police.enforcement_dispute",), terms=terms,
                           content_hashes=("h1",), sensitive=level <= 2, detected_at=at,
                           track_units={"opinion": "宣传处"}, notified=True,
                           detail={"recipients": ["张三"]})


def record(store: IncidentStore, level: int = 3, at: datetime = NOW,
           fingerprint: str = "item:abc", terms: tuple[str, ...] = ("辅警", "摊贩")):
    """What alerts.incidents.handling does each cycle: the alert with its notification and
    its incident, in one transaction."""
    _, incident, change = store.record(
        alert(level, fingerprint, at), lambda *_: [("log", {"t": 1})],
        lambda stored, first, current: take_alert(current, stored.alert_id,
                                                  opening(level, fingerprint, at, terms), first,
                                                  alert_rose=stored.outcome != "unchanged"))
    return incident, change.outcome


def test_migration_creates_the_incident_tables(wh):
    assert current_revision(wh.engine) == head_revision()
    tables = set(inspect(wh.engine).get_table_names())
    assert {"incidents", "incident_tracks", "incident_events", "silences"} <= tables


def test_an_alert_opens_one_incident_with_its_tracks_event_and_outbox(wh, store):
    incident, outcome = record(store)
    assert outcome == "opened" and incident.status == "new"
    assert incident.id == incident.alert_id              # the number in the notification
    assert [t.track for t in incident.tracks] == ["legal", "opinion", "control"]
    assert {t.track: t.unit for t in incident.tracks}["opinion"] == "宣传处"
    assert incident.opened_at == NOW and incident.last_notified_at == NOW
    assert [m.alert_id for m in wh.pending_notifications(NOW)] == [incident.alert_id]
    again, outcome = record(store, at=NOW + timedelta(minutes=5), terms=("阿姨",))
    assert outcome == "unchanged" and again.id == incident.id
    assert again.terms == ("辅警", "摊贩", "阿姨")
    assert len(store.incidents()) == 1
    assert [e.action for e in store.events(incident.id)] == ["opened"]
    assert store.get(incident.id) == again               # what was stored reads back the same


def test_a_refused_incident_change_stores_neither_alert_nor_notifications(wh, store):
    def refuse(stored, first, current):
        raise IncidentError("refused half-way")

    with pytest.raises(IncidentError):
        store.record(alert(), lambda *_: [("log", {"t": 1})], refuse)
    with wh.engine.connect() as connection:
        counts = [connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in ("alerts", "outbox", "incidents", "incident_events")]
    assert counts == [0, 0, 0, 0]


def test_a_rising_alert_raises_and_reopens_the_stored_incident(wh, store):
    incident, _ = record(store, level=3)
    closed = actions.close(store, incident.id, "张三", NOW + timedelta(minutes=10), "误报")
    assert closed.status == "closed"
    raised, outcome = record(store, level=2, at=NOW + timedelta(hours=1))
    assert outcome == "raised" and raised.id == incident.id
    assert raised.level == 2 and raised.sensitive and raised.status == "new"
    assert raised.closed_at is None and raised.opened_at == NOW
    trail = [e.action for e in store.events(incident.id)]
    assert trail == ["opened", "closed", "level_raised", "reopened"]
    assert store.events(incident.id)[2].detail["from"] == 3


def test_actions_are_stored_with_who_when_and_their_notices(wh, store):
    incident, _ = record(store)
    t = NOW + timedelta(minutes=3)
    acked = actions.acknowledge(store, incident.id, "张三", t, "已签收，通知属地", via="console")
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == ("acknowledged",
                                                                            "张三", t)
    with pytest.raises(IncidentError, match="acknowledged by 张三"):
        actions.acknowledge(store, incident.id, "李四", t)
    handling = actions.track(store, incident.id, "opinion", "start", "李四",
                             t + timedelta(minutes=1), unit="宣传科", note="起草警情通报")
    assert handling.status == "handling" and store.get(incident.id) == handling
    assert handling.tracks[1].notes[0]["note"] == "起草警情通报"
    done = actions.track(store, incident.id, "opinion", "done", "李四", t + timedelta(hours=1))
    assert done.tracks[1].done_at == t + timedelta(hours=1)
    leveled = actions.change_level(store, incident.id, 2, "王五", t + timedelta(hours=1),
                                   "已上热搜")
    assert leveled.level == 2
    statement = actions.record_statement(store, incident.id, t + timedelta(hours=1, minutes=5),
                                         "李四", url="https://weibo.com/qcga/1")
    assert statement is not None and statement.official_statement_at is not None
    resolved = store.apply(incident.id, lambda i: domain.resolve(
        i, "王五", t + timedelta(hours=2), "已发布通报", [("log", {"title": "已处置"})]))
    assert resolved is not None and resolved.status == "resolved"
    closed = actions.close(store, incident.id, "王五", t + timedelta(hours=3))
    assert closed.status == "closed"
    trail = [(e.actor, e.action) for e in store.events(incident.id)]
    assert trail == [("system", "opened"), ("张三", "acknowledged"), ("李四", "track_start"),
                     ("李四", "track_done"), ("王五", "level_raised"),
                     ("李四", "official_statement"), ("王五", "resolved"), ("王五", "closed")]
    assert store.events(incident.id)[1].detail == {"note": "已签收，通知属地", "via": "console"}
    keys = [o["key"] for o in store.outbox(incident.id)]
    assert f"incident:{incident.id}:resolved-20261126093300@log" in keys


def test_lookups_by_id_and_unknown_ids(wh, store):
    incident, _ = record(store)
    other, _ = record(store, fingerprint="item:other")
    assert set(store.by_ids([incident.id, other.id, 999])) == {incident.id, other.id}
    assert store.alert(incident.alert_id)["title"] == "敏感信息 L3"
    with pytest.raises(NoSuchIncident, match="no alert 999"):
        store.alert(999)
    with pytest.raises(NoSuchIncident, match="no incident 99"):
        store.get(99)
    with pytest.raises(NoSuchIncident, match="no incident 99"):
        actions.acknowledge(store, 99, "张三", NOW)


def test_timer_changes_queue_their_notices_once(wh, store):
    incident, _ = record(store)
    later = NOW + timedelta(minutes=20)

    def escalate(current):
        return domain.escalate(current, "ack", later, [("log", {"title": "超时"})], {"x": 1})

    assert store.apply(incident.id, escalate) is not None
    assert store.apply(incident.id, escalate) is None     # decided against the stored state
    assert store.get(incident.id).escalated == ("ack",)
    pending = [m for m in wh.pending_notifications(later) if "breach" in m.idempotency_key]
    assert [m.idempotency_key for m in pending] == [f"incident:{incident.id}:breach-ack@log"]


def test_silences_are_stored_and_expire(store):
    made = actions.silence(store, "spike:", NOW + timedelta(hours=2), "张三", NOW, "演练")
    assert made.id is not None and made.created_by == "张三"
    assert [s.match for s in store.silences(NOW + timedelta(hours=1))] == ["spike:"]
    assert store.silences(NOW + timedelta(hours=2)) == []
    with pytest.raises(IncidentError, match="every alert"):
        actions.silence(store, " ", NOW + timedelta(hours=1), "张三", NOW)


SLOW_ACK = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timezone
    from alerts.incidents import incident as domain
    from warehouse.incidents import IncidentStore
    from warehouse.store import Warehouse

    url, incident_id, who, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    now = datetime(2026, 11, 26, 7, 40, tzinfo=timezone.utc)

    def slow(current):
        change = domain.acknowledge(current, who, now)   # decided on what this process read
        print("deciding", flush=True)
        time.sleep(hold)
        return change

    try:
        IncidentStore(Warehouse(url, migrate=False)).apply(incident_id, slow)
        print("acknowledged", flush=True)
    except domain.IncidentError as exc:
        print("refused:", exc, flush=True)
""")


def test_two_officers_acknowledging_at_once_in_two_processes_one_wins(wh, store):
    incident, _ = record(store)

    def officer(who: str, hold: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", SLOW_ACK, wh.url, str(incident.id), who,
                                 str(hold)], cwd=ROOT, stdout=subprocess.PIPE, text=True)

    first = officer("张三", 1.5)
    assert first.stdout is not None and first.stdout.readline().strip() == "deciding"
    # 张三's process holds the incident while it decides; 李四's reads it only afterwards.
    second = officer("李四", 0.0)
    out_first, _ = first.communicate(timeout=60)
    out_second, _ = second.communicate(timeout=60)
    assert out_first.strip() == "acknowledged"
    assert "refused:" in out_second and "acknowledged by 张三" in out_second
    assert [e.actor for e in store.events(incident.id) if e.action == "acknowledged"] == ["张三"]


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
