"""alerts.incidents.incident without a database: statuses, transitions, their events and notices."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from alerts.incidents import incident as domain
from alerts.incidents.incident import (
    IncidentError,
    IncidentOpening,
    Status,
    Track,
    take_alert,
)
from alerts.incidents.timers import OPEN_STATUSES, STATUS_NAMES, TRACKS, TimerSettings, breaches

NOW = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)


def opening(level: int = 3, at: datetime = NOW, terms: tuple[str, ...] = ("辅警", "摊贩"),
            notified: bool = True) -> IncidentOpening:
    return IncidentOpening(fingerprint="item:abc", kind="sensitive_item", level=level,
                           title=f"敏感信息 L{level}", jurisdiction="qingchuan",
                           topics=("police.enforcement_dispute",), terms=terms,
                           content_hashes=("h1",), sensitive=level <= 2, detected_at=at,
                           track_units={"opinion": "宣传处"}, notified=notified,
                           detail={"recipients": ["张三"]})


def opened(level: int = 3):
    return take_alert(None, 7, opening(level), NOW, alert_rose=True).incident


def test_statuses_and_tracks_are_enums_with_their_chinese_names():
    assert [s.value for s in Status] == ["new", "acknowledged", "handling", "resolved", "closed"]
    assert [s for s in Status if s.is_open] == [Status.NEW, Status.ACKNOWLEDGED, Status.HANDLING]
    assert Status("new").label == "待签收" and Status.CLOSED.label == "已关闭"
    assert [t.label for t in Track] == ["依法处理", "舆论引导", "社会面管控"]
    # The names the reports and the CLI import are the enums' own.
    assert OPEN_STATUSES == ("new", "acknowledged", "handling")
    assert STATUS_NAMES["handling"] == "处置中"
    assert TRACKS["opinion"] == ("舆论引导", ("publicity",))


def test_an_alert_opens_an_incident_with_three_tracks_and_an_event():
    change = take_alert(None, 7, opening(), NOW - timedelta(minutes=4), alert_rose=True)
    incident = change.incident
    assert change.outcome == "opened" and incident.status == Status.NEW
    assert incident.id == incident.alert_id == 7             # the number in the notification
    assert incident.opened_at == NOW - timedelta(minutes=4)  # the alert's first detection
    assert [t.track for t in incident.tracks] == ["legal", "opinion", "control"]
    assert {t.track: t.unit for t in incident.tracks}["opinion"] == "宣传处"
    assert incident.last_notified_at == NOW
    [event] = change.events
    assert (event.action, event.actor, event.at) == ("opened", "system", NOW)
    assert event.detail == {"level": 3, "recipients": ["张三"]}
    assert change.notices == ()


def test_the_same_alert_again_merges_terms_without_an_event():
    incident = opened()
    again = take_alert(incident, 7, opening(terms=("阿姨", "辅警"), at=NOW + timedelta(minutes=5)),
                       NOW, alert_rose=False)
    assert again.outcome == "unchanged" and again.events == ()
    assert again.incident.terms == ("辅警", "摊贩", "阿姨")
    assert again.incident.updated_at == incident.updated_at


def test_a_rising_alert_raises_and_reopens_a_resolved_incident():
    resolved = domain.resolve(opened(3), "张三", NOW + timedelta(minutes=10)).incident
    later = NOW + timedelta(hours=1)
    change = take_alert(resolved, 7, opening(2, at=later), NOW, alert_rose=True)
    raised = change.incident
    assert change.outcome == "raised"
    assert (raised.level, raised.sensitive, raised.status) == (2, True, Status.NEW)
    assert raised.resolved_at is None and raised.acknowledged_by is None
    assert raised.opened_at == NOW and raised.last_notified_at == later
    assert [(e.action, e.detail.get("from"), e.detail.get("was")) for e in change.events] == [
        ("level_raised", 3, None), ("reopened", None, "resolved")]


def test_a_level_set_by_hand_holds_until_the_alert_itself_rises():
    lowered = domain.change_level(opened(2), 4, "带班领导王五", NOW, "已核实为个案").incident
    # The detector still says level II, as it did before: no rise, the leader's IV holds.
    same = take_alert(lowered, 7, opening(2), NOW, alert_rose=False)
    assert same.outcome == "unchanged" and same.incident.level == 4
    # The story grows: the alert rises to I, and so does the incident.
    rose = take_alert(lowered, 7, opening(1), NOW, alert_rose=True)
    assert rose.outcome == "raised" and rose.incident.level == 1


def test_acknowledge_once_with_who_when_and_how():
    incident = opened()
    t = NOW + timedelta(minutes=3)
    change = domain.acknowledge(incident, "张三", t, "已签收，通知属地", via="console")
    acked = change.incident
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == (
        Status.ACKNOWLEDGED, "张三", t)
    [event] = change.events
    assert (event.action, event.actor, event.at) == ("acknowledged", "张三", t)
    assert event.detail == {"note": "已签收，通知属地", "via": "console"}
    with pytest.raises(IncidentError, match="acknowledged by 张三"):
        domain.acknowledge(acked, "李四", t)
    assert incident.status == Status.NEW                   # the input is never changed


def test_tracks_start_and_finish_and_starting_one_acknowledges():
    incident = opened()
    t = NOW + timedelta(minutes=2)
    change = domain.track(incident, "opinion", "start", "李四", t, unit="宣传科",
                          note="起草警情通报")
    handling = change.incident
    assert handling.status == Status.HANDLING and handling.acknowledged_by == "李四"
    opinion = handling.tracks[1]
    assert (opinion.unit, opinion.started_by, opinion.started_at) == ("宣传科", "李四", t)
    assert opinion.notes[0]["note"] == "起草警情通报" and opinion.notes[0]["by"] == "李四"
    assert change.events[0].detail == {"track": "opinion", "unit": "宣传科", "note": "起草警情通报"}
    with pytest.raises(IncidentError, match="already started by 李四"):
        domain.track(handling, "opinion", "start", "王五", t)
    with pytest.raises(IncidentError, match="not started"):
        domain.track(handling, "legal", "done", "王五", t)
    with pytest.raises(IncidentError, match="unknown track"):
        domain.track(handling, "publicity", "start", "王五", t)
    with pytest.raises(IncidentError, match="unknown action"):
        domain.track(handling, "legal", "begin", "王五", t)
    done = domain.track(handling, "opinion", "done", "李四", t + timedelta(hours=1)).incident
    assert done.tracks[1].done_at == t + timedelta(hours=1)
    with pytest.raises(IncidentError, match="already done"):
        domain.track(done, "opinion", "done", "李四", t)


def test_resolve_queues_its_notices_and_close_needs_a_resolution_or_a_reason():
    incident = opened()
    with pytest.raises(IncidentError, match="resolve it first"):
        domain.close(incident, "王五", NOW)
    change = domain.resolve(incident, "王五", NOW + timedelta(hours=2), "已发布通报",
                            [("duty-log", {"title": "已处置"})])
    assert change.incident.status == Status.RESOLVED
    [notice] = change.notices
    assert (notice.channel, notice.occasion) == ("duty-log", "resolved-20261126093000")
    assert change.events[0].detail == {"note": "已发布通报", "notified": ["duty-log"]}
    with pytest.raises(IncidentError, match="already resolved"):
        domain.resolve(change.incident, "王五", NOW)
    closed = domain.close(change.incident, "王五", NOW + timedelta(hours=3)).incident
    assert closed.status == Status.CLOSED and closed.closed_by == "王五"
    with pytest.raises(IncidentError, match="closed"):
        domain.track(closed, "legal", "start", "王五", NOW)
    # A false alarm closes unresolved, with the reason.
    false_alarm = domain.close(incident, "王五", NOW, "误报")
    assert false_alarm.incident.status == Status.CLOSED
    assert false_alarm.events[0].detail == {"note": "误报"}


def test_change_level_needs_a_reason_and_a_real_change():
    incident = opened(3)
    change = domain.change_level(incident, 1, "带班领导王五", NOW, "已上热搜", via="console")
    assert change.incident.level == 1
    assert (change.events[0].action, change.events[0].detail) == (
        "level_raised", {"from": 3, "to": 1, "reason": "已上热搜", "via": "console"})
    assert domain.change_level(incident, 4, "王五", NOW, "个案").events[0].action == "level_lowered"
    with pytest.raises(IncidentError, match="reason"):
        domain.change_level(incident, 1, "王五", NOW, " ")
    with pytest.raises(IncidentError, match="already at level 3"):
        domain.change_level(incident, 3, "王五", NOW, "x")
    with pytest.raises(IncidentError, match="does not exist"):
        domain.change_level(incident, 5, "王五", NOW, "x")


def test_statement_then_progress_then_nothing():
    incident = opened()
    first = domain.record_statement(incident, NOW + timedelta(hours=2), "system", post_id=11)
    assert first is not None
    assert first.incident.official_statement_at == NOW + timedelta(hours=2)
    assert first.events[0].detail["minutes_after_detection"] == 120
    assert domain.record_statement(first.incident, NOW + timedelta(hours=3), "system",
                                   post_id=11) is None              # the same post again
    progress = domain.record_statement(first.incident, NOW + timedelta(hours=20), "李四",
                                       url="https://weibo.com/qcga/2")
    assert progress is not None and progress.events[0].action == "official_progress"
    assert domain.record_statement(progress.incident, NOW + timedelta(hours=30), "x") is None


def test_a_timer_escalates_once_and_reminders_keep_their_interval():
    incident = opened()
    later = NOW + timedelta(minutes=20)
    change = domain.escalate(incident, "ack", later, [("leader", {"t": 1})], {"x": 1})
    assert change is not None and change.incident.escalated == ("ack",)
    assert [n.occasion for n in change.notices] == ["breach-ack"]
    assert domain.escalate(change.incident, "ack", later, [("leader", {})], {}) is None
    every = timedelta(minutes=30)
    assert domain.remind(incident, NOW + timedelta(minutes=29), every, [], {}) is None
    first = domain.remind(incident, NOW + timedelta(minutes=30), every, [("log", {})], {})
    assert first is not None and first.incident.repeats == 1
    assert [n.occasion for n in first.notices] == ["repeat-1"]
    assert domain.remind(first.incident, NOW + timedelta(minutes=31), every, [], {}) is None
    acked = domain.acknowledge(first.incident, "张三", NOW + timedelta(minutes=40)).incident
    assert domain.remind(acked, NOW + timedelta(hours=5), every, [], {}) is None


def test_timers_read_the_domain_state():
    incident = replace(opened(2), opened_at=NOW)
    late = breaches(incident, TimerSettings(), NOW + timedelta(hours=5))
    assert [b.timer for b in late] == ["ack", "statement"]
    resolved = domain.resolve(incident, "张三", NOW).incident
    assert breaches(resolved, TimerSettings(), NOW + timedelta(days=5)) == []


def test_silences_are_checked_before_they_are_stored():
    made = domain.new_silence("spike:", NOW + timedelta(hours=2), "张三", NOW, "演练")
    assert (made.match, made.created_by, made.id) == ("spike:", "张三", None)
    with pytest.raises(IncidentError, match="already have expired"):
        domain.new_silence("x", NOW - timedelta(minutes=1), "张三", NOW)
    with pytest.raises(IncidentError, match="every alert"):
        domain.new_silence(" ", NOW + timedelta(hours=1), "张三", NOW)
