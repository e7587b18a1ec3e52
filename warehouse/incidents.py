"""Incidents, their 三同步 tracks, the audit trail and silences; and what the watchdog reads."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jingyu.timeutil import as_utc_naive, from_db
from warehouse.models import (
    AlertRow,
    IncidentEventRow,
    IncidentRow,
    IncidentTrackRow,
    OutboxRow,
    Post,
    Run,
    SilenceRow,
    Source,
)
from warehouse.records import (
    IncidentEvent,
    IncidentState,
    PostRow,
    Silence,
    SourceYield,
    TrackState,
)
from warehouse.store import Warehouse, _json

TRACK_IDS = ("legal", "opinion", "control")
CLOSED = ("resolved", "closed")
# (channel name, payload) pairs to queue in the outbox
Notifications = Sequence[tuple[str, Mapping[str, Any]]]


class IncidentError(ValueError):
    """The incident does not exist, or the change does not fit its status."""


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


class IncidentStore:
    """Operations on incidents; every public method is one transaction."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._session = sessionmaker(warehouse.engine, expire_on_commit=False)

    # ---- opening and updating from alerts ------------------------------------------------

    def upsert(self, alert_id: int, opening: IncidentOpening) -> tuple[IncidentState, str]:
        """Open the incident of an alert, or update it: "opened" | "raised" | "unchanged".

        A rise in level updates the incident (never a second one) and reopens a resolved one.
        """
        stamp = as_utc_naive(opening.detected_at)
        with self._session.begin() as session:
            row = session.scalar(select(IncidentRow).where(
                IncidentRow.fingerprint == opening.fingerprint).with_for_update())
            if row is None:
                first = session.get_one(AlertRow, alert_id).first_detected_at
                # The incident takes its alert's id: the number in the notification is the
                # one duty staff type into `jingyu alerts ack`.
                row = IncidentRow(
                    id=alert_id, alert_id=alert_id, fingerprint=opening.fingerprint,
                    kind=opening.kind,
                    level=opening.level, title=opening.title, jurisdiction=opening.jurisdiction,
                    topics=list(opening.topics), terms=list(opening.terms),
                    content_hashes=list(opening.content_hashes), sensitive=opening.sensitive,
                    status="new", opened_at=first, updated_at=stamp, escalated=[], repeats=0,
                    last_notified_at=stamp if opening.notified else None)
                session.add(row)
                session.flush()
                for track in TRACK_IDS:
                    session.add(IncidentTrackRow(incident_id=row.id, track=track, notes=[],
                                                 unit=opening.track_units.get(track)))
                self._event(session, row.id, stamp, "system", "opened",
                            {"level": opening.level, **opening.detail})
                outcome = "opened"
            else:
                outcome = "unchanged"
                row.terms = _merged(row.terms, opening.terms)
                row.topics = _merged(row.topics, opening.topics)
                row.content_hashes = _merged(row.content_hashes, opening.content_hashes)
                if opening.level < row.level:      # 1 is the most severe
                    self._event(session, row.id, stamp, "system", "level_raised",
                                {"from": row.level, "to": opening.level, **opening.detail})
                    row.level, row.title = opening.level, opening.title
                    row.sensitive = row.sensitive or opening.sensitive
                    row.updated_at = stamp
                    if row.status in CLOSED:
                        self._event(session, row.id, stamp, "system", "reopened",
                                    {"was": row.status})
                        row.status, row.resolved_at, row.resolved_by = "new", None, None
                        row.closed_at = row.closed_by = None
                        row.acknowledged_at = row.acknowledged_by = None
                    if opening.notified:
                        row.last_notified_at = stamp
                    outcome = "raised"
            session.flush()
            return self._state(session, row), outcome

    # ---- people's actions ----------------------------------------------------------------

    def acknowledge(self, incident_id: int, by: str, now: datetime, note: str = ""
                    ) -> IncidentState:
        with self._session.begin() as session:
            row = self._row(session, incident_id)
            if row.status != "new":
                raise IncidentError(f"incident {incident_id} is {row.status}"
                                    + (f" (acknowledged by {row.acknowledged_by})"
                                       if row.acknowledged_by else "") + ": nothing to acknowledge")
            stamp = as_utc_naive(now)
            row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", stamp, by
            row.updated_at = stamp
            self._event(session, row.id, stamp, by, "acknowledged", _note(note))
            return self._state(session, row)

    def track(self, incident_id: int, track: str, action: str, by: str, now: datetime, *,
              unit: str | None = None, note: str = "") -> IncidentState:
        """start | done | note on one of the three tracks; starting one acknowledges."""
        if track not in TRACK_IDS:
            raise IncidentError(f"unknown track {track!r}: use {', '.join(TRACK_IDS)}")
        if action not in ("start", "done", "note"):
            raise IncidentError(f"unknown action {action!r}: use start, done or note")
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = self._row(session, incident_id)
            if row.status == "closed":
                raise IncidentError(f"incident {incident_id} is closed")
            line = session.scalar(select(IncidentTrackRow).where(
                IncidentTrackRow.incident_id == incident_id, IncidentTrackRow.track == track))
            assert line is not None
            if unit:
                line.unit = unit
            if action == "start":
                if line.started_at is not None:
                    raise IncidentError(f"track {track} of incident {incident_id} already "
                                        f"started by {line.started_by}")
                line.started_at, line.started_by = stamp, by
                if row.status in ("new", "acknowledged"):
                    if row.acknowledged_at is None:
                        row.acknowledged_at, row.acknowledged_by = stamp, by
                    row.status = "handling"
            elif action == "done":
                if line.started_at is None:
                    raise IncidentError(f"track {track} of incident {incident_id} has not "
                                        f"started: run '... {track} start' first")
                if line.done_at is not None:
                    raise IncidentError(f"track {track} of incident {incident_id} is already done")
                line.done_at, line.done_by = stamp, by
            if note:
                line.notes = [*line.notes, {"at": stamp.isoformat(), "by": by, "note": note}]
            row.updated_at = stamp
            self._event(session, row.id, stamp, by, f"track_{action}",
                        {"track": track, "unit": line.unit, **_note(note)})
            return self._state(session, row)

    def resolve(self, incident_id: int, by: str, now: datetime, note: str = "",
                notices: Notifications = ()) -> IncidentState:
        """Mark resolved and queue the resolved notices in the same transaction."""
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = self._row(session, incident_id)
            if row.status in CLOSED:
                raise IncidentError(f"incident {incident_id} is already {row.status}")
            row.status, row.resolved_at, row.resolved_by = "resolved", stamp, by
            row.updated_at = stamp
            self._queue(session, row, "resolved", notices, stamp)
            self._event(session, row.id, stamp, by, "resolved",
                        {**_note(note), "notified": [c for c, _ in notices]})
            return self._state(session, row)

    def close(self, incident_id: int, by: str, now: datetime, note: str = "") -> IncidentState:
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = self._row(session, incident_id)
            if row.status == "closed":
                raise IncidentError(f"incident {incident_id} is already closed")
            if row.status != "resolved" and not note:
                raise IncidentError(f"incident {incident_id} is {row.status}: resolve it first, "
                                    f"or give --note saying why it closes unresolved (e.g. 误报)")
            row.status, row.closed_at, row.closed_by = "closed", stamp, by
            row.updated_at = stamp
            self._event(session, row.id, stamp, by, "closed", _note(note))
            return self._state(session, row)

    def record_statement(self, incident_id: int, at: datetime, by: str, *,
                         post_id: int | None = None, url: str | None = None,
                         note: str = "") -> IncidentState | None:
        """An official statement in the story: the first sets the statement time, a later one
        the progress time. Returns None when the post was already recorded."""
        stamp = as_utc_naive(at)
        with self._session.begin() as session:
            row = self._row(session, incident_id)
            if post_id is not None and post_id == row.official_post_id:
                return None
            detail: dict[str, Any] = {"post_id": post_id, "url": url, **_note(note)}
            if row.official_statement_at is None:
                row.official_statement_at, row.official_post_id = stamp, post_id
                detail["minutes_after_detection"] = round(
                    (stamp - row.opened_at).total_seconds() / 60)
                action = "official_statement"
            elif row.progress_at is None and stamp > row.official_statement_at:
                row.progress_at = stamp
                action = "official_progress"
            else:
                return None
            row.updated_at = max(row.updated_at, stamp)
            self._event(session, row.id, stamp, by, action, detail)
            return self._state(session, row)

    # ---- timers: escalation and repeats --------------------------------------------------

    def escalate(self, incident_id: int, timer: str, now: datetime, notices: Notifications,
                 detail: Mapping[str, Any]) -> bool:
        """Record a breached timer and queue its escalation, once per timer."""
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = self._row(session, incident_id, lock=True)
            if timer in (row.escalated or []):
                return False
            row.escalated = [*row.escalated, timer]
            self._queue(session, row, f"breach-{timer}", notices, stamp)
            self._event(session, row.id, stamp, "system", "escalated",
                        {"timer": timer, "notified": [c for c, _ in notices], **detail})
            return True

    def renotify(self, incident_id: int, now: datetime, every: timedelta,
                 notices: Notifications, detail: Mapping[str, Any]) -> bool:
        """Queue the next reminder of a still unacknowledged incident, at most once per
        `every` (checked under the row lock: the monitor and the watchdog both call this)."""
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = self._row(session, incident_id, lock=True)
            last = row.last_notified_at or row.opened_at
            if row.status != "new" or stamp - last < every:
                return False
            row.repeats += 1
            row.last_notified_at = stamp
            self._queue(session, row, f"repeat-{row.repeats}", notices, stamp)
            self._event(session, row.id, stamp, "system", "renotified",
                        {"repeat": row.repeats, "notified": [c for c, _ in notices], **detail})
            return True

    def note_event(self, incident_id: int, now: datetime, actor: str, action: str,
                   detail: Mapping[str, Any]) -> None:
        """An audit line without a state change (e.g. a notification held back by a silence)."""
        with self._session.begin() as session:
            self._row(session, incident_id)
            self._event(session, incident_id, as_utc_naive(now), actor, action, detail)

    # ---- reading -------------------------------------------------------------------------

    def get(self, incident_id: int) -> IncidentState:
        with self._session() as session:
            return self._state(session, self._row(session, incident_id))

    def incidents(self, limit: int = 50, statuses: Sequence[str] | None = None
                  ) -> list[IncidentState]:
        """Newest first; `statuses` restricts (e.g. the open ones)."""
        with self._session() as session:
            query = select(IncidentRow).order_by(IncidentRow.updated_at.desc(),
                                                  IncidentRow.id.desc())
            if statuses:
                query = query.where(IncidentRow.status.in_(list(statuses)))
            return [self._state(session, r) for r in session.scalars(query.limit(limit))]

    def by_ids(self, ids: Sequence[int]) -> dict[int, IncidentState]:
        with self._session() as session:
            rows = session.scalars(select(IncidentRow).where(IncidentRow.id.in_(list(ids))))
            return {r.id: self._state(session, r) for r in rows}

    def alert(self, alert_id: int) -> dict[str, Any]:
        """The alert behind an incident: reason and evidence, for `jingyu alerts show`."""
        with self._session() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise IncidentError(f"no alert {alert_id}: see 'jingyu alerts list'")
            return {"id": row.id, "kind": row.kind, "level": row.level, "title": row.title,
                    "reason": row.reason, "evidence": list(row.evidence or []),
                    "jurisdiction": row.jurisdiction, "version": row.version,
                    "first_detected_at": _aware(row.first_detected_at),
                    "last_detected_at": _aware(row.last_detected_at)}

    def events(self, incident_id: int) -> list[IncidentEvent]:
        with self._session() as session:
            rows = session.scalars(select(IncidentEventRow)
                                   .where(IncidentEventRow.incident_id == incident_id)
                                   .order_by(IncidentEventRow.at, IncidentEventRow.id))
            return [IncidentEvent(id=r.id, incident_id=r.incident_id, at=_aware(r.at),
                                  actor=r.actor, action=r.action, detail=dict(r.detail or {}))
                    for r in rows]

    def outbox(self, incident_id: int) -> list[dict[str, Any]]:
        """Notifications about the incident's alert: channel, key, status, when."""
        with self._session() as session:
            alert_id = self._row(session, incident_id).alert_id
            rows = session.scalars(select(OutboxRow).where(OutboxRow.alert_id == alert_id)
                                   .order_by(OutboxRow.id))
            return [{"channel": r.channel, "key": r.idempotency_key, "status": r.status,
                     "created_at": from_db(r.created_at), "sent_at": from_db(r.sent_at),
                     "recipients": list((r.payload or {}).get("recipients") or [])}
                    for r in rows]

    def official_posts_since(self, since: datetime) -> list[PostRow]:
        """Police-related posts of official sources seen since `since`, oldest first."""
        with self._session() as session:
            official = [sid for sid, tags in session.execute(select(Source.id, Source.tags))
                        if "official" in (tags or [])]
            if not official:
                return []
            rows = session.scalars(select(Post).where(
                Post.source_id.in_(official), Post.police_related.is_(True),
                Post.seen_at >= as_utc_naive(since)).order_by(Post.seen_at, Post.id))
            return [Warehouse._post_row(p, True) for p in rows]

    # ---- silences ------------------------------------------------------------------------

    def add_silence(self, match: str, until: datetime, by: str, now: datetime,
                    reason: str = "") -> Silence:
        if not match.strip():
            raise IncidentError("an empty --match would silence every alert")
        if until <= now:
            raise IncidentError("the silence would already have expired: give a later --until")
        with self._session.begin() as session:
            row = SilenceRow(match=match, until=as_utc_naive(until), reason=reason,
                             created_by=by, created_at=as_utc_naive(now))
            session.add(row)
            session.flush()
            return _silence(row)

    def silences(self, now: datetime) -> list[Silence]:
        """Silences still in force at `now`."""
        with self._session() as session:
            rows = session.scalars(select(SilenceRow).where(SilenceRow.until > as_utc_naive(now))
                                   .order_by(SilenceRow.until))
            return [_silence(r) for r in rows]

    # ---- what the watchdog reads ---------------------------------------------------------

    def ledger(self) -> tuple[datetime | None, datetime | None]:
        """(end of the newest successful cycle, start of the first cycle ever)."""
        with self._session() as session:
            last = session.scalar(select(func.max(Run.ended_at))
                                  .where(Run.status.in_(["ok", "partial"])))
            first = session.scalar(select(func.min(Run.started_at)))
            return _aware(last) if last else None, _aware(first) if first else None

    def source_yields(self, now: datetime, window: timedelta, days: int = 7
                      ) -> list[SourceYield]:
        """Enabled sources with new posts in the last `window`, and on how many of the
        `days` before it they had new posts in the same window of the day."""
        end = as_utc_naive(now)
        with self._session() as session:
            def counts(day: int) -> dict[str, int]:
                upper = end - timedelta(days=day)
                return dict(session.execute(
                    select(Post.source_id, func.count())
                    .where(Post.fetched_at > upper - window, Post.fetched_at <= upper)
                    .group_by(Post.source_id)).all())

            today = counts(0)
            usual: dict[str, int] = {}
            for day in range(1, days + 1):
                for source_id in counts(day):
                    usual[source_id] = usual.get(source_id, 0) + 1
            return [SourceYield(
                id=s.id, name=s.name, jurisdiction=s.jurisdiction,
                consecutive_failures=s.consecutive_failures or 0, last_error=s.last_error,
                last_success_at=from_db(s.last_success_at),
                last_new_post_at=from_db(s.last_new_post_at),
                new_in_window=today.get(s.id, 0), usual_days=usual.get(s.id, 0))
                for s in session.scalars(select(Source).where(Source.enabled.is_(True))
                                         .order_by(Source.id))]

    # ---- helpers -------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, incident_id: int, lock: bool = False) -> IncidentRow:
        query = select(IncidentRow).where(IncidentRow.id == incident_id)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise IncidentError(f"no incident {incident_id}: see 'jingyu alerts list'")
        return row

    @staticmethod
    def _event(session: Session, incident_id: int, stamp: datetime, actor: str, action: str,
               detail: Mapping[str, Any]) -> None:
        session.add(IncidentEventRow(incident_id=incident_id, at=stamp, actor=actor,
                                     action=action, detail=_json(dict(detail))))

    @staticmethod
    def _queue(session: Session, row: IncidentRow, what: str, notices: Notifications,
               stamp: datetime) -> None:
        # The key names incident and occasion, so a retried transaction cannot page twice.
        for channel, payload in notices:
            session.add(OutboxRow(
                alert_id=row.alert_id, channel=channel,
                idempotency_key=f"incident:{row.id}:{what}@{channel}",
                payload=_json(dict(payload)), status="pending", attempts=0,
                created_at=stamp, next_attempt_at=stamp))

    @staticmethod
    def _state(session: Session, row: IncidentRow) -> IncidentState:
        tracks = session.scalars(select(IncidentTrackRow)
                                 .where(IncidentTrackRow.incident_id == row.id))
        order = {t: n for n, t in enumerate(TRACK_IDS)}
        return IncidentState(
            id=row.id, alert_id=row.alert_id, fingerprint=row.fingerprint, kind=row.kind,
            level=row.level, title=row.title, jurisdiction=row.jurisdiction,
            topics=tuple(row.topics or ()), terms=tuple(row.terms or ()),
            content_hashes=tuple(row.content_hashes or ()), sensitive=row.sensitive,
            status=row.status, opened_at=_aware(row.opened_at),
            updated_at=_aware(row.updated_at),
            acknowledged_at=from_db(row.acknowledged_at), acknowledged_by=row.acknowledged_by,
            resolved_at=from_db(row.resolved_at), resolved_by=row.resolved_by,
            closed_at=from_db(row.closed_at), closed_by=row.closed_by,
            official_post_id=row.official_post_id,
            official_statement_at=from_db(row.official_statement_at),
            progress_at=from_db(row.progress_at), escalated=tuple(row.escalated or ()),
            last_notified_at=from_db(row.last_notified_at), repeats=row.repeats,
            tracks=tuple(sorted((TrackState(
                track=t.track, unit=t.unit, started_at=from_db(t.started_at),
                started_by=t.started_by, done_at=from_db(t.done_at), done_by=t.done_by,
                notes=tuple(t.notes or ())) for t in tracks), key=lambda t: order[t.track])))


def _aware(value: datetime) -> datetime:
    aware = from_db(value)
    assert aware is not None
    return aware


def _merged(old: Sequence[Any] | None, new: Sequence[Any], keep: int = 200) -> list[Any]:
    # Capped: a spike that runs all day must not grow the row without bound.
    return list(dict.fromkeys([*(old or []), *new]))[:keep]


def _note(note: str) -> dict[str, str]:
    return {"note": note} if note else {}


def _silence(row: SilenceRow) -> Silence:
    return Silence(match=row.match, until=_aware(row.until), reason=row.reason,
                   created_by=row.created_by, id=row.id)
