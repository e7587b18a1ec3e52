"""How a story or an event spread: who posted first, which posts and accounts were reposted
or commented most, the platforms and sources it reached, and its curve over time — its posts
and their comment and repost threads (posts.parent_id), read in a few indexed queries.

    story_spread(engine, story_id)      one story (reposts and near-copies of one text)
    event_spread(engine, event_id)      one real-world event (warehouse.events), merges followed
    incident_spread(engine, event_id, post_ids)
                                        what an incident is about: its event, else the stories
                                        of its evidence posts, else those posts themselves
"""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from jingyu.timeutil import SHANGHAI, from_db
from warehouse.models import EventPostRow, Post, Source

MAX_THREAD_DEPTH = 5
# The curve's interval: the shortest of these that draws the whole spread in CURVE_BUCKETS.
CURVE_STEPS = (timedelta(hours=1), timedelta(hours=3), timedelta(hours=6), timedelta(days=1),
               timedelta(days=7))
CURVE_BUCKETS = 72
_IN_CHUNK = 500


@dataclass(frozen=True)
class SpreadPost:
    id: int
    title: str
    author: str | None
    platform: str                      # the post's platform, else its source's name
    source: str                        # the source's name
    url: str | None
    seen_at: datetime                  # aware UTC
    reposts: int                       # the platform's count, or the reposts we hold if more
    comments: int                      # likewise
    relation: str | None               # None for a post, "comment" | "repost" in a thread


@dataclass(frozen=True)
class Account:
    author: str
    posts: int
    reposts: int                       # reposts and comments its posts received
    comments: int


@dataclass(frozen=True)
class Bucket:
    start: datetime                    # aware UTC, aligned on Beijing clock boundaries
    posts: int                         # posts of the story/event first seen in it
    threads: int                       # comments and reposts of them first seen in it

    @property
    def total(self) -> int:
        return self.posts + self.threads


@dataclass(frozen=True)
class Spread:
    posts: int                         # the story's / event's own posts
    thread_posts: int                  # comments and reposts of them we hold, not its own
    comments: int                      # of all held posts: how many are comments …
    reposts: int                       # … and reposts
    first: SpreadPost
    most_spread: tuple[SpreadPost, ...]
    accounts: tuple[Account, ...]
    platforms: tuple[tuple[str, int], ...]        # (platform, posts incl. threads), most first
    sources: tuple[tuple[str, int], ...]          # (source name, posts incl. threads), most first
    step: timedelta                               # the curve's interval
    curve: tuple[Bucket, ...]                     # every interval first to last, oldest first
    story_id: int | None = None                   # what it is the spread of
    event_id: int | None = None

    @property
    def total(self) -> int:
        return self.posts + self.thread_posts


StorySpread = Spread     # the name it had when only stories had a spread

# What every post of a spread is read for; titles and links only for the few shown.
_LIGHT = (Post.id, Post.parent_id, Post.relation, Post.author, Post.platform, Post.source_id,
          Post.seen_at, Post.reposts, Post.comments)


def _chunks(values: Sequence, size: int = _IN_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


class _Row(NamedTuple):
    # SQLAlchemy's Row resolves each attribute by name (~2 µs); a tuple's fields are quick.
    id: int
    parent_id: int | None
    relation: str | None
    author: str | None
    platform: str | None
    source_id: str
    seen_at: datetime
    reposts: int | None
    comments: int | None


def _threads_of(conn, seeds) -> tuple[list[_Row], dict[int, _Row]]:
    """The posts matching `seeds` and every comment and repost of them down to
    MAX_THREAD_DEPTH (comments of comments, reposts of reposts), in one recursive query:
    (the seeds' rows, every row by id)."""
    tree = select(Post.id.label("id"), literal(0).label("depth")).where(seeds) \
        .cte("thread", recursive=True)
    child = aliased(Post)
    tree = tree.union_all(select(child.id, tree.c.depth + 1)
                          .join(tree, child.parent_id == tree.c.id)
                          .where(tree.c.depth < MAX_THREAD_DEPTH))
    found = conn.execute(select(*_LIGHT, func.min(tree.c.depth))
                         .join(tree, tree.c.id == Post.id).group_by(*_LIGHT)).all()
    rows = {row[0]: _Row._make(row[:-1]) for row in found}
    return [rows[row[0]] for row in found if row[-1] == 0], rows


def _curve(times: list[tuple[datetime, bool]]) -> tuple[timedelta, tuple[Bucket, ...]]:
    """(naive UTC time, one of its own posts?) -> the step and its buckets."""
    start = min(t for t, _ in times).replace(tzinfo=UTC)
    end = max(t for t, _ in times).replace(tzinfo=UTC)
    step = next((s for s in CURVE_STEPS if (end - start) / s < CURVE_BUCKETS), CURVE_STEPS[-1])
    # Aligned on the local clock (10:00, 13:00, midnight in Beijing), as people read them.
    local = start.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * int((local - midnight) / step)
    origin = first.astimezone(UTC).replace(tzinfo=None)
    count = int((end - first) / step) + 1
    mine, threads = [0] * count, [0] * count
    for at, is_own in times:
        (mine if is_own else threads)[int((at - origin) / step)] += 1
    return step, tuple(Bucket((first + step * i).astimezone(UTC), mine[i], threads[i])
                       for i in range(count))


def _spread(conn, own: list[_Row], rows: dict[int, _Row], top: int, story_id: int | None = None,
            event_id: int | None = None) -> Spread:
    names = dict(conn.execute(select(Source.id, Source.name)).all())
    held = {"comment": Counter(), "repost": Counter()}
    for row in rows.values():
        if row.parent_id in rows and row.relation in held:
            held[row.relation][row.parent_id] += 1
    own_ids = {row.id for row in own}
    platforms: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    relations: Counter[str | None] = Counter()
    accounts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    counts: dict[int, tuple[int, int]] = {}
    times: list[tuple[datetime, bool]] = []
    for row in rows.values():
        reposts = max(row.reposts or 0, held["repost"][row.id])
        comments = max(row.comments or 0, held["comment"][row.id])
        counts[row.id] = (reposts, comments)
        source = names.get(row.source_id, row.source_id)
        platforms[row.platform or source] += 1
        sources[source] += 1
        relations[row.relation if row.parent_id is not None else None] += 1
        if row.author:
            account = accounts[row.author]
            account[0] += 1
            account[1] += reposts
            account[2] += comments
        at = row.seen_at
        times.append((at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None),
                      row.id in own_ids))
    first = min((row for row in own), key=lambda r: (r.seen_at, r.id)).id
    most = heapq.nsmallest(top, (i for i, (r, c) in counts.items() if r or c),
                           key=lambda i: (-sum(counts[i]), rows[i].seen_at, i))
    details = {row.id: row for chunk in _chunks([first, *most]) for row in conn.execute(
        select(Post.id, Post.title, func.substr(Post.text, 1, 60).label("text"), Post.url)
        .where(Post.id.in_(chunk)))}

    def post(i: int) -> SpreadPost:
        row, shown = rows[i], details[i]
        source = names.get(row.source_id, row.source_id)
        return SpreadPost(
            id=i, title=shown.title or shown.text or "", author=row.author,
            platform=row.platform or source, source=source, url=shown.url,
            seen_at=from_db(row.seen_at), reposts=counts[i][0], comments=counts[i][1],
            relation=row.relation if row.parent_id is not None else None)

    ranked = sorted(accounts.items(), key=lambda a: (-(a[1][1] + a[1][2]), -a[1][0], a[0]))
    step, curve = _curve(times)
    return Spread(posts=len(own_ids), thread_posts=len(rows) - len(own_ids),
                  comments=relations["comment"], reposts=relations["repost"],
                  first=post(first), most_spread=tuple(post(i) for i in most),
                  accounts=tuple(Account(a, n, r, c) for a, (n, r, c) in ranked[:top]),
                  platforms=tuple(platforms.most_common()),
                  sources=tuple(sources.most_common()),
                  step=step, curve=curve, story_id=story_id, event_id=event_id)


def story_spread(engine: Engine, story_id: int, top: int = 5) -> Spread | None:
    """The spread of story `story_id`, or None when it has no posts."""
    with engine.connect() as conn:
        own, rows = _threads_of(conn, Post.story_id == story_id)
        if not own:
            return None
        return _spread(conn, own, rows, top, story_id=story_id)


def event_spread(engine: Engine, event_id: int, top: int = 5) -> Spread | None:
    """The spread of event `event_id` (the event it was merged into, if it was), or None
    when it has no posts."""
    from warehouse.events import live_event

    with Session(engine) as session:
        event_id = live_event(session, event_id)
    with engine.connect() as conn:
        own, rows = _threads_of(conn, Post.id.in_(select(EventPostRow.post_id)
                                                  .where(EventPostRow.event_id == event_id)))
        if not own:
            return None
        return _spread(conn, own, rows, top, event_id=event_id)


def incident_spread(engine: Engine, event_id: int | None, post_ids: Sequence[int],
                    top: int = 5) -> Spread | None:
    """The spread of what an incident is about: its real-world event when it has one with
    posts, else the stories of its evidence posts `post_ids` (posts without a story stand
    for themselves); None when there is nothing to show."""
    if event_id is not None:
        found = event_spread(engine, event_id, top)
        if found is not None:
            return found
    if not post_ids:
        return None
    with engine.connect() as conn:
        seeds = [row for chunk in _chunks(sorted(set(post_ids)))
                 for row in conn.execute(select(Post.id, Post.story_id)
                                         .where(Post.id.in_(chunk))).all()]
        stories = sorted({s.story_id for s in seeds if s.story_id is not None})
        loose = sorted({s.id for s in seeds if s.story_id is None})
        if not seeds:
            return None
        own, rows = _threads_of(conn, or_(Post.story_id.in_(stories or [-1]),
                                          Post.id.in_(loose or [-1])))
        return _spread(conn, own, rows, top,
                       story_id=stories[0] if len(stories) == 1 else None)
