"""The incident (事件) as a pure domain object: its statuses, and transitions that return events.

Nothing here reads or writes the database. Each transition takes the incident as it stands
(warehouse.records.IncidentState, frozen) and returns a Change: the incident as it will be,
the audit events that say what happened, and the notifications to queue with it. The
warehouse persists a Change in one transaction (warehouse.incidents.IncidentStore.apply and
.record), so the incident, its events and its outbox never disagree. A transition that does
not fit the incident's status raises IncidentError with the reason a duty officer can read;
one with nothing to do returns None.

The CLI, the flows and the console do not call these directly but through
alerts.incidents.actions (people) and alerts.incidents.handling (the cycle), which route
notices and hand the transition to the warehouse.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from alerts.levels import LEVELS
from jingyu.timeutil import as_utc_naive
from warehouse.records import IncidentState, Silence, TrackState

SYSTEM = "system"
TERMS_KEPT = 200        # terms, topics and texts remembered per incident (a day-long spike)


class IncidentError(ValueError):
    """The incident does not exist, or the change does not fit its status."""


class Status(StrEnum):
    """Where an incident stands; new -> acknowledged -> handling -> resolved -> closed."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    HANDLING = "handling"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"new": "待签收", "acknowledged": "已签收", "handling": "处置中",
                "resolved": "已处置", "closed": "已关闭"}[self.value]

    @property
    def is_open(self) -> bool:
        return self in (Status.NEW, Status.ACKNOWLEDGED, Status.HANDLING)


class Track(StrEnum):
    """The three lines of work of 三同步, and the roster roles that own each."""

    LEGAL = "legal"
    OPINION = "opinion"
    CONTROL = "control"

    @property
    def label(self) -> str:
        return {"legal": "依法处理", "opinion": "舆论引导", "control": "社会面管控"}[self.value]

    @property
    def roles(self) -> tuple[str, ...]:
        return {"legal": ("case", "legal", "inspection"), "opinion": ("publicity",),
                "control": ("command", "public_order", "cyber")}[self.value]


TRACK_ACTIONS = ("start", "done", "note")


@dataclass(frozen=True)
class IncidentOpening:
    """What an alert of this cycle says about its incident."""

    fingerprint: str
    kind: str
    level: int
    title: str
    jurisdiction: str | None
    topics: tuple[str, ...]
    terms: tuple[str, ...]
    content_hashes: tuple[str, ...]
    sensitive: bool
    detected_at: datetime              # aware UTC
    track_units: Mapping[str, str]     # track -> the unit that owns it by default
    notified: bool                     # notifications were queued for this alert this cycle
    detail: Mapping[str, Any]          # routing facts for the audit trail


@dataclass(frozen=True)
class Event:
    """One line of the audit trail: who did what, when (persisted as incident_events)."""

    action: str
    actor: str
    at: datetime                       # aware UTC
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A notification to queue with the change; `occasion` names it once per incident
    ("resolved", "breach-ack", "repeat-2"), so a retried transaction cannot page twice."""

    channel: str
    payload: Mapping[str, Any]
    occasion: str
    at: datetime                       # queued at, aware UTC


@dataclass(frozen=True)
class Change:
    """What a transition decided: the incident afterwards, its events and its notices."""

    incident: IncidentState
    events: tuple[Event, ...] = ()
    notices: tuple[Notice, ...] = ()
    outcome: str = ""                  # take_alert: "opened" | "raised" | "unchanged"

    def plus(self, *events: Event) -> Change:
        return replace(self, events=(*self.events, *events))


def status_of(incident: IncidentState) -> Status:
    return Status(incident.status)


# ---- from alerts ----------------------------------------------------------------------------

def take_alert(current: IncidentState | None, alert_id: int, opening: IncidentOpening,
               first_detected_at: datetime, alert_rose: bool) -> Change:
    """Open the incident of an alert, or update it: outcome "opened" | "raised" | "unchanged".

    The incident rises with its alert (`alert_rose`: the alert is new or its level rose) and
    never lowers by itself, so a level a leader set by hand holds until the detector sees the
    story grow. A rise reopens a resolved or closed incident. The incident takes its alert's
    id: the number in the notification is the one duty staff type or tap.
    """
    stamp = opening.detected_at
    if current is None:
        incident = IncidentState(
            id=alert_id, alert_id=alert_id, fingerprint=opening.fingerprint, kind=opening.kind,
            level=opening.level, title=opening.title, jurisdiction=opening.jurisdiction,
            topics=opening.topics, terms=opening.terms, content_hashes=opening.content_hashes,
            sensitive=opening.sensitive, status=Status.NEW, opened_at=first_detected_at,
            updated_at=stamp, acknowledged_at=None, acknowledged_by=None, resolved_at=None,
            resolved_by=None, closed_at=None, closed_by=None, official_post_id=None,
            official_statement_at=None, progress_at=None, escalated=(),
            last_notified_at=stamp if opening.notified else None, repeats=0,
            tracks=tuple(TrackState(track=t.value, unit=opening.track_units.get(t.value),
                                    started_at=None, started_by=None, done_at=None,
                                    done_by=None, notes=()) for t in Track))
        return Change(incident, (Event("opened", SYSTEM, stamp,
                                       {"level": opening.level, **opening.detail}),),
                      outcome="opened")
    incident = replace(current, terms=_merged(current.terms, opening.terms),
                       topics=_merged(current.topics, opening.topics),
                       content_hashes=_merged(current.content_hashes, opening.content_hashes))
    joined = opening.fingerprint != current.fingerprint
    events: list[Event] = []
    if joined and alert_rose:
        # Another signal of the same real-world event (a surge, a second sensitive item):
        # the incident carries it; the audit trail says so.
        events.append(Event("alert_joined", SYSTEM, stamp, {
            "alert_id": alert_id, "kind": opening.kind, "level": opening.level,
            "title": opening.title}))
    rises = alert_rose and opening.level < current.level      # 1 is the most severe
    turns_sensitive = joined and alert_rose and opening.sensitive and not current.sensitive
    if not (rises or turns_sensitive):
        return Change(incident, tuple(events), outcome="unchanged")
    if rises:
        events.append(Event("level_raised", SYSTEM, stamp,
                            {"from": current.level, "to": opening.level, **opening.detail}))
        incident = replace(incident, level=opening.level, title=opening.title)
    if turns_sensitive:
        events.append(Event("sensitive_item", SYSTEM, stamp,
                            {"alert_id": alert_id, "title": opening.title, **opening.detail}))
    incident = replace(incident, sensitive=current.sensitive or opening.sensitive,
                       updated_at=stamp)
    if not status_of(current).is_open:
        events.append(Event("reopened", SYSTEM, stamp, {"was": current.status}))
        incident = replace(incident, status=Status.NEW, resolved_at=None, resolved_by=None,
                           closed_at=None, closed_by=None, acknowledged_at=None,
                           acknowledged_by=None)
    if opening.notified:
        incident = replace(incident, last_notified_at=stamp)
    return Change(incident, tuple(events), outcome="raised")


def worth_notifying(current: IncidentState | None, level: int, sensitive: bool) -> bool:
    """Does an alert about this incident page duty staff? Always when it opens one; after
    that only for what a duty officer must know: the level rises, or a sensitive item
    appears in an incident that had none. Another sensitive post, the same surge growing
    within its level, later posts of the event: evidence, not a page."""
    if current is None:
        return True
    return level < current.level or (sensitive and not current.sensitive)


EVENT_LEVEL = "event_level"        # the audit action of a level raised by the event's spread
EVENT_LEVEL_HELD = "event_level_held"


def rise_with_event(incident: IncidentState, floor: int | None, spread: int, threshold: int,
                    now: datetime, held: int | None,
                    notices: Sequence[tuple[str, Mapping[str, Any]]],
                    detail: Mapping[str, Any]) -> Change | None:
    """The incident is at least the level its event's spread allows (`floor`, reached at
    `threshold`): raised with the reason in the audit trail and a notice queued once per
    level. Never lowers. `held` is the floor a person's later hand-lowering was weighed
    against: the hand's level holds until the event crosses a more severe threshold.
    None when nothing changes (the same floor next cycle: no second page)."""
    if floor is None or floor >= incident.level or not status_of(incident).is_open:
        return None
    if held is not None and floor >= held:
        return None
    reason = f"事件传播 {spread:,} 条（达到{LEVELS[floor]['roman']}级阈值 {threshold:,} 条）"
    after = replace(incident, level=floor, updated_at=now,
                    last_notified_at=now if notices else incident.last_notified_at)
    return Change(after, (Event("level_raised", SYSTEM, now, {
        "from": incident.level, "to": floor, "reason": reason, "spread": spread,
        "by": EVENT_LEVEL, "notified": [c for c, _ in notices], **detail}),),
        _queued(notices, f"event-level-{floor}", now))


# ---- people's actions -----------------------------------------------------------------------

def acknowledge(incident: IncidentState, by: str, now: datetime, note: str = "",
                via: str = "") -> Change:
    """签收: the officer has seen it; reminders stop."""
    if status_of(incident) is not Status.NEW:
        raise IncidentError(f"incident {incident.id} is {incident.status}"
                            + (f" (acknowledged by {incident.acknowledged_by})"
                               if incident.acknowledged_by else "") + ": nothing to acknowledge")
    after = replace(incident, status=Status.ACKNOWLEDGED, acknowledged_at=now,
                    acknowledged_by=by, updated_at=now)
    return Change(after, (Event("acknowledged", by, now, _said(note, via)),))


def track(incident: IncidentState, track_id: str, action: str, by: str, now: datetime, *,
          unit: str | None = None, note: str = "", via: str = "") -> Change:
    """start | done | note on one line of 三同步; starting one acknowledges the incident."""
    if track_id not in {t.value for t in Track}:
        raise IncidentError(f"unknown track {track_id!r}: use {', '.join(Track)}")
    if action not in TRACK_ACTIONS:
        raise IncidentError(f"unknown action {action!r}: use start, done or note")
    if status_of(incident) is Status.CLOSED:
        raise IncidentError(f"incident {incident.id} is closed")
    line = next(t for t in incident.tracks if t.track == track_id)
    if unit:
        line = replace(line, unit=unit)
    after = incident
    if action == "start":
        if line.started_at is not None:
            raise IncidentError(f"track {track_id} of incident {incident.id} already "
                                f"started by {line.started_by}")
        line = replace(line, started_at=now, started_by=by)
        if status_of(incident) in (Status.NEW, Status.ACKNOWLEDGED):
            after = replace(after, status=Status.HANDLING)
            if incident.acknowledged_at is None:
                after = replace(after, acknowledged_at=now, acknowledged_by=by)
    elif action == "done":
        if line.started_at is None:
            raise IncidentError(f"track {track_id} of incident {incident.id} has not "
                                f"started: start it first")
        if line.done_at is not None:
            raise IncidentError(f"track {track_id} of incident {incident.id} is already done")
        line = replace(line, done_at=now, done_by=by)
    if note:
        line = replace(line, notes=(*line.notes, {"at": as_utc_naive(now).isoformat(),
                                                  "by": by, "note": note}))
    after = replace(after, updated_at=now, tracks=tuple(
        line if t.track == track_id else t for t in incident.tracks))
    return Change(after, (Event(f"track_{action}", by, now,
                                {"track": track_id, "unit": line.unit, **_said(note, via)}),))


def record_statement(incident: IncidentState, at: datetime, by: str, *,
                     post_id: int | None = None, url: str | None = None,
                     note: str = "", via: str = "") -> Change | None:
    """An official statement (警情通报) in the story: the first sets the statement time, a
    later one the progress time. None when it is already recorded or adds nothing."""
    if post_id is not None and post_id == incident.official_post_id:
        return None
    detail: dict[str, Any] = {"post_id": post_id, "url": url, **_said(note, via)}
    if incident.official_statement_at is None:
        after = replace(incident, official_statement_at=at, official_post_id=post_id)
        detail["minutes_after_detection"] = round((at - incident.opened_at).total_seconds() / 60)
        action = "official_statement"
    elif incident.progress_at is None and at > incident.official_statement_at:
        after = replace(incident, progress_at=at)
        action = "official_progress"
    else:
        return None
    after = replace(after, updated_at=max(incident.updated_at, at))
    return Change(after, (Event(action, by, at, detail),))


def change_level(incident: IncidentState, level: int, by: str, now: datetime, reason: str,
                 via: str = "") -> Change:
    """Raise or lower the warning level by hand (the leader on duty), with the reason."""
    if level not in LEVELS:
        raise IncidentError(f"level {level} does not exist: use 1 (I, red) to 4 (IV, blue)")
    if not reason.strip():
        raise IncidentError("say why the level changes (a reason is required)")
    if status_of(incident) is Status.CLOSED:
        raise IncidentError(f"incident {incident.id} is closed")
    if level == incident.level:
        raise IncidentError(f"incident {incident.id} is already at level {level}")
    action = "level_raised" if level < incident.level else "level_lowered"
    after = replace(incident, level=level, updated_at=now)
    return Change(after, (Event(action, by, now, {"from": incident.level, "to": level,
                                                  "reason": reason, **_said("", via)}),))


def resolve(incident: IncidentState, by: str, now: datetime, note: str = "",
            notices: Sequence[tuple[str, Mapping[str, Any]]] = (), via: str = "") -> Change:
    """已处置: the work is done; `notices` tell those it was routed to."""
    if not status_of(incident).is_open:
        raise IncidentError(f"incident {incident.id} is already {incident.status}")
    after = replace(incident, status=Status.RESOLVED, resolved_at=now, resolved_by=by,
                    updated_at=now)
    return Change(after, (Event("resolved", by, now,
                                {**_said(note, via), "notified": [c for c, _ in notices]}),),
                  # A reopened incident may be resolved again: the time keeps the key unique.
                  _queued(notices, f"resolved-{as_utc_naive(now):%Y%m%d%H%M%S}", now))


def close(incident: IncidentState, by: str, now: datetime, note: str = "",
          via: str = "") -> Change:
    """已关闭: a resolved incident, or an unresolved one with a note saying why (e.g. 误报)."""
    if status_of(incident) is Status.CLOSED:
        raise IncidentError(f"incident {incident.id} is already closed")
    if status_of(incident) is not Status.RESOLVED and not note:
        raise IncidentError(f"incident {incident.id} is {incident.status}: resolve it first, "
                            f"or give a note saying why it closes unresolved (e.g. 误报)")
    after = replace(incident, status=Status.CLOSED, closed_at=now, closed_by=by, updated_at=now)
    return Change(after, (Event("closed", by, now, _said(note, via)),))


def merge(keep: IncidentState, other: IncidentState, by: str, now: datetime, note: str = "",
          via: str = "") -> tuple[Change, Change]:
    """Two incidents are one happening: the earlier number (`keep`) carries on with the
    higher level, both evidences and the earlier statement; the other closes and points to
    it. Returns (keep's change, other's change)."""
    if keep.id == other.id:
        raise IncidentError(f"incident {keep.id} cannot merge with itself")
    if keep.id > other.id:
        raise IncidentError(f"merge keeps the earlier number: merge {other.id} {keep.id}")
    for incident in (keep, other):
        if incident.merged_into is not None:
            raise IncidentError(f"incident {incident.id} was already merged into "
                                f"{incident.merged_into}")
    statement = min((i for i in (keep, other) if i.official_statement_at is not None),
                    key=lambda i: i.official_statement_at, default=None)  # type: ignore[arg-type,return-value]
    after = replace(
        keep, level=min(keep.level, other.level), sensitive=keep.sensitive or other.sensitive,
        terms=_merged(keep.terms, other.terms), topics=_merged(keep.topics, other.topics),
        content_hashes=_merged(keep.content_hashes, other.content_hashes),
        official_statement_at=statement.official_statement_at if statement else None,
        official_post_id=statement.official_post_id if statement else None,
        opened_at=min(keep.opened_at, other.opened_at), updated_at=now)
    if not status_of(keep).is_open and status_of(other).is_open:
        after = replace(after, status=Status.NEW, resolved_at=None, resolved_by=None,
                        closed_at=None, closed_by=None)
    gone = replace(other, status=Status.CLOSED, closed_at=now, closed_by=by,
                   merged_into=keep.id, updated_at=now)
    said = _said(note, via)
    return (Change(after, (Event("merged_in", by, now, {"from": other.id, **said}),)),
            Change(gone, (Event("merged_into", by, now, {"into": keep.id, **said}),)))


def split_off(incident: IncidentState, post_ids: Sequence[int], new_id: int, title: str,
              by: str, now: datetime, note: str = "", via: str = "") -> tuple[Change, Change]:
    """Posts that are another happening leave an incident for a new one (number `new_id`),
    which starts as the old one's level and tracks start afresh. Returns (old's change,
    new one's change)."""
    if not post_ids:
        raise IncidentError("name the posts to split off (--posts 12,15)")
    if incident.merged_into is not None:
        raise IncidentError(f"incident {incident.id} was merged into {incident.merged_into}: "
                            f"split from that one")
    said = _said(note, via)
    detail = {"posts": list(post_ids), **said}
    new = replace(incident, id=new_id, alert_id=new_id, fingerprint=f"split:{new_id}",
                  title=title,
                  status=Status.NEW, opened_at=now, updated_at=now, acknowledged_at=None,
                  acknowledged_by=None, resolved_at=None, resolved_by=None, closed_at=None,
                  closed_by=None, official_post_id=None, official_statement_at=None,
                  progress_at=None, escalated=(), last_notified_at=None, repeats=0,
                  terms=(), content_hashes=(), event_id=None, merged_into=None,
                  tracks=tuple(replace(t, started_at=None, started_by=None, done_at=None,
                                       done_by=None, notes=()) for t in incident.tracks))
    return (Change(replace(incident, updated_at=now),
                   (Event("split", by, now, {**detail, "into": new_id}),)),
            Change(new, (Event("split_from", by, now, {**detail, "from": incident.id}),)))


# A silence longer than this hides alerts past the next shifts, who may not know of it: it
# takes an explicit `long=True` (`jingyu alerts silence --long`).
LONGEST_SILENCE = timedelta(hours=24)


def new_silence(match: str, until: datetime, by: str, now: datetime,
                reason: str = "", long: bool = False) -> Silence:
    """Record but do not notify alerts whose fingerprint starts with `match` until `until`."""
    if not match.strip():
        raise IncidentError("an empty match would silence every alert")
    if until <= now:
        raise IncidentError("the silence would already have expired: give a later end")
    if until - now > LONGEST_SILENCE and not long:
        hours = LONGEST_SILENCE.total_seconds() / 3600
        raise IncidentError(f"a silence longer than {hours:g} hours hides alerts from the "
                            f"next shifts: give a nearer end, or --long if that is meant")
    return Silence(match=match, until=until, reason=reason, created_by=by)


# ---- timers ---------------------------------------------------------------------------------

def escalate(incident: IncidentState, timer: str, now: datetime,
             notices: Sequence[tuple[str, Mapping[str, Any]]],
             detail: Mapping[str, Any]) -> Change | None:
    """A breached timer goes to the leader on duty, once per timer (None: done already)."""
    if timer in incident.escalated:
        return None
    after = replace(incident, escalated=(*incident.escalated, timer))
    return Change(after, (Event("escalated", SYSTEM, now,
                                {"timer": timer, "notified": [c for c, _ in notices],
                                 **detail}),),
                  _queued(notices, f"breach-{timer}", now))


def remind(incident: IncidentState, now: datetime, every: timedelta,
           notices: Sequence[tuple[str, Mapping[str, Any]]],
           detail: Mapping[str, Any]) -> Change | None:
    """The next reminder of an unacknowledged incident, at most once per `every`."""
    last = incident.last_notified_at or incident.opened_at
    if status_of(incident) is not Status.NEW or now - last < every:
        return None
    repeats = incident.repeats + 1
    after = replace(incident, repeats=repeats, last_notified_at=now)
    return Change(after, (Event("renotified", SYSTEM, now,
                                {"repeat": repeats, "notified": [c for c, _ in notices],
                                 **detail}),),
                  _queued(notices, f"repeat-{repeats}", now))


def note(incident: IncidentState, now: datetime, actor: str, action: str,
         detail: Mapping[str, Any]) -> Change:
    """An audit line without a change of state (e.g. a notification held back by a silence)."""
    return Change(incident, (Event(action, actor, now, detail),))


def _said(note: str, via: str) -> dict[str, str]:
    return {**({"note": note} if note else {}), **({"via": via} if via else {})}


def _queued(notices: Sequence[tuple[str, Mapping[str, Any]]], occasion: str, at: datetime
            ) -> tuple[Notice, ...]:
    return tuple(Notice(channel, payload, occasion, at) for channel, payload in notices)


def _merged(old: Sequence[str], new: Sequence[str]) -> tuple[str, ...]:
    # Capped: a spike that runs all day must not grow the row without bound.
    return tuple(dict.fromkeys([*old, *new]))[:TERMS_KEPT]
