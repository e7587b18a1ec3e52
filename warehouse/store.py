"""The warehouse's operations: idempotent loads, the run ledger, alerts and the outbox."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import Engine, Text, cast, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, aliased, sessionmaker

from collectors.failures import (ADVICE, FailureClass, FailurePolicy, after_fetch,
                                 class_of_message)
from collectors.kinds import history_kinds
from collectors.polling import next_interval
from collectors.records import FETCH_ERROR, FETCH_OK, FetchResult, SourceConfig, SourceCursor
from jingyu.display import excerpt
from jingyu.timeutil import as_utc_naive, from_db, utcnow
from transforms.records import NEGATIVE, ScoredPost
from warehouse.db import database_url, ensure_schema, make_engine, one_at_a_time, one_writer
from warehouse.ledger import account, orphaned_runs, process_identity, settle
from warehouse.models import (AlertRow, EventPostRow, OutboxRow, Post, PostTopic, RobotPost, Run, RunSource,
                              Source)
from warehouse.records import HEALTH_KIND, Mention, OutboxMessage, PostRow
from warehouse.events import EventMember, headline, join_events
from warehouse.stories import StoryMember, StorySummary, join_stories, story_summaries

SEEN_IDS_KEPT = 200
AUTHOR_CHARS = 200            # posts.author
PLATFORM_CHARS = 40           # posts.platform
# Chat robots' posts are kept this long (the longest platform window is a minute or an hour).
ROBOT_POSTS_KEPT = timedelta(days=1)
# How long a delivery pass holds the messages it claimed (renewed before each send): longer
# than one send takes (a 10 s timeout, a 2 s budget wait), short enough that messages a dead
# pass held go out on the next cycle.
OUTBOX_LEASE = timedelta(seconds=90)
# Cycles start a little early or late (scheduler polling, process start-up, a manual run):
# a source counts as due this much before its interval is up, at most a fifth of it.
POLL_JITTER = timedelta(seconds=30)


def _outbox_message(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(id=row.id, alert_id=row.alert_id, channel=row.channel,
                         idempotency_key=row.idempotency_key, payload=dict(row.payload),
                         attempts=row.attempts)


def poll_is_due(poll_minutes: int, last_scheduled: datetime | None, now: datetime) -> bool:
    """Due when the interval has passed since the last scheduled fetch, less the jitter
    tolerance: a 1-minute source is fetched by every 1-minute cycle, not every other."""
    if last_scheduled is None:
        return True
    interval = timedelta(minutes=poll_minutes)
    return now - last_scheduled >= interval - min(POLL_JITTER, interval / 5)


def link_threads(session: Session, source_id: str, new_ids: Sequence[int],
                 new_external_ids: Sequence[str]) -> None:
    """Set parent_id of the new posts that name a parent, and of stored posts whose parent
    is among the new ones: parents are looked up within the same source."""
    if not new_ids:
        return
    parent = aliased(Post)
    for chunk in range(0, len(new_ids), 500):
        ids = list(new_ids[chunk:chunk + 500])
        external = list(new_external_ids[chunk:chunk + 500])
        session.execute(
            update(Post)
            .where(Post.source_id == source_id, Post.parent_id.is_(None),
                   Post.parent_external_id.is_not(None),
                   or_(Post.id.in_(ids), Post.parent_external_id.in_(external)))
            .values(parent_id=select(parent.id)
                    .where(parent.source_id == Post.source_id,
                           parent.external_id == Post.parent_external_id)
                    .scalar_subquery())
            .execution_options(synchronize_session=False))


THREAD_DEPTH = 5        # comments of comments … followed this deep


def police_threads(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Comments and reposts in a police-related thread count as police-related (surges,
    negative share), whatever their own words: "太过分了" under a video of an officer is
    opinion about the police; their stance was read when they were scored
    (transforms.scoring). Looks at `post_ids` and their direct children (a parent stored
    after its comments), then down the thread. Returns the posts it marked."""
    marked: set[int] = set()
    frontier = list(post_ids)
    parent = aliased(Post)
    for _ in range(THREAD_DEPTH):
        found: list[int] = []
        for chunk in range(0, len(frontier), 500):
            ids = frontier[chunk:chunk + 500]
            # Found through the new posts' indexes (id, parent_id), each parent by its key:
            # never a scan of all police-related posts, once per source and cycle.
            found += session.scalars(
                select(Post.id).join(parent, parent.id == Post.parent_id)
                .where(Post.police_related.is_(False), parent.police_related.is_(True),
                       or_(Post.id.in_(ids), Post.parent_id.in_(ids)))).all()
        found = sorted(set(found) - marked)
        if not found:
            break
        for chunk in range(0, len(found), 500):
            ids = found[chunk:chunk + 500]
            session.execute(update(Post).where(Post.id.in_(ids)).values(police_related=True)
                            .execution_options(synchronize_session=False))
            session.execute(update(PostTopic).where(PostTopic.post_id.in_(ids))
                            .values(police_related=True)
                            .execution_options(synchronize_session=False))
        marked.update(found)
        frontier = found
    return marked


def settle_thread_stance(session: Session, post_ids: Sequence[int]) -> None:
    """A comment's stance toward the police was read in case its thread is about them
    (transforms.scoring); once its thread is known not to be — its parent stored and not
    police-related, and that parent a post of its own or itself settled so — the stance is
    dropped, as for any post that is not about the police (reports count
    posts.police_stance). A comment waiting for its thread's post keeps it until then."""
    parent = aliased(Post)
    frontier = list(post_ids)
    for _ in range(THREAD_DEPTH):
        found: list[int] = []
        for chunk in range(0, len(frontier), 500):
            ids = frontier[chunk:chunk + 500]
            found += session.scalars(
                select(Post.id).join(parent, parent.id == Post.parent_id)
                .where(Post.police_related.is_(False), Post.police_stance.is_not(None),
                       parent.police_related.is_(False),
                       or_(parent.parent_external_id.is_(None),
                           parent.police_stance.is_(None)),
                       or_(Post.id.in_(ids), Post.parent_id.in_(ids)))).all()
        if not found:
            break
        for chunk in range(0, len(found), 500):
            session.execute(update(Post).where(Post.id.in_(found[chunk:chunk + 500]))
                            .values(police_stance=None, police_stance_p=None)
                            .execution_options(synchronize_session=False))
        frontier = found


def _robot_lock_key(channel: str) -> int:
    """A stable advisory-lock key per chat robot (a signed 64-bit integer)."""
    digest = hashlib.blake2b(f"jingyu robot {channel}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _robot_posts(session: Session, channel: str, since: datetime) -> list[dict[str, Any]]:
    stamp = as_utc_naive(since)
    rows = session.scalars(
        select(RobotPost).where(RobotPost.channel == channel,
                                (RobotPost.posted_at >= stamp)
                                | (RobotPost.blocked_until > stamp))
        .order_by(RobotPost.posted_at, RobotPost.id))
    return [{"at": from_db(r.posted_at), "by": r.origin,
             "blocked_until": from_db(r.blocked_until)} for r in rows]


class AlertLike(Protocol):
    """What the warehouse needs of an alert (alerts.detection.records.Alert satisfies it)."""

    fingerprint: str
    kind: str
    level: int
    title: str
    reason: str
    jurisdiction: str | None
    detected_at: datetime

    @property
    def evidence(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class StoredAlert:
    """What happened to an alert when it was recorded."""

    alert_id: int
    version: int
    outcome: str                   # "new" | "escalated" | "unchanged"


# (alert_id, version) -> [(channel name, payload)] for the notifications to queue
Notifier = Callable[[int, int], Sequence[tuple[str, Mapping[str, Any]]]]


def _json(value: Any) -> Any:
    """JSON-safe copy: tuples to lists, datetimes to ISO strings, dataclasses to dicts."""
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _json(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


class Warehouse:
    """One warehouse database. Every public method is its own transaction."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or database_url()
        self.engine: Engine = make_engine(self.url)
        if migrate:
            ensure_schema(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # ---- sources -------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceConfig]) -> None:
        """Make the sources table match the configuration, keeping cursors and health."""
        configured = {s.id: s for s in sources}
        with self._session.begin() as session:
            existing = {row.id: row for row in session.scalars(select(Source))}
            for source in sources:
                row = existing.get(source.id) or Source(id=source.id, seen_ids=[],
                                                        cursor_extra={},
                                                        consecutive_failures=0)
                row.name, row.kind, row.url = source.name, source.kind, source.url
                row.tags = list(source.tags)
                row.jurisdiction = source.jurisdiction
                if (row.poll_minutes, row.poll_min_minutes, row.poll_max_minutes) != (
                        source.poll_minutes, source.poll_min_minutes, source.poll_max_minutes):
                    row.poll_minutes_now = None       # bounds changed: start again from them
                row.poll_minutes = source.poll_minutes
                row.poll_min_minutes = source.poll_min_minutes
                row.poll_max_minutes = source.poll_max_minutes
                row.enabled = source.enabled
                session.add(row)
            for source_id, row in existing.items():
                if source_id not in configured:
                    row.enabled = False  # removed from config: keep its posts, stop polling

    def cursors(self) -> dict[str, SourceCursor]:
        with self._session() as session:
            return {
                row.id: SourceCursor(etag=row.etag, last_modified=row.last_modified,
                                     seen_ids=tuple(row.seen_ids or ()),
                                     extra=dict(row.cursor_extra or {}))
                for row in session.scalars(select(Source))
            }

    def due_sources(self, sources: Sequence[SourceConfig], now: datetime) -> list[SourceConfig]:
        """Enabled sources whose poll interval has passed since the scheduled start of the
        cycle that last fetched them (see poll_is_due), leaving out those backing off after a
        failure and those disabled for failing too long."""
        with self._session() as session:
            rows = {row.id: row for row in session.execute(
                select(Source.id, Source.last_scheduled_at, Source.last_attempt_at,
                       Source.backoff_until, Source.disabled_at, Source.poll_minutes_now))}
        due = []
        for source in sources:
            row = rows.get(source.id)
            if not source.enabled or (row is not None and row.disabled_at is not None):
                continue
            backoff = from_db(row.backoff_until) if row else None
            interval = timedelta(minutes=source.poll_minutes)
            if backoff is not None and now < backoff - min(POLL_JITTER, interval / 5):
                continue
            last = from_db(row.last_scheduled_at or row.last_attempt_at) if row else None
            minutes = (row.poll_minutes_now if row is not None and row.poll_minutes_now
                       else source.poll_minutes)
            if poll_is_due(minutes, last, now):
                due.append(source)
        return due

    def enable_source(self, source_id: str) -> bool:
        """Undo automatic disabling and back-off (the operator fixed the source); False when
        there is no such source."""
        with self._session.begin() as session:
            row = session.get(Source, source_id)
            if row is None:
                return False
            row.disabled_at = row.disabled_reason = row.backoff_until = None
            row.failing_since = row.failure_class = None
            row.consecutive_failures = 0
            return True

    # ---- the run ledger ------------------------------------------------------------------

    def start_run(self, now: datetime, flow_run_id: str | None = None,
                  due: Sequence[str] = ()) -> int:
        """Open a run of this process with the ids of its due sources. Runs left 'running'
        by a process that is gone (killed, or its warehouse lost) are settled first."""
        with self._session.begin() as session:
            for orphan in orphaned_runs(session, now):
                settle(session, orphan, now, why=(
                    f"the cycle's process ({orphan.owner or 'unknown'}) ended before closing "
                    "its run (killed, or it lost the warehouse); settled by the next cycle"))
            run = Run(started_at=as_utc_naive(now), flow_run_id=flow_run_id, status="running",
                      errors=[], owner=process_identity(), due=list(due))
            session.add(run)
            session.flush()
            return run.id

    def abort_run(self, run_id: int, now: datetime, reason: str) -> None:
        """The cycle was stopped (SIGTERM, Ctrl-C) before it finished: say so in the ledger
        instead of leaving it 'running' until it is found stale."""
        with self._session.begin() as session:
            run = session.get(Run, run_id)
            if run is not None and run.status == "running":
                run.status = "aborted"
                run.ended_at = as_utc_naive(now)
                run.errors = [*(run.errors or []), reason]

    def finish_run(self, run_id: int, now: datetime, *, alerts_new: int,
                   notifications_sent: int, errors: Sequence[str]) -> dict[str, Any]:
        """Close the run: status ok (all sources fine), partial (some failed) or failed. Every
        due source is accounted for: a due source with no ledger entry counts as failed."""
        with self._session.begin() as session:
            run = session.get_one(Run, run_id)
            entries = list(session.scalars(select(RunSource).where(RunSource.run_id == run_id)))
            account(run, entries, errors)
            run.alerts_new = alerts_new
            run.notifications_sent = notifications_sent
            if errors or (run.sources_total and not run.sources_ok):
                run.status = "failed"
            else:
                run.status = "partial" if run.sources_failed else "ok"
            run.ended_at = as_utc_naive(now)
            return self._run_dict(run)

    @staticmethod
    def _run_dict(run: Run) -> dict[str, Any]:
        return {
            "run_id": run.id, "status": run.status,
            "started_at": from_db(run.started_at), "ended_at": from_db(run.ended_at),
            "sources_total": run.sources_total, "sources_ok": run.sources_ok,
            "sources_failed": run.sources_failed, "posts_new": run.posts_new,
            "alerts_new": run.alerts_new, "notifications_sent": run.notifications_sent,
            "errors": list(run.errors or []),
        }

    def runs(self, limit: int = 20, since: datetime | None = None) -> list[dict[str, Any]]:
        """The newest runs first; `since` keeps those started from then on."""
        with self._session() as session:
            query = select(Run).order_by(Run.id.desc()).limit(limit)
            if since is not None:
                query = query.where(Run.started_at >= as_utc_naive(since))
            rows = session.scalars(query)
            return [self._run_dict(r) for r in rows]

    # ---- loading -------------------------------------------------------------------------

    def store_fetch(self, run_id: int, result: FetchResult, scored: Sequence[ScoredPost],
                    now: datetime, scheduled_at: datetime | None = None,
                    failures: FailurePolicy = FailurePolicy()) -> int:
        """Store one source's fetch: new posts, cursor and health in ONE transaction.

        scheduled_at is when the cycle was scheduled to start (its due-ness clock); `now`
        when it is not given.

        Posts already stored (same source and external id) are skipped, so re-running a
        cycle, or rerunning one that was killed half-way, neither duplicates nor loses rows.
        Returns the number of new posts.
        """
        stamp = as_utc_naive(now)
        with one_writer(self.engine), self._session.begin() as session:
            source = session.get_one(Source, result.source_id)
            new_ids: list[int] = []
            refused: list[str] = []
            if scored:
                rows = [self._post_values(p, run_id, source.jurisdiction) for p in scored]
                inserted, refused = self._insert_posts(session, rows)
                new_ids = [row.id for row in inserted]
                # The post_topics bridge is filled in the same transaction as its posts.
                bridge = [{"post_id": row.id, "topic_id": topic, "seen_at": row.seen_at,
                           "source_id": row.source_id, "jurisdiction": row.jurisdiction,
                           "polarity": row.polarity, "police_related": row.police_related}
                          for row in inserted for topic in dict.fromkeys(row.topics or ())]
                if bridge:
                    session.execute(insert(PostTopic), bridge)
                # New posts join their stories in the same transaction too.
                by_external_id = {p.raw.external_id[:500]: p for p in scored}
                join_stories(session, [
                    StoryMember(row.id, row.seen_at, by_external_id[row.external_id].text,
                                by_external_id[row.external_id].story_keys)
                    for row in inserted])
                # Comments and reposts find their parent, and parents their waiting children
                # (a crawler may write the comments before the post), in the same transaction.
                link_threads(session, result.source_id, new_ids,
                             [row.external_id for row in inserted])
                police_threads(session, new_ids)
                settle_thread_stance(session, new_ids)
                # ... and their events, once their stories are known.
                stories = dict(session.execute(select(Post.id, Post.story_id)
                                               .where(Post.id.in_(new_ids))).all()) if new_ids else {}
                join_events(session, [
                    EventMember(row.id, row.seen_at, tuple(by_external_id[row.external_id].keywords),
                                row.jurisdiction, stories.get(row.id),
                                headline(by_external_id[row.external_id].raw.title,
                                         by_external_id[row.external_id].text),
                                tuple(row.topics or ()), "official" in (source.tags or ()))
                    for row in inserted])
            source.last_attempt_at = stamp
            source.last_scheduled_at = as_utc_naive(scheduled_at or now)
            failure = None
            if result.status == FETCH_ERROR:
                failure = FailureClass(result.failure) if result.failure \
                    else class_of_message(result.error or "")
            change = after_fetch(failure, failing_since=from_db(source.failing_since),
                                 consecutive_failures=source.consecutive_failures or 0,
                                 poll_minutes=source.poll_minutes or 5,
                                 now=scheduled_at or now, policy=failures)
            source.failure_class = change.failure_class.value if change.failure_class else None
            source.failing_since = as_utc_naive(change.failing_since) \
                if change.failing_since else None
            source.backoff_until = as_utc_naive(change.backoff_until) \
                if change.backoff_until else None
            if change.disable and source.disabled_at is None:
                source.disabled_at, source.disabled_reason = stamp, change.note
            if result.status == FETCH_ERROR:
                source.last_error = result.error
                source.last_error_at = stamp
                source.consecutive_failures = (source.consecutive_failures or 0) + 1
            else:
                cursor = result.cursor
                source.etag, source.last_modified = cursor.etag, cursor.last_modified
                source.seen_ids = list(cursor.seen_ids[:SEEN_IDS_KEPT])
                source.cursor_extra = _json(dict(cursor.extra))
                source.last_success_at = stamp
                source.consecutive_failures = 0
                said = "; ".join(filter(None, [result.error, _refused_note(refused)]))
                if result.status == FETCH_OK and said:
                    source.last_error, source.last_error_at = said, stamp
            if new_ids:
                source.last_new_post_at = stamp
            if result.status != FETCH_ERROR and (source.poll_min_minutes
                                                 or source.poll_max_minutes):
                source.poll_minutes_now = next_interval(
                    source.poll_minutes_now or source.poll_minutes, len(new_ids),
                    source.poll_min_minutes or source.poll_minutes,
                    source.poll_max_minutes or source.poll_minutes)
            # A retried task may store the same source twice in one run: keep one ledger row.
            entry = session.scalar(select(RunSource).where(RunSource.run_id == run_id,
                                                           RunSource.source_id == result.source_id))
            if entry is None:
                entry = RunSource(run_id=run_id, source_id=result.source_id, new=0)
                session.add(entry)
            entry.status, entry.http_status = result.status, result.http_status
            entry.fetched, entry.error = len(result.posts), result.error
            entry.failure_class = source.failure_class
            if change.disable:
                entry.error = f"{result.error}; {change.note}"
            entry.new += len(new_ids)
            entry.elapsed_s = result.elapsed_s
            return len(new_ids)

    def _insert_posts(self, session: Session, rows: list[dict[str, Any]]
                      ) -> tuple[list[Any], list[str]]:
        """Insert the posts (known ones skipped); the inserted rows and, for posts the
        database refused, "external id: why". All in one statement; if the database refuses
        it, each post on its own (a savepoint each), so one unstorable item costs only
        itself, never its source's other posts (issue 10). Only data the database cannot
        take is skipped so: any other failure (a lost connection, a broken constraint) still
        stops the whole load, which then commits nothing."""
        def statement(values: list[dict[str, Any]]) -> Any:
            return (self._insert(Post).values(values)
                    .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
                    .returning(Post.id, Post.seen_at, Post.topics, Post.source_id,
                               Post.jurisdiction, Post.polarity, Post.police_related,
                               Post.external_id))

        # PostgreSQL aborts the transaction on an error: a savepoint keeps the rest of it.
        # SQLite undoes only the failed statement; a savepoint there (pysqlite) would start
        # and, released, commit the transaction early.
        def guarded() -> Any:
            postgres = session.get_bind().dialect.name == "postgresql"
            return session.begin_nested() if postgres else nullcontext()

        try:
            with guarded():
                return list(session.execute(statement(rows)).all()), []
        except _UNSTORABLE:
            pass
        inserted: list[Any] = []
        refused: list[str] = []
        for row in rows:
            try:
                with guarded():
                    inserted += session.execute(statement([row])).all()
            except _UNSTORABLE as exc:
                reason = getattr(exc, "orig", None) or exc
                refused.append(f"{excerpt(row['external_id'], 60)}: "
                               f"{excerpt(f'{type(reason).__name__}: {reason}', 120)}")
        return inserted, refused

    @staticmethod
    def _post_values(post: ScoredPost, run_id: int, jurisdiction: str | None) -> dict[str, Any]:
        raw = post.raw
        published = as_utc_naive(raw.published_at) if raw.published_at else None
        fetched = as_utc_naive(raw.fetched_at)
        return {
            "source_id": raw.source_id, "external_id": raw.external_id[:500], "url": raw.url,
            # author and platform are free text from the source: cut to their columns (a
            # longer one failed the whole fetch on PostgreSQL)
            "title": raw.title, "text": post.text,
            "author": raw.author[:AUTHOR_CHARS] if raw.author else raw.author,
            "published_at": published, "fetched_at": fetched, "seen_at": published or fetched,
            "run_id": run_id, "content_hash": post.content_hash,
            "keywords": list(post.keywords), "police_related": post.police_related,
            "police_terms": list(post.police_terms), "sentiment": float(post.sentiment),
            "polarity": post.polarity, "police_stance": post.police_stance,
            "police_stance_p": post.police_stance_p, "topics": list(post.topics),
            "rule_hits": list(post.rule_hits), "high_risk": post.high_risk,
            # The most specific place the text names routes it; else the source's own.
            "jurisdiction": post.places[0] if post.places else jurisdiction,
            "platform": raw.platform[:PLATFORM_CHARS] if raw.platform else raw.platform,
            "reposts": raw.reposts, "comments": raw.comments,
            "likes": raw.likes, "relation": raw.relation,
            "parent_external_id": raw.parent_id[:500] if raw.parent_id else None,
        }

    # ---- stories -------------------------------------------------------------------------

    def stories(self, now: datetime, since: datetime | None = None,
                limit: int = 50) -> list[StorySummary]:
        """The stories last seen since `since`, newest first, with size and growth."""
        with self._session() as session:
            return story_summaries(session, now, since=since, limit=limit)

    def story(self, story_id: int, now: datetime) -> StorySummary | None:
        with self._session() as session:
            found = story_summaries(session, now, story_ids=[story_id])
            return found[0] if found else None

    # ---- reading posts -------------------------------------------------------------------

    def posts_since(self, since: datetime, until: datetime | None = None) -> list[PostRow]:
        """Posts that appeared (seen_at) in [since, until], oldest first."""
        with self._session() as session:
            official = {sid for sid, tags in session.execute(select(Source.id, Source.tags))
                        if "official" in (tags or [])}
            query = (select(Post, EventPostRow.event_id)
                     .outerjoin(EventPostRow, EventPostRow.post_id == Post.id)
                     .where(Post.seen_at >= as_utc_naive(since)))
            if until is not None:
                query = query.where(Post.seen_at <= as_utc_naive(until))
            rows = session.execute(query.order_by(Post.seen_at, Post.id))
            return [self._post_row(p, p.source_id in official, event_id)
                    for p, event_id in rows]

    def posts_by_ids(self, post_ids: Sequence[int]) -> list[PostRow]:
        """Stored posts by id (those that exist), oldest first, with their events."""
        with self._session() as session:
            official = {sid for sid, tags in session.execute(select(Source.id, Source.tags))
                        if "official" in (tags or [])}
            found: list[PostRow] = []
            ids = list(dict.fromkeys(post_ids))
            for i in range(0, len(ids), 500):
                rows = session.execute(select(Post, EventPostRow.event_id)
                                       .outerjoin(EventPostRow, EventPostRow.post_id == Post.id)
                                       .where(Post.id.in_(ids[i:i + 500])))
                found += [self._post_row(p, p.source_id in official, event_id)
                          for p, event_id in rows]
            return sorted(found, key=lambda p: (p.seen_at, p.id))

    @staticmethod
    def _post_row(post: Post, official: bool, event_id: int | None = None) -> PostRow:
        return PostRow(
            event_id=event_id,
            id=post.id, source_id=post.source_id, url=post.url, title=post.title, text=post.text,
            published_at=from_db(post.published_at), fetched_at=from_db(post.fetched_at),
            content_hash=post.content_hash, police_related=post.police_related,
            polarity=post.polarity, sentiment=post.sentiment, topics=tuple(post.topics or ()),
            high_risk=post.high_risk, jurisdiction=post.jurisdiction, official=official,
            keywords=tuple(post.keywords or ()), police_terms=tuple(post.police_terms or ()),
            story_id=post.story_id, police_stance=post.police_stance,
            police_stance_p=post.police_stance_p)

    def mentions_since(self, since: datetime, until: datetime) -> list[Mention]:
        """The few columns spike detection counts, for posts seen in [since, until].

        Two weeks of a busy warehouse are read every cycle, so topics come as JSON text and
        only non-empty lists are parsed (decoding every JSON value costs more than the query).
        """
        with self._session() as session:
            official = {sid for sid, tags in session.execute(select(Source.id, Source.tags))
                        if "official" in (tags or [])}
            rows = session.execute(
                select(Post.seen_at, Post.content_hash, Post.police_related, Post.polarity,
                       Post.police_stance, cast(Post.topics, Text), Post.jurisdiction,
                       Post.source_id)
                .where(Post.seen_at >= as_utc_naive(since), Post.seen_at <= as_utc_naive(until))
                .order_by(Post.seen_at))
            utc = timezone.utc
            # Negative: toward the police for police-related posts (ScoredPost.negative).
            return [Mention(seen_at=seen.replace(tzinfo=utc), content_hash=content_hash,
                            police_related=police,
                            negative=(stance if police else polarity) == NEGATIVE,
                            topics=tuple(json.loads(topics)) if topics and topics != "[]" else (),
                            jurisdiction=jurisdiction, official=source_id in official)
                    for seen, content_hash, police, polarity, stance, topics, jurisdiction,
                    source_id in rows]

    def coverage_start(self) -> datetime | None:
        """Since when the warehouse holds the whole flow, as spike detection counts it.

        A feed's first fetch returns only its latest items, a thin backlog that would make the
        first live day look like a surge, so monitoring counts from the first run. An export
        imported from another platform (a kind with full_history, such as `file`) is a full
        record of its period, so history imported that way counts from its oldest post.
        """
        with self._session() as session:
            first_run = session.scalar(select(func.min(Run.started_at)))
            imported = session.scalar(
                select(func.min(Post.seen_at)).join(Source, Source.id == Post.source_id)
                .where(Source.kind.in_(history_kinds())))
            starts = [from_db(t) for t in (first_run, imported) if t is not None]
            return min(starts, default=None)

    def post_counts(self, since: datetime) -> dict[str, Any]:
        """Totals for summaries: posts, police-related, and polarity breakdown since a time."""
        with self._session() as session:
            base = select(Post.polarity, Post.police_related, func.count()).where(
                Post.fetched_at >= as_utc_naive(since)).group_by(Post.polarity, Post.police_related)
            totals = {"posts": 0, "police_related": 0,
                      "polarity": {"negative": 0, "neutral": 0, "positive": 0}}
            for polarity, police, count in session.execute(base):
                totals["posts"] += count
                totals["police_related"] += count if police else 0
                totals["polarity"][polarity] = totals["polarity"].get(polarity, 0) + count
            return totals

    # ---- alerts and the outbox -----------------------------------------------------------

    def record_alert(self, alert: AlertLike, notify: Notifier, run_id: int | None = None
                     ) -> StoredAlert:
        """Insert an alert, or refresh the one with its fingerprint, in one transaction.

        A new alert, or one whose level rose, queues its notifications in the outbox within
        the same transaction, so an alert is never stored without them, nor sent twice.
        """
        with self._session.begin() as session:
            return self.record_alert_in(session, alert, notify, run_id)[0]

    @staticmethod
    def record_alert_in(session: Session, alert: AlertLike, notify: Notifier,
                        run_id: int | None = None) -> tuple[StoredAlert, datetime]:
        """record_alert within the caller's transaction (IncidentStore.record adds the
        incident to it); also returns when the alert was first detected (naive UTC)."""
        stamp = as_utc_naive(alert.detected_at)
        evidence = _json(list(alert.evidence))
        row = session.scalar(select(AlertRow).where(AlertRow.fingerprint == alert.fingerprint)
                             .with_for_update())
        if row is None:
            row = AlertRow(fingerprint=alert.fingerprint, kind=alert.kind, level=alert.level,
                           title=alert.title, reason=alert.reason, evidence=evidence,
                           jurisdiction=alert.jurisdiction, status="open", version=1,
                           first_detected_at=stamp, last_detected_at=stamp, run_id=run_id)
            session.add(row)
            session.flush()
            outcome = "new"
        else:
            row.last_detected_at = stamp
            row.evidence = evidence
            if alert.level < row.level:  # 1 is the most severe
                row.level, row.title, row.reason = alert.level, alert.title, alert.reason
                row.version += 1
                outcome = "escalated"
            else:
                outcome = "unchanged"
        if outcome != "unchanged":
            for channel, payload in notify(row.id, row.version):
                session.add(OutboxRow(
                    alert_id=row.id, channel=channel,
                    idempotency_key=f"{row.fingerprint}#v{row.version}@{channel}",
                    payload=_json(payload), status="pending", attempts=0,
                    created_at=stamp, next_attempt_at=stamp))
        return (StoredAlert(alert_id=row.id, version=row.version, outcome=outcome),
                row.first_detected_at)

    def pending_notifications(self, now: datetime, limit: int = 500) -> list[OutboxMessage]:
        """Due pending messages, held by a delivery pass or not (for reading; a pass that
        sends takes them with claim_notifications)."""
        with self._session() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status == "pending",
                       OutboxRow.next_attempt_at <= as_utc_naive(now))
                .order_by(OutboxRow.id).limit(limit))
            return [_outbox_message(r) for r in rows]

    def claim_notifications(self, now: datetime, claimer: str, limit: int = 500
                            ) -> list[OutboxMessage]:
        """Take the due pending messages no other delivery pass holds, in one statement: each
        is leased to `claimer` for OUTBOX_LEASE of wall-clock time, so two passes at once never
        both send one, and a pass that dies holds its messages only until the lease ends.

        PostgreSQL: the rows are picked FOR UPDATE SKIP LOCKED (a pass never waits on rows
        another is claiming); SQLite: the UPDATE is the transaction's first statement, so it
        runs under the database's write lock and sees every earlier claim.
        """
        wall = utcnow()
        free = OutboxRow.claimed_until.is_(None) | (OutboxRow.claimed_until < as_utc_naive(wall))
        due = (select(OutboxRow.id)
               .where(OutboxRow.status == "pending",
                      OutboxRow.next_attempt_at <= as_utc_naive(now), free)
               .order_by(OutboxRow.id).limit(limit)
               .with_for_update(skip_locked=True))
        with self._session.begin() as session:
            rows = session.scalars(
                update(OutboxRow).where(OutboxRow.id.in_(due), free)
                .values(claimed_by=claimer, claimed_until=as_utc_naive(wall + OUTBOX_LEASE))
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)).all()
            return sorted((_outbox_message(r) for r in rows), key=lambda m: m.id)

    def hold_notifications(self, message_ids: Iterable[int], claimer: str) -> set[int]:
        """Renew `claimer`'s lease on these messages just before sending them; the ids it
        still holds (a lease that ran out may have gone to another pass, which sends them)."""
        ids = list(message_ids)
        if not ids:
            return set()
        with self._session.begin() as session:
            held = session.scalars(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids), OutboxRow.claimed_by == claimer,
                       OutboxRow.status == "pending")
                .values(claimed_until=as_utc_naive(utcnow() + OUTBOX_LEASE))
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)).all()
            return set(held)

    def release_notifications(self, claimer: str) -> int:
        """Give back what `claimer` still holds unsent (the pass ends): the next pass may take
        it at once instead of after the lease."""
        with self._session.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.claimed_by == claimer, OutboxRow.status == "pending")
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False))
            return result.rowcount or 0

    def mark_delivered(self, message_ids: int | Iterable[int], now: datetime) -> None:
        """Sent: right after the platform took them, one transaction for a digest's messages."""
        ids = [message_ids] if isinstance(message_ids, int) else list(message_ids)
        with self._session.begin() as session:
            session.execute(
                update(OutboxRow).where(OutboxRow.id.in_(ids))
                .values(status="sent", sent_at=as_utc_naive(now), last_error=None,
                        attempts=OutboxRow.attempts + 1, claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False))

    def mark_failed(self, message_id: int, error: str, retry_at: datetime) -> None:
        """Keep the message pending for a later attempt: nothing is dropped."""
        with self._session.begin() as session:
            row = session.get_one(OutboxRow, message_id)
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = as_utc_naive(retry_at)
            row.claimed_by, row.claimed_until = None, None

    # ---- chat robots' rate budgets, shared by every process ---------------------------------

    def claim_robot_post(self, channel: str, at: datetime, origin: str, since: datetime,
                         decide: Callable[[list[dict[str, Any]]], float]) -> float:
        """Take one post from a chat robot's shared rate budget, atomically.

        `decide` gets this channel's posts since `since` (as robot_posts gives them) and
        returns 0.0 if one more post fits now, else the seconds until one does. Only on 0.0
        is the post recorded, at `at` by `origin`, in the same transaction. Processes claim
        one at a time per robot (PostgreSQL: a transaction-level advisory lock; SQLite: the
        first statement writes, which takes the database's write lock), so two delivery
        passes running at once cannot both spend the robot's last post.
        Posts a day old are dropped as new ones come: no platform window is that long.
        """
        with self._session.begin() as session:
            one_at_a_time(session, _robot_lock_key(channel))
            session.execute(delete(RobotPost).where(
                RobotPost.channel == channel,
                RobotPost.posted_at < as_utc_naive(at - ROBOT_POSTS_KEPT),
                (RobotPost.blocked_until.is_(None)
                 | (RobotPost.blocked_until < as_utc_naive(at)))))
            wait = decide(_robot_posts(session, channel, since))
            if wait <= 0:
                session.add(RobotPost(channel=channel, posted_at=as_utc_naive(at),
                                      origin=origin))
            return wait

    def block_robot(self, channel: str, at: datetime, origin: str,
                    blocked_until: datetime) -> None:
        """The platform answered the post claimed at `at` with "too fast": every process
        holds back from this robot until `blocked_until`."""
        with self._session.begin() as session:
            session.execute(update(RobotPost).where(
                RobotPost.channel == channel, RobotPost.origin == origin,
                RobotPost.posted_at == as_utc_naive(at))
                .values(blocked_until=as_utc_naive(blocked_until)))

    def robot_posts(self, channel: str, since: datetime) -> list[dict[str, Any]]:
        """This channel's posts at or after `since`, and those whose block lasts past it:
        {"at", "by", "blocked_until"} (aware UTC or None), oldest first."""
        with self._session() as session:
            return _robot_posts(session, channel, since)

    def outbox_counts(self) -> dict[str, int]:
        with self._session() as session:
            return dict(session.execute(
                select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())

    def alerts(self, limit: int = 50, since: datetime | None = None, *, health: bool = False
               ) -> list[dict[str, Any]]:
        """Newest alerts first, with delivery state, for `jingyu alerts`: the opinion alerts,
        or with `health` the 系统告警 (kind health) instead."""
        with self._session() as session:
            query = (select(AlertRow)
                     .where((AlertRow.kind == HEALTH_KIND) if health
                            else (AlertRow.kind != HEALTH_KIND))
                     .order_by(AlertRow.last_detected_at.desc(), AlertRow.id.desc()))
            if since is not None:
                query = query.where(AlertRow.last_detected_at >= as_utc_naive(since))
            result = []
            for row in session.scalars(query.limit(limit)):
                delivery = dict(session.execute(
                    select(OutboxRow.status, func.count()).where(OutboxRow.alert_id == row.id)
                    .group_by(OutboxRow.status)).all())
                result.append({
                    "id": row.id, "fingerprint": row.fingerprint, "kind": row.kind,
                    "level": row.level, "title": row.title, "reason": row.reason,
                    "evidence": list(row.evidence or []), "jurisdiction": row.jurisdiction,
                    "status": row.status, "version": row.version,
                    "first_detected_at": from_db(row.first_detected_at),
                    "last_detected_at": from_db(row.last_detected_at),
                    "notifications": delivery, "incident_id": row.incident_id,
                })
            return result

    def open_health_alerts(self) -> list[dict[str, Any]]:
        """The 系统告警 not yet recovered, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(AlertRow).where(AlertRow.kind == HEALTH_KIND,
                                                          AlertRow.status == "open")
                                   .order_by(AlertRow.first_detected_at, AlertRow.id))
            return [{"id": r.id, "fingerprint": r.fingerprint, "title": r.title,
                     "reason": r.reason, "jurisdiction": r.jurisdiction,
                     "first_detected_at": from_db(r.first_detected_at),
                     "last_detected_at": from_db(r.last_detected_at)} for r in rows]

    def resolve_health_alert(self, alert_id: int, now: datetime, notify: Notifier) -> bool:
        """Mark a 系统告警 recovered and queue its recovery notices, in one transaction; only
        the first caller does (two watchdogs at once say it once). True if this one did."""
        stamp = as_utc_naive(now)
        with self._session.begin() as session:
            row = session.scalar(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.kind == HEALTH_KIND,
                       AlertRow.status == "open")
                .values(status="resolved")
                .returning(AlertRow)
                .execution_options(synchronize_session=False))
            if row is None:
                return False
            for channel, payload in notify(row.id, row.version):
                session.add(OutboxRow(
                    alert_id=row.id, channel=channel,
                    idempotency_key=f"{row.fingerprint}#recovered@{channel}",
                    payload=_json(payload), status="pending", attempts=0,
                    created_at=stamp, next_attempt_at=stamp))
            return True

    def alert_fingerprints(self, kind: str, since: datetime) -> list[str]:
        """Fingerprints of the alerts of this kind raised or updated since then, newest first."""
        with self._session() as session:
            return list(session.scalars(
                select(AlertRow.fingerprint)
                .where(AlertRow.kind == kind, AlertRow.last_detected_at >= as_utc_naive(since))
                .order_by(AlertRow.last_detected_at.desc(), AlertRow.id.desc())))

    # ---- source health -------------------------------------------------------------------

    def source_health(self, now: datetime) -> list[dict[str, Any]]:
        """Per source: last success, last error, consecutive failures, posts in the last 24 h."""
        day_ago = as_utc_naive(now - timedelta(hours=24))
        with self._session() as session:
            recent = dict(session.execute(
                select(Post.source_id, func.count()).where(Post.fetched_at >= day_ago)
                .group_by(Post.source_id)).all())
            total = dict(session.execute(
                select(Post.source_id, func.count()).group_by(Post.source_id)).all())
            return [{
                "id": s.id, "name": s.name, "kind": s.kind, "enabled": s.enabled,
                "tags": list(s.tags or []), "jurisdiction": s.jurisdiction,
                "last_attempt_at": from_db(s.last_attempt_at),
                "last_success_at": from_db(s.last_success_at),
                "last_new_post_at": from_db(s.last_new_post_at),
                "last_error": s.last_error, "last_error_at": from_db(s.last_error_at),
                "consecutive_failures": s.consecutive_failures,
                "poll_minutes": s.poll_minutes, "poll_minutes_now": s.poll_minutes_now,
                "failure_class": s.failure_class,
                "advice": ADVICE[FailureClass(s.failure_class)] if s.failure_class else None,
                "failing_since": from_db(s.failing_since),
                "backoff_until": from_db(s.backoff_until),
                "disabled_at": from_db(s.disabled_at), "disabled_reason": s.disabled_reason,
                "posts_24h": recent.get(s.id, 0), "posts_total": total.get(s.id, 0),
            } for s in session.scalars(select(Source).order_by(Source.id))]

    def table_counts(self, tables: Iterable[str] = ("posts", "alerts", "outbox", "runs")
                     ) -> dict[str, int]:
        models = {"posts": Post, "alerts": AlertRow, "outbox": OutboxRow, "runs": Run,
                  "sources": Source, "run_sources": RunSource}
        with self._session() as session:
            return {t: session.scalar(select(func.count()).select_from(models[t])) or 0
                    for t in tables}


# What a post's own data can make the database (or its driver) refuse: text PostgreSQL cannot
# hold (NUL), a string no UTF-8 database takes (a lone surrogate), a value out of range.
_UNSTORABLE = (DataError, UnicodeError, ValueError)


def _refused_note(refused: Sequence[str], shown: int = 3) -> str:
    """What source health says of posts the warehouse could not store."""
    if not refused:
        return ""
    more = f" (+{len(refused) - shown} more)" if len(refused) > shown else ""
    return (f"{len(refused)} item(s) not stored, the others were: "
            + "; ".join(refused[:shown]) + more)
