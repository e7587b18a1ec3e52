"""Alerts open and update incidents: routed notifications, silences, official statements,
timers escalating to the 带班领导, reminders and resolved notices, on a real warehouse."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts.incidents import actions
from alerts.incidents.handling import (
    Desk,
    raise_and_track,
    resolve_incident,
    speaks_to,
    story_terms,
    subject_of,
    tend_incidents,
    track_owners,
)
from alerts.detection.records import Alert, Evidence
from alerts.incidents.roster import load_roster
from alerts.incidents.routing import load_routing, parse_routing
from alerts.settings import parse_alert_settings
from collectors.records import FETCH_OK, FetchResult, RawPost, SourceConfig, SourceCursor
from transforms.records import ScoredPost
from warehouse.incidents import IncidentStore
from warehouse.store import Warehouse

CONFIG = Path(__file__).resolve().parents[2] / "config"
STATION = "qingchuan.linjiang.linjiang_pcs"
SETTINGS = parse_alert_settings({"channels": [{"name": "log", "kind": "jsonl",
                                               "path": "unused.jsonl"}]}, "alerts.yaml")


def desk(**routing) -> Desk:
    parsed = parse_routing(routing, "routing.yaml") if routing else load_routing(CONFIG, ["log"])
    return Desk(settings=SETTINGS, routing=parsed, roster=load_roster(CONFIG))


# ---- pure parts ---------------------------------------------------------------------------

def test_speaks_to_matches_terms_place_or_text(make_post, now):
    from warehouse.records import IncidentState

    incident = IncidentState(
        id=1, alert_id=1, fingerprint="item:x", kind="sensitive_item", level=3, title="t",
        jurisdiction="qingchuan.linjiang", topics=(), terms=("辅警", "摊贩", "夜市"),
        content_hashes=("story-hash",), sensitive=True, status="new", opened_at=now,
        updated_at=now, acknowledged_at=None, acknowledged_by=None, resolved_at=None,
        resolved_by=None, closed_at=None, closed_by=None, official_post_id=None,
        official_statement_at=None, progress_at=None, escalated=(), last_notified_at=None,
        repeats=0)
    statement = make_post(official=True, jurisdiction=STATION, keywords=("摊贩", "通报"),
                          police_terms=("辅警",))
    assert speaks_to(statement, incident)                         # 2 shared, station in county
    assert not speaks_to(make_post(official=False, jurisdiction=STATION,
                                   keywords=("摊贩", "辅警")), incident)
    assert not speaks_to(make_post(official=True, jurisdiction=STATION, keywords=("摊贩",)),
                         incident)                                # only one shared term
    assert not speaks_to(make_post(official=True, jurisdiction="qingchuan.beihu",
                                   keywords=("摊贩", "辅警")), incident)   # another county
    assert speaks_to(make_post(official=True, jurisdiction="qingchuan",
                               keywords=("摊贩", "夜市")), incident)      # the city account
    assert speaks_to(make_post(official=True, jurisdiction="qingchuan.beihu",
                               content_hash="story-hash"), incident)    # the same text
    assert not speaks_to(make_post(official=True, police_related=False, jurisdiction=STATION,
                                   keywords=("摊贩", "辅警")), incident)


def test_subject_and_terms_come_from_the_evidence(make_post, now):
    posts = {p.id: p for p in [
        make_post(id=1, topics=("police.assault",), keywords=("民警", "袭击"),
                  police_terms=("民警",)),
        make_post(id=2, topics=("police",), high_risk=False, keywords=("袭击", "视频"))]}
    alert = Alert(fingerprint="f", kind="spike", level=4, title="t", reason="r",
                  evidence=tuple(Evidence(i, None, "t", "s", None) for i in (1, 2, 404)),
                  jurisdiction=STATION, detected_at=now)
    subject = subject_of(alert, posts)
    assert subject.topics == ("police.assault", "police") and subject.high_risk
    assert story_terms(alert, posts)[0] == "袭击"        # shared by both evidence posts
    assert set(story_terms(alert, posts)) == {"民警", "袭击", "视频"}


def test_track_owners_are_the_nearest_units():
    owners = track_owners(load_roster(CONFIG), STATION)
    assert owners == {"legal": "临江派出所", "opinion": "临江分局政工室",
                      "control": "临江分局指挥室"}
    assert track_owners(load_roster(CONFIG), None)["legal"] == "青川市公安局法制支队"


# ---- against the warehouse ----------------------------------------------------------------

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)       # Thursday 15:30 Shanghai


@pytest.fixture
def wh(sqlite_url):
    warehouse = Warehouse(sqlite_url)
    warehouse.sync_sources([
        SourceConfig(id="weibo", name="微博", kind="feed", url="http://x/w", jurisdiction=STATION),
        SourceConfig(id="qcga", name="青川公安", kind="feed", url="http://x/p",
                     tags=("official",), jurisdiction="qingchuan")])
    yield warehouse
    warehouse.close()


def store_posts(wh: Warehouse, source_id: str, at: datetime, texts: list[str], *,
                high_risk: bool = False, keywords=("辅警", "摊贩", "夜市"), tag: str = "p",
                polarity: str = "negative") -> None:
    posts = []
    for i, text in enumerate(texts):
        raw = RawPost(source_id=source_id, external_id=f"{tag}{i}", url=f"https://x/{tag}{i}",
                      title=text, body="", author=None, published_at=at, fetched_at=at)
        posts.append(ScoredPost(raw=raw, text=text, content_hash=f"{tag}{i}", keywords=keywords,
                                police_related=True, police_terms=("辅警",), sentiment=0.1,
                                polarity=polarity, police_stance=polarity,
                                topics=("police.enforcement_dispute",),
                                rule_hits=(), high_risk=high_risk and i == 0))
    run = wh.start_run(at)
    wh.store_fetch(run, FetchResult(source_id=source_id, status=FETCH_OK, cursor=SourceCursor(),
                                    posts=tuple(p.raw for p in posts)), posts, at)


def outbox(wh: Warehouse) -> list:
    return wh.pending_notifications(NOW + timedelta(days=30), limit=10_000)


def test_alert_opens_incident_routed_to_people_on_duty(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW)
    assert (recorded.alert_outcome, recorded.incident_outcome) == ("new", "opened")
    [message] = outbox(wh)
    names = {r["name"] for r in message.payload["recipients"]}
    # 三方互通 for a high-risk item: publicity, command, cyber, legal, inspection + the station.
    assert {"马林", "李四", "陈静", "刘洋", "孙丽", "周强", "林晓", "高峰"} <= names
    assert f"jingyu alerts ack {recorded.alert_id}" in message.payload["text"]
    incident = IncidentStore(wh).get(recorded.alert_id)
    assert incident.sensitive and incident.jurisdiction == STATION
    assert {t.track: t.unit for t in incident.tracks}["legal"] == "临江派出所"
    # The next cycle finds the same story: the same incident, no second notification.
    [again] = raise_and_track(wh, desk(), NOW + timedelta(minutes=5))
    assert (again.alert_outcome, again.incident_outcome) == ("unchanged", "unchanged")
    assert len(outbox(wh)) == 1


def test_silenced_alerts_are_recorded_but_not_notified(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    actions.silence(IncidentStore(wh), "item:", NOW + timedelta(hours=1), "张三", NOW, "演练")
    [recorded] = raise_and_track(wh, desk(), NOW)
    assert recorded.silenced and recorded.incident_outcome == "opened"
    assert outbox(wh) == []
    opened = IncidentStore(wh).events(recorded.alert_id)[0]
    assert opened.detail["silenced_by"] == "item:"
    # Timers of a silenced incident are recorded, not sent; reminders wait.
    report = tend_incidents(wh, desk(), NOW + timedelta(minutes=40))
    assert report == {"escalated": 1, "reminded": 0, "out_of_sync": 0}
    assert outbox(wh) == []


def test_yaml_silence_expires(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    until = (NOW - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=8)))
    expired = desk(silences=[{"match": "item:", "until": until.strftime("%Y-%m-%d %H:%M")}])
    [recorded] = raise_and_track(wh, expired, NOW)
    assert not recorded.silenced and len(outbox(wh)) == 1


def test_official_statement_in_the_story_is_recorded_with_its_delay(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW)
    # An unrelated official post, then the 警情通报 sharing the story's terms.
    store_posts(wh, "qcga", NOW + timedelta(minutes=30), ["反诈宣传进社区"], tag="o",
                keywords=("反诈", "社区"), polarity="neutral")
    store_posts(wh, "qcga", NOW + timedelta(hours=2), ["关于滨河路夜市辅警执法的情况通报"],
                tag="s", polarity="neutral")
    raise_and_track(wh, desk(), NOW + timedelta(hours=2, minutes=5))
    store = IncidentStore(wh)
    incident = store.get(recorded.alert_id)
    assert incident.official_statement_at == NOW + timedelta(hours=2)
    event = next(e for e in store.events(incident.id) if e.action == "official_statement")
    assert event.detail["minutes_after_detection"] == 120     # first detected at NOW
    assert event.detail["url"] == "https://x/s0"
    # The public timer is met: at 4 h only acknowledgement is late, not the statement.
    tend_incidents(wh, desk(), NOW + timedelta(hours=5))
    escalated = store.get(incident.id).escalated
    assert "ack" in escalated and "statement" not in escalated
    # A later, different statement is the progress report.
    store_posts(wh, "qcga", NOW + timedelta(hours=10), ["辅警执法情况进展通报 夜市摊贩"],
                tag="p2", polarity="neutral")
    raise_and_track(wh, desk(), NOW + timedelta(hours=10, minutes=5))
    assert store.get(incident.id).progress_at == NOW + timedelta(hours=10)


def test_breaches_escalate_to_the_leader_once_and_reminders_repeat(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW)
    assert tend_incidents(wh, desk(), NOW + timedelta(minutes=5)) == {
        "escalated": 0, "reminded": 0, "out_of_sync": 0}
    report = tend_incidents(wh, desk(), NOW + timedelta(minutes=31))
    assert report == {"escalated": 1, "reminded": 1, "out_of_sync": 0}
    assert tend_incidents(wh, desk(), NOW + timedelta(minutes=35))["escalated"] == 0
    notices = {m.payload["notice"]: m for m in outbox(wh) if "notice" in m.payload}
    leaders = [r["name"] for r in notices["escalation"].payload["recipients"]]
    assert leaders == ["郑华"]                      # 临江分局's 带班领导 on duty
    assert "签收超时" in notices["escalation"].payload["text"]
    assert "第 1 次提醒" in notices["reminder"].payload["text"]
    actions.acknowledge(IncidentStore(wh), recorded.alert_id, "李四", NOW + timedelta(minutes=40))
    assert tend_incidents(wh, desk(), NOW + timedelta(hours=2))["reminded"] == 0


def test_tracks_out_of_sync_escalate_once(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW)
    store = IncidentStore(wh)
    actions.track(store, recorded.alert_id, "opinion", "start", "陈静", NOW + timedelta(minutes=2))
    assert tend_incidents(wh, desk(), NOW + timedelta(minutes=50))["out_of_sync"] == 0
    report = tend_incidents(wh, desk(), NOW + timedelta(minutes=63))
    assert report["out_of_sync"] == 1
    sync = [e for e in store.events(recorded.alert_id) if e.detail.get("timer") == "sync"]
    assert len(sync) == 1 and sync[0].detail["lagging"] == ["legal", "control"]
    tend_incidents(wh, desk(), NOW + timedelta(minutes=90))
    assert len([e for e in store.events(recorded.alert_id)
                if e.detail.get("timer") == "sync"]) == 1


def test_rising_level_updates_the_same_incident(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [first] = raise_and_track(wh, desk(), NOW)
    bigger = parse_alert_settings({"sensitive_item": {"level": 2},
                                   "channels": [{"name": "log", "kind": "jsonl",
                                                 "path": "x.jsonl"}]}, "alerts.yaml")
    [again] = raise_and_track(wh, Desk(bigger, desk().routing, desk().roster),
                              NOW + timedelta(minutes=10))
    assert again.alert_id == first.alert_id
    assert (again.alert_outcome, again.incident_outcome) == ("escalated", "raised")
    store = IncidentStore(wh)
    assert len(store.incidents()) == 1 and store.get(first.alert_id).level == 2
    assert len(outbox(wh)) == 2          # the first alert, then the raised level


def test_resolving_tells_those_it_was_routed_to(wh):
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW)
    resolved = resolve_incident(wh, desk(), recorded.alert_id, "王五", NOW + timedelta(hours=1),
                                "已发布通报，当事辅警停职")
    assert resolved.status == "resolved"
    [notice] = [m for m in outbox(wh) if m.payload.get("notice") == "resolved"]
    assert "王五" in notice.payload["text"] and "停职" in notice.payload["text"]
    assert notice.payload["recipients"]
    quiet = desk(timers={"notify_resolved": False})
    # Another happening (other words): its own incident.
    store_posts(wh, "weibo", NOW, ["另一条"], high_risk=True, tag="q",
                keywords=("仓库", "火灾", "消防"))
    second = [r for r in raise_and_track(wh, quiet, NOW + timedelta(minutes=1))
              if r.alert_id != recorded.alert_id and r.alert_outcome == "new"]
    before = len(outbox(wh))
    resolve_incident(wh, quiet, second[0].alert_id, "王五", NOW + timedelta(hours=1))
    assert len(outbox(wh)) == before


def test_one_event_is_one_incident_notified_once(wh):
    """Two sensitive posts about one happening, told differently (two stories, one event):
    one incident, paged once; the second is evidence in the audit trail, not a page."""
    store_posts(wh, "weibo", NOW - timedelta(minutes=20), ["辅警推倒摊贩"], high_risk=True)
    first = raise_and_track(wh, desk(), NOW - timedelta(minutes=15))
    pages = len(outbox(wh))
    assert pages and [r.incident_outcome for r in first] == ["opened"]
    store_posts(wh, "weibo", NOW - timedelta(minutes=5), ["夜市摊贩被辅警打了，太过分"],
                high_risk=True, tag="b")
    second = raise_and_track(wh, desk(), NOW)
    new = [r for r in second if r.alert_outcome == "new"]
    assert len(new) == 1 and new[0].alert_id != first[0].alert_id
    store = IncidentStore(wh)
    [incident] = store.incidents()
    assert incident.id == first[0].alert_id and incident.event_id is not None
    assert len(outbox(wh)) == pages                        # no second page
    assert [e.action for e in store.events(incident.id)] == ["opened", "alert_joined"]
    assert [a["id"] for a in store.alerts_of(incident.id)] == [first[0].alert_id,
                                                              new[0].alert_id]
    # Another happening (other words) is another incident, paged on its own.
    store_posts(wh, "weibo", NOW, ["仓库起火"], high_risk=True, tag="c",
                keywords=("仓库", "火灾", "消防"))
    raise_and_track(wh, desk(), NOW + timedelta(minutes=1))
    assert len(store.incidents()) == 2 and len(outbox(wh)) > pages


def test_statement_before_detection_is_matched_with_a_negative_delay(wh):
    """The police spoke first: the statement in the event is recorded (delay -30 min) and
    the 4-hour statement timer never escalates."""
    store_posts(wh, "qcga", NOW - timedelta(minutes=40), ["关于夜市辅警与摊贩纠纷的通报"],
                tag="s", polarity="neutral")
    store_posts(wh, "weibo", NOW - timedelta(minutes=20), ["辅警推倒摊贩"], high_risk=True)
    [recorded] = raise_and_track(wh, desk(), NOW - timedelta(minutes=10))
    store = IncidentStore(wh)
    incident = store.get(recorded.alert_id)
    assert incident.official_statement_at == NOW - timedelta(minutes=40)
    event = next(e for e in store.events(incident.id) if e.action == "official_statement")
    assert event.detail["minutes_after_detection"] == -30
    tend_incidents(wh, desk(), NOW + timedelta(hours=5))
    assert "statement" not in store.get(incident.id).escalated


def test_merge_keeps_the_earlier_number_and_split_makes_a_new_one(wh):
    from alerts.incidents import actions
    from alerts.incidents.incident import IncidentError
    from warehouse.events import EventStore

    store_posts(wh, "weibo", NOW - timedelta(minutes=20), ["辅警推倒摊贩"], high_risk=True)
    store_posts(wh, "weibo", NOW - timedelta(minutes=10), ["仓库起火"], high_risk=True,
                tag="c", keywords=("仓库", "火灾", "消防"))
    first, second = sorted(r.alert_id for r in raise_and_track(wh, desk(), NOW))
    store = IncidentStore(wh)
    pages = len(outbox(wh))
    with pytest.raises(IncidentError, match="itself"):
        actions.merge(store, first, first, "王五", NOW)
    kept = actions.merge(store, second, first, "王五", NOW, note="同一事件")
    assert kept.id == first and kept.merged_into is None
    gone = store.get(second)
    assert gone.merged_into == first and gone.status == "closed"
    assert [e.action for e in store.events(first)][-1] == "merged_in"
    assert store.events(second)[-1].detail == {"into": first, "note": "同一事件"}
    assert {a["id"] for a in store.alerts_of(first)} == {first, second}
    with pytest.raises(IncidentError, match="already merged"):
        actions.merge(store, first, second, "王五", NOW)
    # One event now holds both posts; a later alert of the second goes to the kept number.
    posts = wh.posts_since(NOW - timedelta(hours=1), NOW)
    assert len({p.event_id for p in posts}) == 1
    assert len(outbox(wh)) == pages

    # Split the fire back off: a new incident with a new number and an event of its own.
    fire = next(p.id for p in posts if p.text == "仓库起火")
    new = actions.split(store, first, [fire], "王五", NOW + timedelta(minutes=5), note="不是一回事")
    assert new.id not in (first, second) and new.status == "new"
    assert new.event_id is not None and new.event_id != store.get(first).event_id
    assert EventStore(wh).events_of_posts([fire]) == {fire: new.event_id}
    assert [e.action for e in store.events(new.id)] == ["split_from"]
    assert store.events(first)[-1].detail["into"] == new.id
    with pytest.raises(Exception, match="not in the event"):
        actions.split(store, first, [fire], "王五", NOW)


def test_a_surge_follows_the_event_that_carries_most_of_its_posts(wh):
    """A city-wide surge first about one happening, then mostly about another that has its
    own incident: the surge's alert goes to that incident, not the one it first opened."""
    from alerts.incidents.handling import event_of, record_with_incident

    store_posts(wh, "weibo", NOW - timedelta(minutes=30), ["夜市辅警推人", "夜市摊贩被打"],
                tag="m")
    store_posts(wh, "weibo", NOW - timedelta(minutes=10), ["仓库起火", "仓库浓烟"],
                high_risk=True, tag="f", keywords=("仓库", "火灾", "消防"))
    posts = {p.id: p for p in wh.posts_since(NOW - timedelta(hours=1), NOW)}
    market = [p.id for p in posts.values() if "夜市" in p.text]
    fire = [p.id for p in posts.values() if "仓库" in p.text]
    assert {posts[i].event_id for i in market}.isdisjoint({posts[i].event_id for i in fire})
    store = IncidentStore(wh)

    def surge(evidence: list[int], at: datetime):
        alert = Alert(fingerprint="spike:qingchuan", kind="spike", level=3, title="激增",
                      reason="r", evidence=tuple(Evidence(i, None, "t", "s", None)
                                                 for i in evidence),
                      jurisdiction="qingchuan", detected_at=at)
        recorded = record_with_incident(store, desk(), alert, posts, (), at, None,
                                        event_of(alert, posts))
        return store.get(recorded.alert_id)

    first = surge(market, NOW - timedelta(minutes=20))
    assert first.event_id == posts[market[0]].event_id
    # The fire's sensitive item opens its own incident.
    [fire_item] = [r for r in raise_and_track(wh, desk(), NOW - timedelta(minutes=5))
                   if r.alert_outcome == "new"]
    by_alert = {a["id"]: a["incident_id"] for a in wh.alerts(limit=50)}
    assert by_alert[fire_item.alert_id] != first.id
    # Now the surge's posts are mostly the fire's: its alert moves to the fire's incident.
    surge(fire + market[:1], NOW)
    by_alert = {a["id"]: a["incident_id"] for a in wh.alerts(limit=50)}
    assert by_alert[first.alert_id] == by_alert[fire_item.alert_id]
    assert first.alert_id in [a["id"] for a in store.alerts_of(by_alert[fire_item.alert_id])]


def test_incidents_follow_their_events_when_the_grouping_merges_them(wh):
    """Two sensitive posts first grouped apart (two events, two incidents); the grouping then
    finds they are one happening and merges the events: the next cycle makes the incidents
    one — the earlier number carries on, the other points to it, in the audit trail."""
    from sqlalchemy.orm import Session

    from warehouse.events import EventStore, merge_events
    from warehouse.models import EventRow

    store_posts(wh, "weibo", NOW - timedelta(minutes=20), ["辅警推倒摊贩"], high_risk=True)
    store_posts(wh, "weibo", NOW - timedelta(minutes=15), ["严查打人辅警"], high_risk=True,
                tag="b", keywords=("打人", "严查", "执法权"))
    raise_and_track(wh, desk(), NOW - timedelta(minutes=10))
    store = IncidentStore(wh)
    first, second = sorted(store.incidents(), key=lambda i: i.id)
    assert first.event_id != second.event_id
    with Session(wh.engine) as session, session.begin():
        merge_events(session, second.event_id, first.event_id)   # the later event keeps
        assert session.get(EventRow, first.event_id).merged_into == second.event_id
    raise_and_track(wh, desk(), NOW)
    kept, gone = store.get(first.id), store.get(second.id)
    assert kept.merged_into is None and gone.merged_into == first.id
    assert gone.status == "closed" and kept.status == "new"
    assert EventStore(wh).live_event(kept.event_id) == second.event_id
    assert [i.id for i in store.incidents(statuses=("new",))] == [first.id]
    merged_in = [e for e in store.events(first.id) if e.action == "merged_in"]
    assert len(merged_in) == 1 and merged_in[0].detail["from"] == second.id
    assert merged_in[0].actor == "system"
    # Nothing more to merge: a further cycle changes nothing.
    raise_and_track(wh, desk(), NOW + timedelta(minutes=1))
    assert len([e for e in store.events(first.id) if e.action == "merged_in"]) == 1
