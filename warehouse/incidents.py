"""Incidents, their 三同步 tracks, the audit trail and silences; and what the watchdog reads."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from jingyu.timeutil import as_utc_naive, from_db
from warehouse.models import (
    AlertRow,
    EventPostRow,
    EventSeparation,
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
from warehouse.events import (
    events_of_posts,
    headline,
    live_event,
    merge_events,
    move_posts,
    separate_events,
)
from warehouse.store import AlertLike, Notifier, StoredAlert, Warehouse, _json


class NoSuchIncident(LookupError):
    """No incident (or alert) with that id."""


class EventLike(Protocol):
    """An audit line to write (alerts.incidents.incident.Event satisfies it)."""

    action: str
    actor: str
    at: datetime
    detail: Mapping[str, Any]


class NoticeLike(Protocol):
    """A notification to queue (alerts.incidents.incident.Notice satisfies it)."""

    channel: str
    payload: Mapping[str, Any]
    occasion: str
    at: datetime


class ChangeLike(Protocol):
    """What a domain transition decided (alerts.incidents.incident.Change satisfies it)."""

    @property
    def incident(self) -> IncidentState: ...

    @property
    def events(self) -> Sequence[EventLike]: ...

    @property
    def notices(self) -> Sequence[NoticeLike]: ...


# The incident of a recorded alert, as it stands (None: none yet) -> what becomes of it.
IncidentDecision = Callable[[StoredAlert, datetime, IncidentState | None], ChangeLike]


class IncidentStore:
    """Persistence of incidents. The rules live in alerts.incidents.incident; each write here
    is one transaction that stores a Change whole: incident, tracks, events and outbox."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._session = sessionmaker(warehouse.engine, expire_on_commit=False)

    # ---- writing -------------------------------------------------------------------------

    def record(self, alert: AlertLike, notify: Notifier, decide: IncidentDecision,
               run_id: int | None = None, event_id: int | None = None,
               admit: Callable[[IncidentState | None], bool] | None = None
               ) -> tuple[StoredAlert, IncidentState, ChangeLike]:
        """Record an alert with its notifications (Warehouse.record_alert) and open or update
        its incident as `decide` says, all in one transaction.

        The incident is the alert's own, else the one of its real-world event (`event_id`):
        a sensitive item, a surge and later posts of one event update one incident. `admit`
        says, from the incident as it stands, whether the alert's notifications are queued
        (an alert joining an event's incident pages only for what the officer must know);
        they carry the incident's number."""
        with self._session.begin() as session:
            row = self._incident_of(session, alert.fingerprint, event_id)
            current = self._state(session, row) if row is not None else None
            allowed = admit is None or admit(current)

            def gated(alert_id: int, version: int) -> list[tuple[str, dict[str, Any]]]:
                if not allowed:
                    return []
                return notify(current.id if current is not None else alert_id, version)

            stored, first_detected_at = self.warehouse.record_alert_in(session, alert, gated,
                                                                       run_id)
            change = decide(stored, from_db(first_detected_at) or alert.detected_at, current)
            saved = self._save(session, row, change)
            if event_id is not None and saved.event_id is None:
                session.execute(update(IncidentRow).where(IncidentRow.id == saved.id)
                                .values(event_id=event_id))
                saved = replace(saved, event_id=event_id)
            session.execute(update(AlertRow).where(AlertRow.id == stored.alert_id)
                            .values(incident_id=saved.id))
            return stored, saved, change

    @staticmethod
    def _incident_of(session: Session, fingerprint: str, event_id: int | None
                     ) -> IncidentRow | None:
        """The incident an alert updates, locked: the newest incident following its event
        (`event_id`, the one carrying most of its evidence), else the one it updated before
        (its own or its event's); through merges."""
        row = session.scalar(select(IncidentRow).where(IncidentRow.fingerprint == fingerprint)
                             .with_for_update())
        if row is None:
            attached = session.scalar(select(AlertRow.incident_id)
                                      .where(AlertRow.fingerprint == fingerprint))
            if attached is not None:
                row = session.get(IncidentRow, attached, with_for_update=True)
        seen: set[int] = set()
        while row is not None and row.merged_into is not None and row.id not in seen:
            seen.add(row.id)
            row = session.get(IncidentRow, row.merged_into, with_for_update=True)
        if event_id is not None and (row is None or row.event_id is None
                                     or live_event(session, row.event_id) != event_id):
            # An alert whose evidence is now mostly another event's (a city-wide surge the
            # next happening takes over) goes to the incident following that event, if any.
            following = session.scalar(select(IncidentRow)
                                       .where(IncidentRow.event_id == event_id,
                                              IncidentRow.merged_into.is_(None))
                                       .order_by(IncidentRow.id.desc()).limit(1)
                                       .with_for_update())
            if following is not None:
                row = following
        return row

    def apply(self, incident_id: int, decide: Callable[[IncidentState], ChangeLike | None]
              ) -> IncidentState | None:
        """Run one transition on the incident as it stands, under its row lock, and store
        what it decided. None when `decide` found nothing to do. Two officers acting at once
        are served one after the other: the second sees the first one's change."""
        with self._session.begin() as session:
            row = self._locked(session, incident_id)
            change = decide(self._state(session, row))
            if change is None:
                return None
            return self._save(session, row, change)

    def merge(self, keep_id: int, other_id: int,
              decide: Callable[[IncidentState, IncidentState], tuple[ChangeLike, ChangeLike]],
              by_hand: bool = False) -> IncidentState:
        """Merge incident `other_id` into `keep_id` as `decide` says, in one transaction: both
        changes stored, the other's alerts and event follow the kept one. Events a person
        split apart merge only `by_hand` (a person's merge): the split is lifted, in the kept
        incident's audit trail; otherwise warehouse.events.EventsKeptApart."""
        with self._session.begin() as session:
            rows = {i: self._locked(session, i) for i in sorted({keep_id, other_id})}
            keep_change, other_change = decide(self._state(session, rows[keep_id]),
                                               self._state(session, rows[other_id]))
            other = self._save(session, rows[other_id], other_change)
            kept = self._save(session, rows[keep_id], keep_change)
            session.execute(update(AlertRow).where(
                (AlertRow.incident_id == other_id) | (AlertRow.id == other.alert_id))
                .values(incident_id=keep_id))
            # The events they follow now (the grouping may have merged either since).
            kept_event = live_event(session, kept.event_id) if kept.event_id else None
            other_event = live_event(session, other.event_id) if other.event_id else None
            if kept_event is not None:
                rows[keep_id].event_id = kept_event
            if other_event is not None and other_event != kept_event:
                if kept_event is None:
                    rows[keep_id].event_id = other_event
                else:
                    actor = next((e.actor for e in keep_change.events), "system")
                    at = next((e.at for e in keep_change.events), None)
                    for lifted in merge_events(session, kept_event, other_event,
                                               lift_by=actor if by_hand else None, at=at):
                        session.add(IncidentEventRow(
                            incident_id=keep_id, at=as_utc_naive(at or kept.updated_at),
                            actor=actor, action="split_lifted", detail=_json({
                                "events": [lifted.event_id, lifted.apart_from],
                                "split_by": lifted.created_by,
                                "split_at": lifted.created_at,
                                "incidents": [lifted.incident_id, lifted.split_incident_id]})))
            if rows[keep_id].event_id is not None:
                rows[other_id].event_id = rows[keep_id].event_id
            session.flush()
            return self._state(session, rows[keep_id])

    def split(self, incident_id: int, post_ids: Sequence[int], now: datetime,
              decide: Callable[[IncidentState, int, str], tuple[ChangeLike, ChangeLike]]
              ) -> IncidentState:
        """Posts of an incident's event that are another happening leave it: a new alert
        holds them as evidence, a new incident (the alert's number) follows them, and they
        move to an event of their own. Returns the new incident."""
        with self._session.begin() as session:
            row = self._locked(session, incident_id)
            state = self._state(session, row)
            posts = list(session.scalars(select(Post).where(Post.id.in_(list(post_ids)))))
            missing = sorted(set(post_ids) - {p.id for p in posts})
            if missing:
                raise NoSuchIncident(f"no post {', '.join(map(str, missing))}")
            if state.event_id is not None:
                events = events_of_posts(session, post_ids)
                outside = sorted(p for p in post_ids
                                 if live_event(session, events.get(p, -1)) != state.event_id)
                if outside:
                    raise NoSuchIncident(f"post {', '.join(map(str, outside))} is not in the "
                                         f"event of incident {incident_id}")
            posts.sort(key=lambda p: (p.seen_at, p.id))
            stamp = as_utc_naive(now)
            alert = AlertRow(
                fingerprint=f"split:{incident_id}:{stamp.isoformat()}:{posts[0].id}",
                kind=state.kind, level=state.level,
                title="拆分：" + headline(posts[0].title, posts[0].text),
                reason=f"从事件 #{incident_id} 拆分出的 {len(posts)} 条信息",
                evidence=_json([{"post_id": p.id, "url": p.url,
                                 "title": headline(p.title, p.text), "source_id": p.source_id,
                                 "published_at": p.published_at} for p in posts]),
                jurisdiction=state.jurisdiction, status="open", version=1,
                first_detected_at=stamp, last_detected_at=stamp)
            session.add(alert)
            session.flush()
            old_change, new_change = decide(state, alert.id, alert.title)
            self._save(session, row, old_change)
            new = self._save(session, None, new_change)
            alert.incident_id = new.id
            new_row = session.get_one(IncidentRow, new.id)
            old_events = {live_event(session, e) for e in
                          events_of_posts(session, [p.id for p in posts]).values()}
            new_row.event_id = move_posts(session, [p.id for p in posts], None, "split")
            # Binding: the grouping never brings them back together (nor the system's merge
            # of incidents); a person's merge of the two incidents lifts it.
            by = next((e.actor for e in new_change.events), "system")
            for event_id in sorted(old_events):
                separate_events(session, event_id, new_row.event_id, by, now,
                                [p.id for p in posts], incident_id, new.id)
            new_row.content_hashes = list(dict.fromkeys(p.content_hash for p in posts))
            session.flush()
            return self._state(session, new_row)

    def kept_apart(self, incident_ids: Sequence[int]) -> set[frozenset[int]]:
        """Pairs of these incidents a person split apart (a standing split between them)."""
        ids = list(set(incident_ids))
        found: set[frozenset[int]] = set()
        with self._session() as session:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for a, b in session.execute(
                        select(EventSeparation.incident_id, EventSeparation.split_incident_id)
                        .where(EventSeparation.lifted_at.is_(None),
                               EventSeparation.incident_id.in_(chunk)
                               | EventSeparation.split_incident_id.in_(chunk))):
                    if a is not None and b is not None:
                        found.add(frozenset((a, b)))
        return found

    def add_silence(self, silence: Silence, now: datetime) -> Silence:
        with self._session.begin() as session:
            row = SilenceRow(match=silence.match, until=as_utc_naive(silence.until),
                             reason=silence.reason, created_by=silence.created_by,
                             created_at=as_utc_naive(now))
            session.add(row)
            session.flush()
            return _silence(row)

    # ---- reading -------------------------------------------------------------------------

    def get(self, incident_id: int) -> IncidentState:
        with self._session() as session:
            return self._state(session, self._row(session, incident_id))

    def incidents(self, limit: int = 50, statuses: Sequence[str] | None = None,
                  within: str | None = None) -> list[IncidentState]:
        """Newest first; `statuses` restricts (e.g. the open ones), and so does `within`: a
        jurisdiction id, whose incidents and those of the places below it are kept."""
        with self._session() as session:
            query = select(IncidentRow).order_by(IncidentRow.updated_at.desc(),
                                                  IncidentRow.id.desc())
            if statuses:
                query = query.where(IncidentRow.status.in_(list(statuses)))
            if within is not None:
                query = query.where((IncidentRow.jurisdiction == within)
                                    | IncidentRow.jurisdiction.startswith(within + ".",
                                                                          autoescape=True))
            return self._states(session, list(session.scalars(query.limit(limit))))

    def change_stamp(self) -> str:
        """Changes whenever an incident opens or changes or its audit trail grows: a page
        showing incidents is stale when the stamp it was drawn with differs."""
        with self._session() as session:
            updated, count = session.execute(
                select(func.max(IncidentRow.updated_at), func.count(IncidentRow.id))).one()
            last_event = session.scalar(select(func.max(IncidentEventRow.id)))
            return f"{count}-{last_event or 0}-{updated.isoformat() if updated else ''}"

    def by_ids(self, ids: Sequence[int]) -> dict[int, IncidentState]:
        with self._session() as session:
            rows = list(session.scalars(select(IncidentRow)
                                        .where(IncidentRow.id.in_(list(ids)))))
            return {state.id: state for state in self._states(session, rows)}

    def alert(self, alert_id: int) -> dict[str, Any]:
        """The alert behind an incident: reason and evidence, for `jingyu alerts show`."""
        with self._session() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise NoSuchIncident(f"no alert {alert_id}")
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
        """Notifications about the incident's alerts (its own and those that joined it):
        channel, key, status, when."""
        with self._session() as session:
            alert_id = self._row(session, incident_id).alert_id
            joined = select(AlertRow.id).where(AlertRow.incident_id == incident_id)
            rows = session.scalars(select(OutboxRow).where(
                (OutboxRow.alert_id == alert_id) | OutboxRow.alert_id.in_(joined))
                                   .order_by(OutboxRow.id))
            return [{"channel": r.channel, "key": r.idempotency_key, "status": r.status,
                     "created_at": from_db(r.created_at), "sent_at": from_db(r.sent_at),
                     "attempts": r.attempts, "last_error": r.last_error,
                     "next_attempt_at": from_db(r.next_attempt_at),
                     "recipients": list((r.payload or {}).get("recipients") or [])}
                    for r in rows]

    def alerts_of(self, incident_id: int) -> list[dict[str, Any]]:
        """The alerts an incident carries (its own first): id, kind, level, title, when."""
        with self._session() as session:
            own = self._row(session, incident_id).alert_id
            rows = session.scalars(select(AlertRow).where(
                (AlertRow.id == own) | (AlertRow.incident_id == incident_id))
                                   .order_by(AlertRow.first_detected_at, AlertRow.id))
            return [{"id": r.id, "kind": r.kind, "level": r.level, "title": r.title,
                     "first_detected_at": _aware(r.first_detected_at),
                     "evidence": list(r.evidence or [])} for r in rows]

    def official_posts_of_events(self, event_ids: Sequence[int]) -> dict[int, list[PostRow]]:
        """Police-related posts of official sources in each event, whenever published,
        oldest first."""
        found: dict[int, list[PostRow]] = {}
        if not event_ids:
            return found
        with self._session() as session:
            official = [sid for sid, tags in session.execute(select(Source.id, Source.tags))
                        if "official" in (tags or [])]
            if not official:
                return found
            rows = session.execute(
                select(Post, EventPostRow.event_id)
                .join(EventPostRow, EventPostRow.post_id == Post.id)
                .where(EventPostRow.event_id.in_(list(event_ids)),
                       Post.source_id.in_(official), Post.police_related.is_(True))
                .order_by(Post.seen_at, Post.id))
            for post, event_id in rows:
                found.setdefault(event_id, []).append(
                    Warehouse._post_row(post, True, event_id))
        return found

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
                # Today's window has no upper end: a cycle checks at its end with `now` its
                # start, and what it fetched since (stamped later) is not silence.
                return dict(session.execute(
                    select(Post.source_id, func.count())
                    .where(Post.fetched_at > upper - window,
                           *([Post.fetched_at <= upper] if day else []))
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
                new_in_window=today.get(s.id, 0), usual_days=usual.get(s.id, 0),
                failure_class=s.failure_class, failing_since=from_db(s.failing_since),
                disabled_at=from_db(s.disabled_at), disabled_reason=s.disabled_reason)
                for s in session.scalars(select(Source).where(Source.enabled.is_(True))
                                         .order_by(Source.id))]

    # ---- helpers -------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, incident_id: int) -> IncidentRow:
        row = session.get(IncidentRow, incident_id)
        if row is None:
            raise NoSuchIncident(f"no incident {incident_id}")
        return row

    @staticmethod
    def _locked(session: Session, incident_id: int) -> IncidentRow:
        # Writing first takes the row lock on PostgreSQL and the write lock on SQLite, so the
        # state read next is the newest and nobody changes it before this transaction ends.
        touched = session.execute(update(IncidentRow).where(IncidentRow.id == incident_id)
                                  .values(updated_at=IncidentRow.updated_at))
        if touched.rowcount == 0:  # type: ignore[attr-defined]
            raise NoSuchIncident(f"no incident {incident_id}")
        return session.get_one(IncidentRow, incident_id)

    @staticmethod
    def _save(session: Session, row: IncidentRow | None, change: ChangeLike) -> IncidentState:
        state = change.incident
        columns = dict(
            level=state.level, title=state.title, jurisdiction=state.jurisdiction,
            topics=list(state.topics), terms=list(state.terms),
            content_hashes=list(state.content_hashes), sensitive=state.sensitive,
            status=str(state.status), updated_at=as_utc_naive(state.updated_at),
            acknowledged_at=_naive(state.acknowledged_at), acknowledged_by=state.acknowledged_by,
            resolved_at=_naive(state.resolved_at), resolved_by=state.resolved_by,
            closed_at=_naive(state.closed_at), closed_by=state.closed_by,
            official_post_id=state.official_post_id,
            official_statement_at=_naive(state.official_statement_at),
            progress_at=_naive(state.progress_at), escalated=list(state.escalated),
            last_notified_at=_naive(state.last_notified_at), repeats=state.repeats,
            event_id=state.event_id, merged_into=state.merged_into)
        if row is None:
            row = IncidentRow(id=state.id, alert_id=state.alert_id, fingerprint=state.fingerprint,
                              kind=state.kind, opened_at=as_utc_naive(state.opened_at), **columns)
            session.add(row)
            session.flush()
            lines = {}
        else:
            for name, value in columns.items():
                setattr(row, name, value)
            lines = {t.track: t for t in session.scalars(
                select(IncidentTrackRow).where(IncidentTrackRow.incident_id == row.id))}
        for track in state.tracks:
            line = lines.get(track.track)
            if line is None:
                line = IncidentTrackRow(incident_id=row.id, track=track.track)
                session.add(line)
            line.unit, line.notes = track.unit, list(track.notes)
            line.started_at, line.started_by = _naive(track.started_at), track.started_by
            line.done_at, line.done_by = _naive(track.done_at), track.done_by
        for event in change.events:
            session.add(IncidentEventRow(incident_id=row.id, at=as_utc_naive(event.at),
                                         actor=event.actor, action=event.action,
                                         detail=_json(dict(event.detail))))
        for notice in change.notices:
            stamp = as_utc_naive(notice.at)
            session.add(OutboxRow(
                alert_id=row.alert_id, channel=notice.channel,
                idempotency_key=f"incident:{row.id}:{notice.occasion}@{notice.channel}",
                payload=_json(dict(notice.payload)), status="pending", attempts=0,
                created_at=stamp, next_attempt_at=stamp))
        session.flush()
        return IncidentStore._state(session, row)

    @staticmethod
    def _states(session: Session, rows: Sequence[IncidentRow]) -> list[IncidentState]:
        """Many incidents with their tracks read in one query (the board shows hundreds)."""
        tracks: dict[int, list[IncidentTrackRow]] = {row.id: [] for row in rows}
        if rows:
            for line in session.scalars(select(IncidentTrackRow)
                                        .where(IncidentTrackRow.incident_id.in_(list(tracks)))
                                        .order_by(IncidentTrackRow.id)):
                tracks[line.incident_id].append(line)
        return [IncidentStore._state(session, row, tracks[row.id]) for row in rows]

    @staticmethod
    def _state(session: Session, row: IncidentRow,
               lines: Sequence[IncidentTrackRow] | None = None) -> IncidentState:
        # Written in the order of alerts.incidents.incident.Track when the incident opened.
        tracks = lines if lines is not None else session.scalars(
            select(IncidentTrackRow).where(IncidentTrackRow.incident_id == row.id)
            .order_by(IncidentTrackRow.id))
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
            event_id=row.event_id, merged_into=row.merged_into,
            tracks=tuple(TrackState(
                track=t.track, unit=t.unit, started_at=from_db(t.started_at),
                started_by=t.started_by, done_at=from_db(t.done_at), done_by=t.done_by,
                notes=tuple(t.notes or ())) for t in tracks))


def _aware(value: datetime) -> datetime:
    aware = from_db(value)
    assert aware is not None
    return aware


def _naive(value: datetime | None) -> datetime | None:
    return as_utc_naive(value) if value is not None else None


def _silence(row: SilenceRow) -> Silence:
    return Silence(match=row.match, until=_aware(row.until), reason=row.reason,
                   created_by=row.created_by, id=row.id)
