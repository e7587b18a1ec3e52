"""Incident timers and the 三同步 check: pure functions of an incident's state and the time."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.incidents.incident import Status, Track
from warehouse.records import IncidentState, TrackState

# The three lines of work of 三同步 and the roles (alerts.incidents.roster.ROLES) that own each.
TRACKS = {t.value: (t.label, t.roles) for t in Track}
OPEN_STATUSES = tuple(s.value for s in Status if s.is_open)
STATUS_NAMES = {s.value: s.label for s in Status}

ACK, STATEMENT, PROGRESS, CLOSURE = "ack", "statement", "progress", "closure"
SYNC = "sync"
TIMER_NAMES = {
    SYNC: "三同步",
    ACK: "签收",
    STATEMENT: "首次官方发声",
    PROGRESS: "进展通报",
    CLOSURE: "处置办结",
}


@dataclass(frozen=True)
class TimerSettings:
    """Deadlines counted from the first detection of the story."""

    ack_minutes: int = 15
    statement_hours: int = 4
    progress_hours: int = 24
    closure_hours: int = 72
    sync_minutes: int = 60             # a track may lag one already started by this much
    repeat_minutes: int = 30           # re-notify an unacknowledged incident this often (0: never)
    notify_resolved: bool = True

    def deadline(self, timer: str) -> timedelta:
        return {ACK: timedelta(minutes=self.ack_minutes),
                STATEMENT: timedelta(hours=self.statement_hours),
                PROGRESS: timedelta(hours=self.progress_hours),
                CLOSURE: timedelta(hours=self.closure_hours)}[timer]


@dataclass(frozen=True)
class Breach:
    """A timer that ran out: the incident is `overdue` past its deadline `due_at`."""

    timer: str
    due_at: datetime
    overdue: timedelta

    @property
    def label(self) -> str:
        return TIMER_NAMES[self.timer]


@dataclass(frozen=True)
class SyncGap:
    """三同步 failing: `lagging` has not started `behind` after `leader` started."""

    leader: str
    lagging: str
    behind: timedelta


@dataclass(frozen=True)
class Deadline:
    """One timer of an incident: when it is due and when (if yet) it was met."""

    timer: str
    due_at: datetime
    met_at: datetime | None

    @property
    def label(self) -> str:
        return TIMER_NAMES[self.timer]


def deadlines(incident: IncidentState, settings: TimerSettings) -> list[Deadline]:
    """The timers that apply to an incident, met or not, in the order they fall due.

    Acknowledgement and closure apply to every incident; the public timers (first official
    statement, progress) to sensitive ones, where a statement is expected at all.
    """
    met = {ACK: incident.acknowledged_at,
           STATEMENT: incident.official_statement_at,
           PROGRESS: incident.progress_at,
           CLOSURE: incident.resolved_at or incident.closed_at}
    timers = (ACK, STATEMENT, PROGRESS, CLOSURE) if incident.sensitive else (ACK, CLOSURE)
    return [Deadline(timer, incident.opened_at + settings.deadline(timer), met[timer])
            for timer in timers]


def breaches(incident: IncidentState, settings: TimerSettings, now: datetime) -> list[Breach]:
    """Every timer of an open incident that has run out and is not yet satisfied."""
    if not Status(incident.status).is_open:
        return []
    return [Breach(timer=d.timer, due_at=d.due_at, overdue=now - d.due_at)
            for d in deadlines(incident, settings) if d.met_at is None and now >= d.due_at]


def new_breaches(incident: IncidentState, settings: TimerSettings, now: datetime
                 ) -> list[Breach]:
    """Breaches not escalated yet: each timer escalates once."""
    return [b for b in breaches(incident, settings, now) if b.timer not in incident.escalated]


def sync_gaps(tracks: Sequence[TrackState], now: datetime, allowed: timedelta) -> list[SyncGap]:
    """Tracks still not started `allowed` after the first one started (三同步 on paper only)."""
    started = [t for t in tracks if t.started_at is not None]
    if not started:
        return []
    first = min(started, key=lambda t: t.started_at)  # type: ignore[arg-type, return-value]
    assert first.started_at is not None
    behind = now - first.started_at
    if behind < allowed:
        return []
    return [SyncGap(leader=first.track, lagging=t.track, behind=behind)
            for t in tracks if t.started_at is None]


def repeat_due(incident: IncidentState, settings: TimerSettings, now: datetime) -> bool:
    """An unacknowledged incident is notified again every repeat_minutes until someone acks."""
    if settings.repeat_minutes <= 0 or incident.status != Status.NEW:
        return False
    last = incident.last_notified_at or incident.opened_at
    return now - last >= timedelta(minutes=settings.repeat_minutes)
