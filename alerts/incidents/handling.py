"""Incident handling each cycle: alerts open or update incidents, official statements are
matched, timers escalate, the watchdog's findings become incidents.

The pure parts (routing facts, story terms, the statement matcher) come first; the rest hands
transitions of alerts.incidents.incident to warehouse.incidents, which stores each whole.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery.render import render_notification
from alerts.detection.detect import SPIKE, detect_all
from alerts.detection.records import Alert
from alerts.detection.surges import find_surges
from alerts.incidents import incident as domain
from alerts.incidents.incident import Change, IncidentOpening
from alerts.incidents.notices import (
    ESCALATION,
    LEVEL_RISEN,
    REMINDER,
    RESOLVED,
    ack_hint,
    render_incident_notice,
)
from alerts.incidents.roster import EMPTY_ROSTER, DutyRoster, jurisdiction_chain
from alerts.incidents.routing import (
    Route,
    Routing,
    Subject,
    escalation_route,
    recipients,
    route,
    silenced_by,
)
from alerts.incidents.timers import (
    OPEN_STATUSES,
    SYNC,
    TRACKS,
    new_breaches,
    repeat_due,
    sync_gaps,
)
from alerts.delivery.render import render_health
from alerts.incidents.watchdog import (
    CYCLES_PREFIX,
    SOURCE_PREFIX,
    WATCHDOG,
    HealthAlert,
    LedgerFacts,
    check_ledger,
    check_sources,
)
from alerts.levels import LEVELS
from alerts.settings import AlertSettings
from jingyu.timeutil import local_minute
from warehouse.incidents import IncidentStore
from warehouse.records import IncidentState, Mention, PostRow, Silence
from warehouse.store import StoredAlert, Warehouse

STORY_TERMS_KEPT = 30
MIN_SHARED_TERMS = 2
# Official posts are searched this far back at most, however old the open incident.
STATEMENT_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Desk:
    """What incident handling needs besides the warehouse: routing, roster, channels."""

    settings: AlertSettings
    routing: Routing = field(default_factory=Routing)
    roster: DutyRoster = EMPTY_ROSTER

    def route_for(self, subject: Subject, kind: str, at: datetime) -> Route:
        return route(subject, self.routing, self.roster, at, self.settings.channels_for)


@dataclass(frozen=True)
class Recorded:
    """One alert of the cycle and its incident."""

    alert_id: int
    title: str
    reason: str
    alert_outcome: str                 # new | escalated | unchanged (the alert row)
    incident_outcome: str              # opened | raised | unchanged
    silenced: bool


# ---- pure parts ---------------------------------------------------------------------------

def subject_of(alert: Alert, posts: Mapping[int, PostRow]) -> Subject:
    """Routing facts of an alert: its level and jurisdiction, its evidence posts' topics."""
    evidence = [posts[e.post_id] for e in alert.evidence if e.post_id in posts]
    return Subject(level=alert.level,
                   topics=tuple(dict.fromkeys(t for p in evidence for t in p.topics)),
                   high_risk=any(p.high_risk for p in evidence),
                   jurisdiction=alert.jurisdiction)


def story_terms(alert: Alert, posts: Mapping[int, PostRow]) -> tuple[str, ...]:
    """The keywords and police terms the evidence shares most, for matching statements."""
    counts = Counter(term for e in alert.evidence if e.post_id in posts
                     for term in {*posts[e.post_id].keywords, *posts[e.post_id].police_terms})
    return tuple(term for term, _ in counts.most_common(STORY_TERMS_KEPT))


def track_owners(roster: DutyRoster, jurisdiction: str | None) -> dict[str, str]:
    """Each track's default owner: the nearest unit (派出所 -> 分局 -> 市局) with its role."""
    chain = jurisdiction_chain(jurisdiction, roster.top_jurisdictions())
    owners = {}
    for track, (_, roles) in TRACKS.items():
        for place in chain:
            unit = next((u for u in roster.units.values()
                         if u.jurisdiction == place and set(u.roles) & set(roles)), None)
            if unit is not None:
                owners[track] = unit.name
                break
    return owners


def related_places(a: str | None, b: str | None) -> bool:
    """Same jurisdiction, or one lies within the other (an unknown place matches any)."""
    if not a or not b:
        return True
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def speaks_to(post: PostRow, incident: IncidentState) -> bool:
    """Is this an official statement in the incident's story?

    A stand-in until stories (issue 3) link posts: an official, police-related post in a
    related jurisdiction sharing >= 2 of the story's terms, or repeating one of its texts.
    """
    if not post.official or not post.police_related:
        return False
    if post.content_hash in incident.content_hashes:
        return True
    if not related_places(post.jurisdiction, incident.jurisdiction):
        return False
    shared = {*post.keywords, *post.police_terms} & set(incident.terms)
    return len(shared) >= MIN_SHARED_TERMS


# ---- against the warehouse ----------------------------------------------------------------

def raise_and_track(warehouse: Warehouse, desk: Desk, now: datetime, run_id: int | None = None,
                    topic_labels: Mapping[str, str] | None = None) -> list[Recorded]:
    """Detect, record each alert with its routed notifications, open or update incidents,
    and match official statements to open incidents."""
    settings = desk.settings
    recent = max(settings.spike.window, timedelta(hours=settings.sensitive_item.max_age_hours))
    posts = warehouse.posts_since(now - recent, until=now)
    surges = find_surges((Mention.of(p) for p in posts), warehouse.mentions_since, settings.spike,
                         now, coverage_start=warehouse.coverage_start)
    # Only a surge can continue an ongoing spike alert.
    ongoing = (warehouse.alert_fingerprints(SPIKE, since=now - settings.spike.follow)
               if surges else [])
    by_id = {p.id: p for p in posts}
    store = IncidentStore(warehouse)
    silences = (*desk.routing.silences, *store.silences(now))
    recorded = [record_with_incident(store, desk, alert, by_id, silences, now, run_id,
                                     event_of(alert, by_id))
                for alert in detect_all(posts, settings, now, topic_labels, surges, ongoing)]
    follow_event_merges(store, now)
    rise_with_events(store, desk, now)
    match_statements(store, now)
    return recorded


def follow_event_merges(store: IncidentStore, now: datetime) -> int:
    """Open incidents whose events the grouping has since made one (a lone post's event taken
    into a busy one, a post bridging two halves of a happening) become one incident: the
    earlier number carries on, the other closes pointing to it (domain.merge, in the audit
    trail as the system's). Never two a person split apart (IncidentStore.kept_apart).
    Returns how many were merged."""
    from warehouse.events import EventStore

    following = [i for i in store.incidents(limit=500, statuses=OPEN_STATUSES)
                 if i.kind != WATCHDOG and i.event_id is not None and i.merged_into is None]
    if len(following) < 2:
        return 0
    events = EventStore(store.warehouse)
    by_event: dict[int, list[int]] = {}
    for incident in following:
        by_event.setdefault(events.live_event(incident.event_id), []).append(incident.id)
    merged = 0
    apart = store.kept_apart([i.id for i in following])
    for ids in by_event.values():
        keep, *others = sorted(ids)
        for other in others:
            if frozenset((keep, other)) in apart:
                continue    # split by a person: only a person merges them again
            store.merge(keep, other, lambda k, o: domain.merge(
                k, o, domain.SYSTEM, now, note="同一事件：分组已将两者的事件合并"))
            merged += 1
    return merged


def rise_with_events(store: IncidentStore, desk: Desk, now: datetime) -> int:
    """分级预警 by spread: an open incident following an event is raised to the level its
    event's spread (posts + their reposts and comments, event_levels in alerts.yaml) allows,
    with the reason in its audit trail and one notice to those its new level routes to.
    Never lowers; a level a person lowered by hand holds until the event crosses a more
    severe threshold than the one it had reached then. Returns how many rose."""
    from warehouse.events import EventStore

    levels = desk.settings.event_levels
    if not levels.enabled:
        return 0
    following = [i for i in store.incidents(limit=500, statuses=OPEN_STATUSES)
                 if i.kind != WATCHDOG and i.event_id is not None and i.merged_into is None
                 and i.level > 1]
    if not following:
        return 0
    reach = EventStore(store.warehouse).reach(i.event_id for i in following)
    silences = (*desk.routing.silences, *store.silences(now))
    raised = 0
    for incident in following:
        spread = reach.get(incident.event_id or -1, 0)
        floor = levels.floor(spread)
        if floor is None or floor >= incident.level:
            continue
        held = _held_floor(store, incident.id)
        if held is False:      # lowered by hand since: this spread is what the hand weighed
            store.apply(incident.id, partial(
                domain.note, now=now, actor=domain.SYSTEM, action=domain.EVENT_LEVEL_HELD,
                detail={"floor": floor, "spread": spread,
                        "reason": f"事件传播 {spread:,} 条；级别已由人工调整，暂不随传播升级"}))
            continue
        silence = silenced_by(incident.fingerprint, silences, now)
        risen = replace(incident, level=floor)
        routed = desk.route_for(_subject(risen), incident.kind, now)
        threshold = levels.threshold(floor)
        lines = [f"事件传播 {spread:,} 条，达到{LEVELS[floor]['roman']}级阈值 {threshold:,} 条，"
                 f"级别由{LEVELS[incident.level]['roman']}级升为{LEVELS[floor]['roman']}级"]
        raised += _applied(store, incident.id, partial(
            domain.rise_with_event, floor=floor, spread=spread, threshold=threshold, now=now,
            held=held, notices=_notices(risen, LEVEL_RISEN, lines, routed, silence),
            detail=_detail(routed, silence)))
    return raised


def _held_floor(store: IncidentStore, incident_id: int) -> int | None | bool:
    """After a person last lowered the level by hand: the floor then noted as held (int),
    or False when none is noted yet; None when no person lowered it."""
    held: int | None | bool = None
    for event in store.events(incident_id):
        if event.action == "level_lowered" and event.actor != domain.SYSTEM:
            held = False
        elif event.action == domain.EVENT_LEVEL_HELD and held is False:
            held = int(event.detail["floor"])
    return held


def event_of(alert: Alert, posts: Mapping[int, PostRow]) -> int | None:
    """The real-world event an alert is about: the one carrying most of its evidence posts
    (a surge's evidence is its latest distinct texts), None when none has an event."""
    counts = Counter(posts[e.post_id].event_id for e in alert.evidence
                     if e.post_id in posts and posts[e.post_id].event_id is not None)
    if not counts:
        return None
    return max(counts, key=lambda event_id: (counts[event_id], -event_id))


def record_with_incident(store: IncidentStore, desk: Desk, alert: Alert,
                         posts: Mapping[int, PostRow], silences: Sequence[Silence],
                         now: datetime, run_id: int | None = None,
                         event_id: int | None = None) -> Recorded:
    """Record one alert (notifications routed, unless silenced) and open/update its incident:
    that of its real-world event when it has one, so one event is one incident."""
    subject = subject_of(alert, posts)
    routed = desk.route_for(subject, alert.kind, now)
    silence = silenced_by(alert.fingerprint, silences, now)
    queued = False

    def notify(alert_id: int, _version: int) -> list[tuple[str, dict[str, Any]]]:
        nonlocal queued
        if silence is not None:
            return []
        queued = True
        payload = render_notification(alert, alert_id)
        hint = ack_hint(alert_id, desk.routing.timers.ack_minutes)
        payload["text"] += "\n" + hint
        payload["markdown"] += f"\n- **{hint}**"
        payload["recipients"] = [r.document() for r in routed.recipients]
        payload["sensitive"] = routed.sensitive
        return [(channel, payload) for channel in routed.channels]

    detail = {"rules": list(routed.rules), "channels": list(routed.channels),
              "recipients": [r.name for r in routed.recipients]}

    def decide(stored: StoredAlert, first_detected_at: datetime,
               current: IncidentState | None) -> Change:
        notified = stored.outcome != "unchanged"
        opening = IncidentOpening(
            fingerprint=alert.fingerprint, kind=alert.kind, level=alert.level, title=alert.title,
            jurisdiction=alert.jurisdiction, topics=subject.topics,
            terms=story_terms(alert, posts),
            content_hashes=tuple(dict.fromkeys(posts[e.post_id].content_hash
                                               for e in alert.evidence if e.post_id in posts)),
            sensitive=routed.sensitive, detected_at=alert.detected_at,
            track_units=track_owners(desk.roster, alert.jurisdiction) if alert.kind != WATCHDOG
            else {},
            notified=queued,
            detail={**detail, "silenced_by": silence.match} if silence and notified else detail)
        change = domain.take_alert(current, stored.alert_id, opening, first_detected_at,
                                   alert_rose=notified)
        if silence is not None and notified and change.outcome == "unchanged" and (
                current is None or current.fingerprint == alert.fingerprint):
            change = change.plus(domain.Event("notification_silenced", domain.SYSTEM, now, {
                "silenced_by": silence.match, "until": silence.until}))
        return change

    stored, _, change = store.record(
        alert, notify, decide, run_id=run_id, event_id=event_id,
        admit=lambda current: domain.worth_notifying(current, alert.level, routed.sensitive))
    return Recorded(alert_id=stored.alert_id, title=alert.title, reason=alert.reason,
                    alert_outcome=stored.outcome,
                    incident_outcome=change.outcome, silenced=silence is not None)


def match_statements(store: IncidentStore, now: datetime) -> int:
    """Record official statements about open incidents; returns how many.

    An incident following an event takes the official posts of that event, whenever they
    were published: a statement before detection is recorded with a negative delay (the
    police spoke first), and its statement timer does not escalate. Official posts after
    the incident opened that share its story terms (speaks_to) count too."""
    waiting = [i for i in store.incidents(limit=500, statuses=OPEN_STATUSES)
               if i.kind != WATCHDOG and (i.official_statement_at is None or i.progress_at is None)]
    if not waiting:
        return 0
    by_event = store.official_posts_of_events(
        sorted({i.event_id for i in waiting if i.event_id is not None}))
    posts = store.official_posts_since(max(min(i.opened_at for i in waiting),
                                           now - STATEMENT_LOOKBACK))
    hashes = {p.id: p.content_hash for p in (*posts, *(p for ps in by_event.values() for p in ps))}
    found = 0
    for incident in waiting:
        candidates = {p.id: p for p in by_event.get(incident.event_id or -1, ())}
        candidates.update({p.id: p for p in posts
                           if p.seen_at >= incident.opened_at and speaks_to(p, incident)})
        for post in sorted(candidates.values(), key=lambda p: (p.seen_at, p.id)):
            if (incident.official_statement_at is not None
                    and (post.seen_at <= incident.official_statement_at
                         or hashes.get(incident.official_post_id or -1) == post.content_hash)):
                continue   # the statement itself, or a repost of it, is no progress
            updated = store.apply(incident.id, partial(
                domain.record_statement, at=post.seen_at, by=domain.SYSTEM, post_id=post.id,
                url=post.url))
            if updated is None:
                continue
            found += 1
            incident = updated
            if incident.progress_at is not None:
                break
    return found


def tend_incidents(warehouse: Warehouse, desk: Desk, now: datetime) -> dict[str, int]:
    """Escalate breached timers and out-of-sync tracks to the 带班领导, remind about
    unacknowledged incidents. Safe to run from the monitor and the watchdog alike."""
    store = IncidentStore(warehouse)
    silences = (*desk.routing.silences, *store.silences(now))
    timers = desk.routing.timers
    report = {"escalated": 0, "reminded": 0, "out_of_sync": 0}
    for incident in store.incidents(limit=500, statuses=OPEN_STATUSES):
        if incident.kind == WATCHDOG:
            continue   # an old health incident: no timers (watch settles it)
        silence = silenced_by(incident.fingerprint, silences, now)
        leaders = escalation_route(incident.jurisdiction, desk.routing, desk.roster, now,
                                   desk.settings.channels_for)
        for breach in new_breaches(incident, timers, now):
            lines = [f"{breach.label}超时：应于 {local_minute(breach.due_at)} 前完成，"
                     f"已超出 {_minutes(breach.overdue)} 分钟"]
            report["escalated"] += _applied(store, incident.id, partial(
                domain.escalate, timer=breach.timer, now=now,
                notices=_notices(incident, ESCALATION, lines, leaders, silence),
                detail=_detail(leaders, silence, overdue_minutes=_minutes(breach.overdue))))
        gaps = sync_gaps(incident.tracks, now, timedelta(minutes=timers.sync_minutes))
        if gaps:
            report["out_of_sync"] += 1
        if gaps and SYNC not in incident.escalated:
            names = {t: name for t, (name, _) in TRACKS.items()}
            lines = [f"三同步未同步：{names[gaps[0].leader]}已启动 {_minutes(gaps[0].behind)} 分钟，"
                     + "、".join(names[g.lagging] for g in gaps) + " 尚未启动"]
            report["escalated"] += _applied(store, incident.id, partial(
                domain.escalate, timer=SYNC, now=now,
                notices=_notices(incident, ESCALATION, lines, leaders, silence),
                detail=_detail(leaders, silence, lagging=[g.lagging for g in gaps])))
        if silence is None and repeat_due(incident, timers, now):
            routed = desk.route_for(_subject(incident), incident.kind, now)
            lines = [f"本事件尚未签收，第 {incident.repeats + 1} 次提醒"]
            report["reminded"] += _applied(store, incident.id, partial(
                domain.remind, now=now, every=timedelta(minutes=timers.repeat_minutes),
                notices=_notices(incident, REMINDER, lines, routed, None),
                detail=_detail(routed, None)))
    return report


def resolve_incident(warehouse: Warehouse, desk: Desk, incident_id: int, by: str,
                     now: datetime, note: str = "", via: str = "") -> IncidentState:
    """Mark an incident resolved and tell those it was routed to (unless silenced)."""
    store = IncidentStore(warehouse)
    silences = (*desk.routing.silences, *store.silences(now))

    def decide(incident: IncidentState) -> Change:
        silence = silenced_by(incident.fingerprint, silences, now)
        notices: list[tuple[str, dict[str, Any]]] = []
        if desk.routing.timers.notify_resolved and incident.status in OPEN_STATUSES:
            routed = desk.route_for(_subject(incident), incident.kind, now)
            lines = [f"{by} 于 {local_minute(now)} 标记为已处置" + (f"：{note}" if note else "")]
            # Rendered as it will be once resolved: the notice must not read "状态：new".
            resolved = replace(incident, status="resolved", resolved_at=now, resolved_by=by)
            notices = _notices(resolved, RESOLVED, lines, routed, silence)
        return domain.resolve(incident, by, now, note, notices, via)

    resolved = store.apply(incident_id, decide)
    assert resolved is not None
    return resolved


@dataclass(frozen=True)
class HealthReport:
    """What one watch found: the 系统告警 raised (new), still open, recovered, and where
    they go (the operators' channels, or the fallback when none is configured)."""

    raised: tuple[Recorded, ...]
    open: tuple[str, ...]              # titles of the health alerts still open
    recovered: tuple[str, ...]         # titles of those that recovered now
    channels: tuple[str, ...]
    fallback: bool                     # no operators channel: sent to the duty log channels


def watch(warehouse: Warehouse, desk: Desk, now: datetime, *, cycles: bool = True
          ) -> HealthReport:
    """Watching the watcher: 系统告警 for sources that fail, are blocked or went quiet, and
    with `cycles` for a monitor that has not completed a cycle for too long.

    Health alerts go to the operators (alerts.yaml channels with audience: operators), once
    per episode; what was checked and is no longer found has recovered, which is said once.
    They have no warning level and open no incident, so they never rank with opinion
    alerts, reach the duty board or start escalation timers."""
    settings = desk.routing.watchdog
    store = IncidentStore(warehouse)
    channels, fallback = desk.settings.health_channels()
    operators = recipients(desk.roster.operators_on_duty(now))
    found: list[HealthAlert] = []
    if cycles:
        last_success, first_run = store.ledger()
        found += check_ledger(LedgerFacts(last_success, first_run), settings, now)
    found += check_sources(store.source_yields(now, timedelta(hours=settings.silent_hours)),
                           settings, now)
    silences = (*desk.routing.silences, *store.silences(now))
    raised = []
    for alert in found:
        silence = silenced_by(alert.fingerprint, silences, now)

        def notify(alert_id: int, _version: int, alert: HealthAlert = alert,
                   silence: Silence | None = silence) -> list[tuple[str, dict[str, Any]]]:
            if silence is not None:
                return []
            payload = render_health(alert, alert_id, fallback=fallback,
                                    operators=operators)
            return [(channel, payload) for channel in channels]

        stored = warehouse.record_alert(alert, notify)
        raised.append(Recorded(alert_id=stored.alert_id, title=alert.title, reason=alert.reason,
                               alert_outcome=stored.outcome, incident_outcome="none",
                               silenced=silence is not None))
    checked = (SOURCE_PREFIX, CYCLES_PREFIX) if cycles else (SOURCE_PREFIX,)
    current = {alert.fingerprint for alert in found}
    recovered = []
    for row in warehouse.open_health_alerts():
        if not row["fingerprint"].startswith(checked) or row["fingerprint"] in current:
            continue
        alert = HealthAlert(fingerprint=row["fingerprint"], title=row["title"],
                            reason=row["reason"], jurisdiction=row["jurisdiction"],
                            detected_at=row["first_detected_at"])
        silence = silenced_by(alert.fingerprint, silences, now)

        def notify_recovery(alert_id: int, _version: int, alert: HealthAlert = alert,
                            silence: Silence | None = silence
                            ) -> list[tuple[str, dict[str, Any]]]:
            if silence is not None:
                return []
            payload = render_health(alert, alert_id, recovered_at=now, fallback=fallback,
                                    operators=operators)
            return [(channel, payload) for channel in channels]

        if warehouse.resolve_health_alert(row["id"], now, notify_recovery):
            recovered.append(row["title"])
    settle_health_incidents(store, now)
    still = tuple(r["title"] for r in warehouse.open_health_alerts())
    return HealthReport(raised=tuple(raised), open=still, recovered=tuple(recovered),
                        channels=channels, fallback=fallback)


def settle_health_incidents(store: IncidentStore, now: datetime) -> int:
    """Close, without notifying anyone, the incidents opened for health problems before they
    became 系统告警 (kind watchdog): they do not belong on the duty board. Returns how many."""
    def decide(incident: IncidentState) -> Change | None:
        if incident.kind != WATCHDOG or incident.status not in OPEN_STATUSES:
            return None     # another watchdog closed it first
        return domain.close(incident, WATCHDOG, now, "系统告警改由运维渠道通知，不再作为值班事件")

    return sum(_applied(store, incident.id, decide)
               for incident in store.incidents(limit=500, statuses=OPEN_STATUSES)
               if incident.kind == WATCHDOG)


def _applied(store: IncidentStore, incident_id: int,
             decide: Callable[[IncidentState], Change | None]) -> int:
    """1 if the transition changed the incident, else 0 (for the cycle's counts)."""
    return int(store.apply(incident_id, decide) is not None)


def _subject(incident: IncidentState) -> Subject:
    return Subject(level=incident.level, topics=incident.topics, high_risk=incident.sensitive,
                   jurisdiction=incident.jurisdiction)


def _notices(incident: IncidentState, notice: str, lines: list[str], routed: Route,
             silence: Silence | None) -> list[tuple[str, dict[str, Any]]]:
    if silence is not None:
        return []
    payload = render_incident_notice(incident, notice, lines, routed)
    return [(channel, payload) for channel in routed.channels]


def _detail(routed: Route, silence: Silence | None, **extra: Any) -> dict[str, Any]:
    detail = {"recipients": [r.name for r in routed.recipients], **extra}
    if silence is not None:
        detail["silenced_by"] = silence.match
    return detail


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
