"""Events in the warehouse: new posts join the event of their story, or the event whose posts
share their specific terms and place (transforms.events), in the transaction that stores them;
events are read back with size, growth, sources and official voice, merged and split."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, sessionmaker

from jingyu.timeutil import as_utc_naive, from_db, utcnow
from transforms.events import (
    BASELINE,
    BRIDGE_GAP,
    MIN_SHARED,
    PLACE_PREFIX,
    PROFILE_TERMS,
    TOPIC_PREFIX,
    WINDOW,
    SIGNATURE_SIZE,
    Rarity,
    EventPost,
    EventProfile,
    Joining,
    activity,
    choose,
    event_place,
    signature,
    is_place_term,
    place_term,
    post_terms,
    title_score,
)
from warehouse.db import one_at_a_time
from warehouse.models import EventPostRow, EventRow, EventSeparation, EventTerm, Post, Source

# The most recent events per term that are compared with a new post: a word used by a
# thousand events (民警) brings back only the latest few, whose profiles its rarer words
# then decide between.
CANDIDATES_PER_TERM = 30
GROWTH_WINDOW = timedelta(hours=1)
if TYPE_CHECKING:
    from warehouse.store import Warehouse

_EVENT_LOCK = 0x6A_7965_7674  # "jyevt"
_IN_CHUNK = 500
TITLE_CHARS = 60


@dataclass(frozen=True)
class EventMember:
    """A stored post that needs its event."""

    post_id: int
    seen_at: datetime                 # naive UTC, as stored
    keywords: tuple[str, ...]
    jurisdiction: str | None
    story_id: int | None
    headline: str                     # title, else the start of the text
    topics: tuple[str, ...] = ()      # rule topics (transforms.rules), e.g. 执法争议
    official: bool = False            # from a source tagged official (a police account)


@dataclass(frozen=True)
class EventSummary:
    """An event as duty staff and analysts see it."""

    id: int
    title: str
    jurisdiction: str | None
    first_seen: datetime              # aware UTC
    last_seen: datetime
    size: int
    stories: int
    sources: tuple[str, ...]
    platforms: tuple[str, ...]
    has_official_post: bool
    official_first_at: datetime | None
    last_hour: int                    # posts seen in the hour before `now`
    before: int

    @property
    def growing(self) -> bool:
        return self.last_hour > self.before


@dataclass(frozen=True)
class EventLink:
    """One post of an event and why it is there."""

    post_id: int
    reason: str
    score: float
    shared: tuple[str, ...]
    place: str | None
    apart: tuple[int, ...] = ()       # events it stayed out of: split from this one by hand


@dataclass(frozen=True)
class Separation:
    """A human split the grouping respects (models.EventSeparation), as it now stands: the
    live events on both sides (following merges), who split and when, lifted or not."""

    id: int
    event_id: int
    apart_from: int
    incident_id: int | None
    split_incident_id: int | None
    posts: tuple[int, ...]
    created_by: str
    created_at: datetime              # aware UTC
    lifted_at: datetime | None
    lifted_by: str | None


class EventsKeptApart(ValueError):
    """The grouping (or the system) tried to merge two events a person split apart."""


def _chunks(values: Iterable, size: int = _IN_CHUNK) -> Iterable[list]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


# "转发微博//@某某:" — what a repost adds before the text it repeats.
_REPOST_PREFIX = re.compile(r"^.*?//@[^:：\s]{1,30}[:：]\s*")


def headline(title: str, text: str) -> str:
    """An event title from a post: its title, else its first line, without a repost's
    prefix, cut to TITLE_CHARS."""
    whole = _REPOST_PREFIX.sub("", (title or text or "").strip()).strip()
    line = whole.splitlines()[0] if whole else ""
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1] + "…"


def _post_terms(member: EventMember) -> frozenset[str]:
    return post_terms(member.keywords, member.topics)


def join_events(session: Session, members: Sequence[EventMember]) -> set[int]:
    """Give each member an event (transforms.events.choose over the candidates its terms find
    in the index), in seen_at order, so a post joins an event opened earlier in its batch.
    Stores why each joined, updates the index and the events touched; returns their ids."""
    if not members:
        return set()
    one_at_a_time(session, _EVENT_LOCK)
    members = sorted(members, key=lambda m: (m.seen_at, m.post_id))
    since = members[0].seen_at - WINDOW
    words = {t for m in members for t in _post_terms(m)}

    story_events = _story_events(session, {m.story_id for m in members if m.story_id})
    baseline = since - BASELINE
    recent = session.scalar(select(func.sum(EventRow.size))
                            .where(EventRow.last_seen >= baseline)) or 0
    using: Counter[str] = Counter()
    # Whose words are they right now: how many posts of the past WINDOW use each (for the
    # signatures of big events), kept up to date through the batch.
    window_using: Counter[str] = Counter()
    by_term: dict[str, list[int]] = defaultdict(list)
    _count_using(session, words, baseline, using, since, window_using)
    for chunk in _chunks(words):
        ranked = (select(EventTerm.term, EventTerm.event_id,
                         func.row_number().over(partition_by=EventTerm.term,
                                                order_by=EventTerm.last_seen.desc()).label("rank"))
                  .where(EventTerm.term.in_(chunk), EventTerm.last_seen >= since).subquery())
        for term, event_id in session.execute(
                select(ranked.c.term, ranked.c.event_id).where(
                    ranked.c.rank <= CANDIDATES_PER_TERM)):
            by_term[term].append(event_id)
    profiles = _profiles(session, {e for ids in by_term.values() for e in ids}
                         | set(story_events.values()))
    # A post is compared with an event's centroid: the rarity of the event's terms too.
    _count_using(session, {t for p in profiles.values() for t in p.terms} - words, baseline,
                 using, since, window_using)
    rarity = Rarity(using, recent, window_using)
    apart = _apart(session, set(profiles))

    links: list[dict] = []
    term_counts: dict[tuple[int, str], list] = {}       # (event, term) -> [posts, last seen]
    titles: dict[int, tuple[int, int, str]] = {}       # event -> (score, post id, headline)
    touched: set[int] = set()
    for member in members:
        terms = _post_terms(member)
        story_event = story_events.get(member.story_id) if member.story_id else None
        post = EventPost(member.post_id, member.seen_at, terms, member.jurisdiction,
                         story_event if story_event in profiles else None, member.official)
        joining = choose(post, _candidates(post, by_term, profiles, rarity), rarity, apart)
        if joining.event_id is None:
            row = EventRow(title=member.headline, title_post_id=member.post_id, title_score=0,
                           jurisdiction=member.jurisdiction, first_seen=member.seen_at,
                           last_seen=member.seen_at, size=0, stories=0, sources=[],
                           platforms=[], has_official_post=False)
            session.add(row)
            session.flush()
            profiles[row.id] = EventProfile(row.id, member.seen_at, member.seen_at, 0)
            joining = Joining(row.id, "new")
        event_id = joining.event_id
        assert event_id is not None
        for other in joining.bridged:
            _flush(session, links, term_counts)
            _absorb(session, profiles, by_term, story_events, event_id, other, apart)
            titles.pop(other, None)
            touched.discard(other)
        profile = profiles[event_id]
        new_terms = [t for t in terms if not profile.terms.get(t)]
        profile.add(post)
        window_using.update(t for t in terms if not t.startswith(TOPIC_PREFIX))
        for term in new_terms:
            by_term[term].append(event_id)
        if member.story_id:
            story_events[member.story_id] = event_id
        touched.add(event_id)
        links.append({"post_id": member.post_id, "event_id": event_id,
                      "reason": joining.reason, "score": joining.score,
                      "shared": list(joining.shared), "place": joining.place,
                      "apart": list(joining.kept_apart) or None})
        index_terms = set(terms) | ({place_term(member.jurisdiction)}
                                    if member.jurisdiction else set())
        for term in index_terms:
            entry = term_counts.setdefault((event_id, term), [0, member.seen_at])
            entry[0] += 1
            entry[1] = max(entry[1], member.seen_at)
        typical = title_score(terms, profile.terms)
        if typical > titles.get(event_id, (-1, 0, ""))[0]:
            titles[event_id] = (typical, member.post_id, member.headline)
    _flush(session, links, term_counts)
    for single, into, joining in _second_look(session, members[0].seen_at, profiles, by_term,
                                              touched, rarity, apart):
        _flush(session, links, term_counts)
        post_id = session.scalar(select(EventPostRow.post_id)
                                 .where(EventPostRow.event_id == single))
        _absorb(session, profiles, by_term, story_events, into, single, apart)
        session.execute(update(EventPostRow).where(EventPostRow.post_id == post_id).values(
            reason=joining.reason, score=joining.score, shared=list(joining.shared),
            place=joining.place))
        titles.pop(single, None)
        touched.discard(single)
        touched.add(into)
    refresh_events(session, touched, titles)
    return touched


def _candidates(post: EventPost, by_term: dict[str, list[int]],
                profiles: dict[int, EventProfile], rarity: Rarity,
                exclude: int | None = None) -> list[EventProfile]:
    """The events a post is scored against: those sharing MIN_SHARED of its words, or one
    of their signature words (transforms.events.signature); never all events."""
    hits = Counter(e for t in post.terms if not t.startswith(TOPIC_PREFIX)
                   for e in set(by_term.get(t, ())))
    found = []
    for event_id, n in hits.items():
        profile = profiles.get(event_id)
        if profile is None or event_id == exclude:
            continue
        if n >= MIN_SHARED or signature(profile, rarity).intersection(post.terms):
            found.append(profile)
    return found


def _second_look(session: Session, start: datetime, profiles: dict[int, EventProfile],
                 by_term: dict[str, list[int]], grown: set[int], rarity: Rarity,
                 apart: dict[int, set[int]]) -> Iterable[tuple[int, int, Joining]]:
    """Events of one post, seen since BRIDGE_GAP before the batch, that a busy event (of
    SIGNATURE_SIZE posts or more, active at the post's time) which grew in the batch now takes (single pass makes grouping depend on arrival order: a post that
    came before the words it shares with a happening opened an event of its own). Yields
    (lone event, event taking it, why), oldest first, as the taking events grow. Never an event
    a person split the lone one from (`apart`)."""
    lone = sorted((p for p in profiles.values()
                   if p.size == 1 and p.last_seen >= start - BRIDGE_GAP),
                  key=lambda p: (p.first_seen, p.id))
    for single in lone:
        if profiles.get(single.id) is not single:
            continue
        places = list(single.places)
        post = EventPost(-single.id, single.first_seen, frozenset(single.terms),
                         places[0] if len(places) == 1 else None)
        candidates = [c for c in _candidates(post, by_term, profiles, rarity, exclude=single.id)
                      if c.id in grown and c.size >= SIGNATURE_SIZE and activity(post, c) >= 0
                      and c.id not in apart.get(single.id, ())]
        if not candidates:
            continue
        joining = choose(post, candidates, rarity, apart)
        if joining.event_id is not None:
            yield single.id, joining.event_id, joining


def _absorb(session: Session, profiles: dict[int, EventProfile], by_term: dict[str, list[int]],
            story_events: dict[int, int], into: int, other: int,
            apart: dict[int, set[int]]) -> None:
    """Merge event `other` into `into`, in the warehouse and in the batch's working state
    (the separations of `other` become those of `into`)."""
    merge_events(session, into, other)
    for event_id in apart.pop(other, set()):
        apart.setdefault(into, set()).add(event_id)
        apart[event_id].discard(other)
        apart[event_id].add(into)
    gone = profiles.pop(other)
    kept = profiles[into]
    kept.terms.update(gone.terms)
    kept.places.update(gone.places)
    kept.size += gone.size
    kept.first_seen = min(kept.first_seen, gone.first_seen)
    kept.last_seen = max(kept.last_seen, gone.last_seen)
    for term, ids in by_term.items():
        if other in ids:
            ids[ids.index(other)] = into
    for story, event in list(story_events.items()):
        if event == other:
            story_events[story] = into


def _apart(session: Session, event_ids: set[int]) -> dict[int, set[int]]:
    """event -> the events a standing human split keeps it apart from (both ways), for
    these events. Splits are few: one indexed lookup per 500 events."""
    found: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(event_ids):
        for a, b in session.execute(
                select(EventSeparation.event_id, EventSeparation.apart_from)
                .where(EventSeparation.lifted_at.is_(None),
                       EventSeparation.event_id.in_(chunk)
                       | EventSeparation.apart_from.in_(chunk))):
            if a != b:
                found[a].add(b)
                found[b].add(a)
    return dict(found)


def _count_using(session: Session, terms: set[str], since: datetime, using: Counter[str],
                 window_since: datetime, window_using: Counter[str]) -> None:
    """Add to `using` how many posts seen since `since` use each term (Rarity's counts), and
    to `window_using` those seen since `window_since` (later than `since`), in one query."""
    for chunk in _chunks(terms):
        for term, posts, recent in session.execute(
                select(EventTerm.term, func.sum(EventTerm.posts),
                       func.sum(case((EventTerm.last_seen >= window_since, EventTerm.posts),
                                     else_=0)))
                .where(EventTerm.term.in_(chunk), EventTerm.last_seen >= since)
                .group_by(EventTerm.term)):
            using[term] += posts or 0
            window_using[term] += recent or 0


def _flush(session: Session, links: list[dict], term_counts: dict[tuple[int, str], list]
           ) -> None:
    """Write the links and index counts gathered so far (before a merge moves posts)."""
    if links:
        session.execute(insert(EventPostRow), links)
    _upsert_terms(session, term_counts)
    links.clear()
    term_counts.clear()


def _story_events(session: Session, story_ids: set[int]) -> dict[int, int]:
    """Each story's event (that of its posts already placed; the newest if they differ)."""
    found: dict[int, int] = {}
    for chunk in _chunks(story_ids):
        found.update(session.execute(
            select(Post.story_id, func.max(EventPostRow.event_id))
            .join(EventPostRow, EventPostRow.post_id == Post.id)
            .where(Post.story_id.in_(chunk)).group_by(Post.story_id)).all())
    return found


def _profiles(session: Session, event_ids: set[int]) -> dict[int, EventProfile]:
    """Profiles of live events: first/last seen and size, their PROFILE_TERMS most used
    words and all their places."""
    profiles: dict[int, EventProfile] = {}
    for chunk in _chunks(event_ids):
        for row in session.execute(select(EventRow.id, EventRow.first_seen, EventRow.last_seen,
                                          EventRow.size)
                                   .where(EventRow.id.in_(chunk),
                                          EventRow.merged_into.is_(None))):
            profiles[row.id] = EventProfile(row.id, row.first_seen, row.last_seen, row.size)
        ranked = (select(EventTerm.event_id, EventTerm.term, EventTerm.posts,
                         func.row_number().over(partition_by=EventTerm.event_id,
                                                order_by=(EventTerm.posts.desc(),
                                                          EventTerm.term)).label("rank"))
                  .where(EventTerm.event_id.in_(chunk)).subquery())
        for event_id, term, posts, rank in session.execute(select(ranked)):
            profile = profiles.get(event_id)
            if profile is None:
                continue
            if is_place_term(term):
                profile.places[term[1:]] = posts
            elif rank <= PROFILE_TERMS:
                profile.terms[term] = posts
    return profiles


def _upsert_terms(session: Session, counts: dict[tuple[int, str], list]) -> None:
    if not counts:
        return
    rows = [{"event_id": e, "term": t, "posts": n, "last_seen": seen}
            for (e, t), (n, seen) in counts.items()]
    dialect = session.get_bind().dialect.name
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = build(EventTerm)
    statement = statement.on_conflict_do_update(
        index_elements=["term", "event_id"],
        set_={"posts": EventTerm.posts + statement.excluded.posts,
              "last_seen": case((statement.excluded.last_seen > EventTerm.last_seen,
                                 statement.excluded.last_seen),
                                else_=EventTerm.last_seen)})
    # One statement, many rows (executemany): compiled once, not once per chunk of values.
    session.execute(statement, rows)


def refresh_events(session: Session, event_ids: Iterable[int],
                   titles: dict[int, tuple[int, int, str]] | None = None) -> None:
    """Recompute size, stories, first and last seen, sources, platforms and official voice
    of events from their posts; take a more typical post's headline as title. An event
    left without posts is deleted with its index terms."""
    titles = titles or {}
    tags = {source_id: tuple(tags or ()) for source_id, tags in
            session.execute(select(Source.id, Source.tags))}
    official = [s for s, t in tags.items() if "official" in t]
    for chunk in _chunks(set(event_ids)):
        stats = {row[0]: row for row in session.execute(
            select(EventPostRow.event_id, func.count(), func.min(Post.seen_at),
                   func.max(Post.seen_at), func.count(func.distinct(Post.story_id)),
                   func.min(case((Post.source_id.in_(official), Post.seen_at))))
            .join(Post, Post.id == EventPostRow.post_id)
            .where(EventPostRow.event_id.in_(chunk)).group_by(EventPostRow.event_id))}
        places: dict[int, dict[str, int]] = defaultdict(dict)
        for event_id, term, posts in session.execute(
                select(EventTerm.event_id, EventTerm.term, EventTerm.posts).where(
                    EventTerm.event_id.in_(chunk), EventTerm.term.like(PLACE_PREFIX + "%"))):
            places[event_id][term[len(PLACE_PREFIX):]] = posts
        sources: dict[int, list[str]] = defaultdict(list)
        for event_id, source_id in session.execute(
                select(EventPostRow.event_id, Post.source_id).distinct()
                .join(Post, Post.id == EventPostRow.post_id)
                .where(EventPostRow.event_id.in_(chunk))):
            sources[event_id].append(source_id)
        for event in session.scalars(select(EventRow).where(EventRow.id.in_(chunk))):
            if event.id not in stats:
                session.execute(delete(EventTerm).where(EventTerm.event_id == event.id))
                if event.merged_into is None:
                    session.delete(event)
                else:   # kept: its number still leads to the event it went into
                    event.size = 0
                continue
            _, size, first, last, stories, official_first = stats[event.id]
            event.size, event.first_seen, event.last_seen = size, first, last
            event.stories = stories or 1
            event.sources = sorted(sources[event.id])
            event.platforms = sorted({t for s in sources[event.id] for t in tags.get(s, ())})
            event.has_official_post = official_first is not None
            event.official_first_at = official_first
            event.jurisdiction = event_place(places[event.id])
            if event.id in titles and titles[event.id][0] > event.title_score:
                event.title_score, event.title_post_id, event.title = titles[event.id]


def event_summaries(session: Session, now: datetime, event_ids: Sequence[int] | None = None,
                    since: datetime | None = None, limit: int = 50,
                    min_size: int = 1) -> list[EventSummary]:
    """Events by id, or the `limit` last seen since `since` (largest first), with growth."""
    query = select(EventRow).where(EventRow.merged_into.is_(None))
    if event_ids is not None:
        query = select(EventRow).where(EventRow.id.in_(list(event_ids)))
    else:
        if since is not None:
            query = query.where(EventRow.last_seen >= as_utc_naive(since))
        query = query.where(EventRow.size >= min_size).limit(limit)
    events = list(session.scalars(query.order_by(EventRow.size.desc(),
                                                 EventRow.last_seen.desc(), EventRow.id)))
    hour_ago = as_utc_naive(now - GROWTH_WINDOW)
    recent: dict[int, int] = {}
    for chunk in _chunks(e.id for e in events):
        recent.update(session.execute(
            select(EventPostRow.event_id, func.count())
            .join(Post, Post.id == EventPostRow.post_id)
            .where(EventPostRow.event_id.in_(chunk), Post.seen_at > hour_ago,
                   Post.seen_at <= as_utc_naive(now))
            .group_by(EventPostRow.event_id)).all())
    return [EventSummary(
        id=e.id, title=e.title, jurisdiction=e.jurisdiction,
        first_seen=from_db(e.first_seen), last_seen=from_db(e.last_seen), size=e.size,
        stories=e.stories, sources=tuple(e.sources or ()), platforms=tuple(e.platforms or ()),
        has_official_post=e.has_official_post, official_first_at=from_db(e.official_first_at),
        last_hour=recent.get(e.id, 0), before=e.size - recent.get(e.id, 0))
        for e in events]


def event_links(session: Session, event_id: int) -> list[EventLink]:
    """The posts of an event, oldest first, with why each joined."""
    rows = session.execute(
        select(EventPostRow).join(Post, Post.id == EventPostRow.post_id)
        .where(EventPostRow.event_id == event_id).order_by(Post.seen_at, Post.id)).scalars()
    return [EventLink(r.post_id, r.reason, r.score, tuple(r.shared or ()), r.place,
                      tuple(r.apart or ())) for r in rows]


def separate_events(session: Session, event_id: int, apart_from: int, by: str, at: datetime,
                    post_ids: Sequence[int] = (), incident_id: int | None = None,
                    split_incident_id: int | None = None) -> None:
    """Record a human split: `apart_from` holds posts split off `event_id`; from now on the
    grouping keeps the two apart (and the events either is merged into) until a human merge
    lifts it (merge_events with lift_by)."""
    if event_id == apart_from:
        return
    session.add(EventSeparation(event_id=event_id, apart_from=apart_from,
                                incident_id=incident_id, split_incident_id=split_incident_id,
                                posts=list(post_ids), created_by=by,
                                created_at=as_utc_naive(at)))
    session.flush()


def event_separations(session: Session, event_id: int) -> list[Separation]:
    """The human splits on either side of an event (standing and lifted), oldest first."""
    rows = session.scalars(select(EventSeparation).where(
        (EventSeparation.event_id == event_id) | (EventSeparation.apart_from == event_id))
        .order_by(EventSeparation.created_at, EventSeparation.id))
    return [_separation(r) for r in rows]


def _separation(row: EventSeparation) -> Separation:
    created = from_db(row.created_at)
    assert created is not None
    return Separation(row.id, row.event_id, row.apart_from, row.incident_id,
                      row.split_incident_id, tuple(row.posts or ()), row.created_by, created,
                      from_db(row.lifted_at), row.lifted_by)


def events_of_posts(session: Session, post_ids: Iterable[int]) -> dict[int, int]:
    """post id -> its event id."""
    found: dict[int, int] = {}
    for chunk in _chunks(set(post_ids)):
        found.update(session.execute(select(EventPostRow.post_id, EventPostRow.event_id)
                                     .where(EventPostRow.post_id.in_(chunk))).all())
    return found


def event_reach(session: Session, event_ids: Iterable[int]) -> dict[int, int]:
    """event id -> how far it spread: its posts plus the reposts and comments the platforms
    counted for them. A comment or repost we hold whose parent is in the same event with a
    count of its kind is in that count already, so it is not counted again. One indexed
    aggregate per 500 events (event_posts.event_id), no post read into Python: cheap enough
    for every open incident each cycle."""
    parent_link, parent = aliased(EventPostRow), aliased(Post)
    counted = case((((Post.relation == "repost") & (func.coalesce(parent.reposts, 0) > 0))
                    | ((Post.relation == "comment") & (func.coalesce(parent.comments, 0) > 0)),
                    1), else_=0)
    found: dict[int, int] = {}
    for chunk in _chunks(set(event_ids)):
        found.update((event_id, int(total or 0)) for event_id, total in session.execute(
            select(EventPostRow.event_id,
                   func.count() - func.sum(counted)
                   + func.sum(func.coalesce(Post.reposts, 0))
                   + func.sum(func.coalesce(Post.comments, 0)))
            .join(Post, Post.id == EventPostRow.post_id)
            .outerjoin(parent_link, (parent_link.post_id == Post.parent_id)
                       & (parent_link.event_id == EventPostRow.event_id))
            .outerjoin(parent, parent.id == parent_link.post_id)
            .where(EventPostRow.event_id.in_(chunk)).group_by(EventPostRow.event_id)))
    return found


def live_event(session: Session, event_id: int) -> int:
    """The event an id now stands for (following merges)."""
    seen = set()
    while event_id not in seen:
        seen.add(event_id)
        into = session.scalar(select(EventRow.merged_into).where(EventRow.id == event_id))
        if into is None:
            return event_id
        event_id = into
    return event_id


def move_posts(session: Session, post_ids: Sequence[int], into: int | None, reason: str
               ) -> int:
    """Move posts to event `into` (None: a new event of their own); the index follows.
    Returns the receiving event's id."""
    one_at_a_time(session, _EVENT_LOCK)
    posts = list(session.execute(select(Post.id, Post.seen_at, Post.keywords, Post.jurisdiction,
                                        Post.title, Post.text, Post.topics)
                                 .where(Post.id.in_(list(post_ids))).order_by(Post.seen_at)))
    if not posts:
        raise LookupError("none of those posts exist")
    old = events_of_posts(session, [p.id for p in posts])
    if into is None:
        first = posts[0]
        row = EventRow(title=headline(first.title, first.text), title_post_id=first.id,
                       title_score=0, jurisdiction=first.jurisdiction,
                       first_seen=first.seen_at, last_seen=first.seen_at, size=0, stories=0,
                       sources=[], platforms=[], has_official_post=False)
        session.add(row)
        session.flush()
        into = row.id
    decrements: Counter[tuple[int, str]] = Counter()
    counts: dict[tuple[int, str], list] = {}
    for post in posts:
        terms = set(post_terms(tuple(post.keywords or ()), tuple(post.topics or ())))
        if post.jurisdiction:
            terms.add(place_term(post.jurisdiction))
        was = old.get(post.id)
        for term in terms:
            if was is not None:
                decrements[(was, term)] += 1
            entry = counts.setdefault((into, term), [0, post.seen_at])
            entry[0] += 1
            entry[1] = max(entry[1], post.seen_at)
    for (event_id, term), n in decrements.items():
        session.execute(update(EventTerm).where(EventTerm.event_id == event_id,
                                                EventTerm.term == term)
                        .values(posts=EventTerm.posts - n))
    session.execute(delete(EventTerm).where(EventTerm.posts <= 0))
    session.execute(delete(EventPostRow).where(EventPostRow.post_id.in_([p.id for p in posts])))
    session.execute(insert(EventPostRow), [
        {"post_id": p.id, "event_id": into, "reason": reason, "score": 0.0, "shared": [],
         "place": None} for p in posts])
    _upsert_terms(session, counts)
    refresh_events(session, {into, *old.values()})
    return into


def merge_events(session: Session, keep: int, other: int, lift_by: str | None = None,
                 at: datetime | None = None) -> list[Separation]:
    """Move every post of `other` into `keep` (their index counts added up); `other` points
    to `keep` from now on, and its separations (human splits) are `keep`'s. Two events a
    person split apart merge only by a person's hand (`lift_by`, at `at`): the split is then
    lifted and returned (for the audit trail); otherwise EventsKeptApart."""
    if keep == other:
        return []
    one_at_a_time(session, _EVENT_LOCK)
    between = list(session.scalars(select(EventSeparation).where(
        EventSeparation.lifted_at.is_(None),
        ((EventSeparation.event_id == keep) & (EventSeparation.apart_from == other))
        | ((EventSeparation.event_id == other) & (EventSeparation.apart_from == keep)))))
    if between and lift_by is None:
        raise EventsKeptApart(f"events {keep} and {other} were split apart by "
                              f"{between[0].created_by}: only a person can merge them")
    for row in between:
        row.lifted_at = as_utc_naive(at or utcnow())
        row.lifted_by = lift_by
    session.flush()
    standing = EventSeparation.lifted_at.is_(None)
    session.execute(update(EventSeparation).where(standing, EventSeparation.event_id == other)
                    .values(event_id=keep))
    session.execute(update(EventSeparation).where(standing, EventSeparation.apart_from == other)
                    .values(apart_from=keep))
    session.execute(update(EventRow).where(EventRow.id == other).values(merged_into=keep))
    session.execute(update(EventPostRow).where(EventPostRow.event_id == other)
                    .values(event_id=keep, reason="merged"))
    moved = {(keep, term): [posts, seen] for term, posts, seen in session.execute(
        select(EventTerm.term, EventTerm.posts, EventTerm.last_seen)
        .where(EventTerm.event_id == other))}
    session.execute(delete(EventTerm).where(EventTerm.event_id == other))
    _upsert_terms(session, moved)
    refresh_events(session, {keep, other})
    session.flush()
    return [_separation(row) for row in between]


class EventStore:
    """Reading events, and moving posts between them, one transaction each."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._session = sessionmaker(warehouse.engine, expire_on_commit=False)

    def events(self, now: datetime, since: datetime | None = None, limit: int = 20,
               min_size: int = 1) -> list[EventSummary]:
        with self._session() as session:
            return event_summaries(session, now, since=since, limit=limit, min_size=min_size)

    def event(self, event_id: int, now: datetime) -> tuple[EventSummary, list[EventLink]]:
        """An event (followed through merges) and its posts with why each joined."""
        with self._session() as session:
            found = event_summaries(session, now, event_ids=[live_event(session, event_id)])
            if not found or found[0].size == 0:
                raise LookupError(f"no event {event_id}")
            return found[0], event_links(session, found[0].id)

    def separations(self, event_id: int) -> list[Separation]:
        """The human splits on either side of an event (followed through merges)."""
        with self._session() as session:
            return event_separations(session, live_event(session, event_id))

    def events_of_posts(self, post_ids: Iterable[int]) -> dict[int, int]:
        with self._session() as session:
            return events_of_posts(session, post_ids)

    def live_event(self, event_id: int) -> int:
        """The event an id now stands for (following merges)."""
        with self._session() as session:
            return live_event(session, event_id)

    def reach(self, event_ids: Iterable[int]) -> dict[int, int]:
        """live event id -> its posts plus their counted reposts and comments (event_reach),
        for the events these ids now stand for."""
        with self._session() as session:
            live = {event_id: live_event(session, event_id) for event_id in set(event_ids)}
            reach = event_reach(session, set(live.values()))
        return {event_id: reach.get(into, 0) for event_id, into in live.items()}


@dataclass(frozen=True)
class Rebuilt:
    """What rebuild_events did."""

    posts: int          # posts grouped again
    events: int         # events standing afterwards (all of them, not only the regrouped)
    incidents: int      # incidents that now follow a new event
    splits: int         # human splits kept
    split_again: int    # of those, split again because the regrouping had joined the halves


def _posts_of_live(session: Session, event_id: int) -> list[int]:
    live = live_event(session, event_id)
    return list(session.scalars(select(EventPostRow.post_id)
                                .where(EventPostRow.event_id == live)))


def _most_held(placed: dict[int, int], posts: Iterable[int]) -> int | None:
    """The event now holding most of these posts (None: none of them is in an event)."""
    held = Counter(placed[p] for p in posts if p in placed)
    return held.most_common(1)[0][0] if held else None


def rebuild_events(warehouse: Warehouse, since: datetime | None = None, batch: int = 500
                   ) -> Rebuilt:
    """Group stored posts into events again from scratch (posts seen since `since`, or all):
    after an upgrade, or a change to the grouping. What people did stays: each standing human
    split (event_separations) is carried over to the new events holding its two halves, and
    split again if the regrouping put the halves together; each incident then follows the new
    event holding most of the posts its event held."""
    from warehouse.models import IncidentRow

    session_of = sessionmaker(warehouse.engine, expire_on_commit=False)
    with session_of.begin() as session:
        one_at_a_time(session, _EVENT_LOCK)
        stale = select(EventPostRow.event_id).join(Post, Post.id == EventPostRow.post_id)
        if since is not None:
            stale = stale.where(Post.seen_at >= as_utc_naive(since))
        events = set(session.scalars(stale.distinct()))
        # The halves of each standing split and the posts each incident's event held, by
        # post: post ids outlive the events.
        halves: dict[int, tuple[list[int], list[int]]] = {}
        for row in session.scalars(select(EventSeparation)
                                   .where(EventSeparation.lifted_at.is_(None))):
            kept, apart = live_event(session, row.event_id), live_event(session, row.apart_from)
            if {kept, apart} & events:
                halves[row.id] = (_posts_of_live(session, kept), _posts_of_live(session, apart))
                # Until carried over, the split names no event: new events may reuse old ids.
                row.event_id = row.apart_from = -row.id
        followed: dict[int, list[int]] = {}
        for incident_id, event_id in session.execute(
                select(IncidentRow.id, IncidentRow.event_id)
                .where(IncidentRow.event_id.is_not(None))):
            if live_event(session, event_id) in events:
                followed[incident_id] = _posts_of_live(session, event_id)
        # An event with a post since `since` may hold older ones: they are grouped again too.
        older: set[int] = set()
        for chunk in _chunks(events):
            if since is not None:
                older.update(session.scalars(
                    select(EventPostRow.post_id).join(Post, Post.id == EventPostRow.post_id)
                    .where(EventPostRow.event_id.in_(chunk),
                           Post.seen_at < as_utc_naive(since))))
            session.execute(delete(EventPostRow).where(EventPostRow.event_id.in_(chunk)))
            session.execute(delete(EventTerm).where(EventTerm.event_id.in_(chunk)))
            session.execute(delete(EventRow).where(EventRow.id.in_(chunk)))
    query = select(Post.id, Post.seen_at, Post.keywords, Post.jurisdiction, Post.story_id,
                   Post.title, Post.text, Post.topics, Post.source_id)
    with session_of() as session:
        if since is None:
            rows = list(session.execute(query))
        else:
            rows = list(session.execute(query.where(Post.seen_at >= as_utc_naive(since))))
            for chunk in _chunks(older):
                rows.extend(session.execute(query.where(Post.id.in_(chunk))))
        rows.sort(key=lambda r: (r.seen_at, r.id))
        official = {source_id for source_id, tags in session.execute(
            select(Source.id, Source.tags)) if "official" in (tags or ())}
    for chunk in _chunks(rows, batch):
        with session_of.begin() as session:
            join_events(session, [EventMember(r.id, r.seen_at, tuple(r.keywords or ()),
                                              r.jurisdiction, r.story_id,
                                              headline(r.title, r.text),
                                              tuple(r.topics or ()),
                                              r.source_id in official) for r in chunk])
    split_again = 0
    with session_of.begin() as session:
        one_at_a_time(session, _EVENT_LOCK)
        for row in session.scalars(select(EventSeparation)
                                   .where(EventSeparation.id.in_(list(halves)))):
            kept_posts, apart_posts = halves[row.id]
            placed = events_of_posts(session, kept_posts + apart_posts)
            kept, apart = _most_held(placed, kept_posts), _most_held(placed, apart_posts)
            if kept is not None and kept == apart:
                apart = move_posts(session, [p for p in apart_posts if placed.get(p) == kept],
                                   None, "split")
                split_again += 1
            if kept is not None and apart is not None:
                row.event_id, row.apart_from = kept, apart
            else:       # a half has no post left: nothing to keep apart
                row.lifted_at, row.lifted_by = as_utc_naive(utcnow()), "rebuild"
        session.flush()
        for incident in session.scalars(select(IncidentRow)
                                        .where(IncidentRow.id.in_(list(followed)))):
            placed = events_of_posts(session, followed[incident.id])
            incident.event_id = _most_held(placed, followed[incident.id])
        total = session.scalar(select(func.count()).select_from(EventRow)
                               .where(EventRow.merged_into.is_(None))) or 0
    return Rebuilt(len(rows), total, len(followed), len(halves), split_again)
