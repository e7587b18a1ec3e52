"""Incident timers (签收 / 首次发声 / 进展 / 办结), 三同步 gaps and reminders."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from alerts.incidents.timers import TimerSettings, breaches, new_breaches, repeat_due, sync_gaps
from warehouse.records import IncidentState, TrackState

OPENED = datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)
SETTINGS = TimerSettings(ack_minutes=15, statement_hours=4, progress_hours=24,
                         closure_hours=72, sync_minutes=60, repeat_minutes=30)


def track(name: str, started: datetime | None = None) -> TrackState:
    return TrackState(track=name, unit=None, started_at=started, started_by=None, done_at=None,
                      done_by=None, notes=())


def incident(**fields) -> IncidentState:
    base = dict(
        id=1, alert_id=1, fingerprint="item:x", kind="sensitive_item", level=3, title="t",
        jurisdiction=None, topics=(), terms=(), content_hashes=(), sensitive=True, status="new",
        opened_at=OPENED, updated_at=OPENED, acknowledged_at=None, acknowledged_by=None,
        resolved_at=None, resolved_by=None, closed_at=None, closed_by=None,
        official_post_id=None, official_statement_at=None, progress_at=None, escalated=(),
        last_notified_at=OPENED, repeats=0,
        tracks=(track("legal"), track("opinion"), track("control")))
    base.update(fields)
    return IncidentState(**base)


def timers(state: IncidentState, after: timedelta) -> list[str]:
    return [b.timer for b in breaches(state, SETTINGS, OPENED + after)]


def test_ack_timer_runs_out_at_exactly_n_minutes():
    assert timers(incident(), timedelta(minutes=14, seconds=59)) == []
    due = breaches(incident(), SETTINGS, OPENED + timedelta(minutes=20))
    assert [b.timer for b in due] == ["ack"]
    assert due[0].due_at == OPENED + timedelta(minutes=15)
    assert due[0].overdue == timedelta(minutes=5) and due[0].label == "签收"


def test_acknowledged_incident_runs_the_public_timers():
    acked = incident(status="acknowledged", acknowledged_at=OPENED + timedelta(minutes=3))
    assert timers(acked, timedelta(hours=3, minutes=59)) == []
    assert timers(acked, timedelta(hours=4)) == ["statement"]
    assert timers(acked, timedelta(hours=24)) == ["statement", "progress"]
    stated = replace(acked, official_statement_at=OPENED + timedelta(hours=2))
    assert timers(stated, timedelta(hours=30)) == ["progress"]
    assert timers(stated, timedelta(hours=72)) == ["progress", "closure"]


def test_statement_timers_apply_only_to_sensitive_incidents():
    plain = incident(sensitive=False, status="acknowledged", acknowledged_at=OPENED)
    assert timers(plain, timedelta(hours=30)) == []
    assert timers(plain, timedelta(hours=72)) == ["closure"]


def test_resolved_and_closed_incidents_have_no_running_timers():
    for status in ("resolved", "closed"):
        assert timers(incident(status=status), timedelta(days=10)) == []


def test_each_timer_escalates_once():
    state = incident(escalated=("ack",))
    now = OPENED + timedelta(hours=5)
    assert [b.timer for b in breaches(state, SETTINGS, now)] == ["ack", "statement"]
    assert [b.timer for b in new_breaches(state, SETTINGS, now)] == ["statement"]


def test_tracks_out_of_sync_after_the_allowed_lag():
    started = OPENED + timedelta(minutes=10)
    tracks = (track("legal", started), track("opinion"), track("control", started))
    assert sync_gaps(tracks, started + timedelta(minutes=59), timedelta(minutes=60)) == []
    gaps = sync_gaps(tracks, started + timedelta(minutes=61), timedelta(minutes=60))
    assert [(g.leader, g.lagging) for g in gaps] == [("legal", "opinion")]
    assert gaps[0].behind == timedelta(minutes=61)
    # Nothing started: no 三同步 to judge. All started: in sync.
    assert sync_gaps((track("legal"), track("opinion")), OPENED + timedelta(days=1),
                     timedelta(minutes=1)) == []
    everyone = tuple(track(t, started) for t in ("legal", "opinion", "control"))
    assert sync_gaps(everyone, OPENED + timedelta(days=1), timedelta(minutes=1)) == []


def test_gap_is_measured_from_the_first_track_started():
    tracks = (track("legal", OPENED + timedelta(minutes=50)),
              track("opinion", OPENED), track("control"))
    gaps = sync_gaps(tracks, OPENED + timedelta(minutes=70), timedelta(minutes=60))
    assert [(g.leader, g.lagging) for g in gaps] == [("opinion", "control")]


def test_reminders_every_n_minutes_until_acknowledged():
    state = incident(last_notified_at=OPENED)
    assert not repeat_due(state, SETTINGS, OPENED + timedelta(minutes=29))
    assert repeat_due(state, SETTINGS, OPENED + timedelta(minutes=30))
    assert not repeat_due(replace(state, status="acknowledged"), SETTINGS,
                          OPENED + timedelta(hours=2))
    assert not repeat_due(state, replace(SETTINGS, repeat_minutes=0), OPENED + timedelta(days=1))
    # Never notified (e.g. silenced at first): counted from the opening.
    assert repeat_due(replace(state, last_notified_at=None), SETTINGS,
                      OPENED + timedelta(minutes=31))
