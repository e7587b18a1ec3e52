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

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
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

_COLUMNS = (Post.id, Post.title, Post.text, Post.author, Post.platform, Post.url, Post.seen_at,
            Post.reposts, Post.comments, Post.parent_id, Post.relation, Post.story_id)


def _chunks(values: Sequence, size: int = _IN_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _read(conn, where) -> list:
    source = aliased(Source)
    return conn.execute(select(*_COLUMNS, source.name.label("source_name"))
                        .join(source, source.id == Post.source_id).where(where)).all()


def _with_threads(conn, own: list) -> dict[int, object]:
    """`own` and every comment and repost of them, down to MAX_THREAD_DEPTH."""
    rows = {row.id: row for row in own}
    frontier = set(rows)
    for _ in range(MAX_THREAD_DEPTH):   # comments of comments, reposts of reposts
        if not frontier:
            break
        children = [row for chunk in _chunks(sorted(frontier))
                    for row in _read(conn, Post.parent_id.in_(chunk))]
        frontier = {row.id for row in children if row.id not in rows}
        rows.update({row.id: row for row in children})
    return rows


def _curve(posts: list[SpreadPost], own: set[int]) -> tuple[timedelta, tuple[Bucket, ...]]:
    times = [p.seen_at for p in posts]
    start, end = min(times), max(times)
    step = next((s for s in CURVE_STEPS if (end - start) / s < CURVE_BUCKETS), CURVE_STEPS[-1])
    # Aligned on the local clock (10:00, 13:00, midnight in Beijing), as people read them.
    local = start.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * int((local - midnight) / step)
    count = int((end - first) / step) + 1
    mine, threads = [0] * count, [0] * count
    for p in posts:
        i = int((p.seen_at - first) / step)
        (mine if p.id in own else threads)[i] += 1
    return step, tuple(Bucket((first + step * i).astimezone(UTC), mine[i], threads[i])
                       for i in range(count))


def _spread(own: list, rows: dict[int, object], top: int, story_id: int | None = None,
            event_id: int | None = None) -> Spread:
    held = {"comment": Counter(), "repost": Counter()}
    for row in rows.values():
        if row.parent_id in rows and row.relation in held:
            held[row.relation][row.parent_id] += 1

    def post(row) -> SpreadPost:
        return SpreadPost(
            id=row.id, title=row.title or (row.text or "")[:60], author=row.author,
            platform=row.platform or row.source_name, source=row.source_name, url=row.url,
            seen_at=from_db(row.seen_at),
            reposts=max(row.reposts or 0, held["repost"][row.id]),
            comments=max(row.comments or 0, held["comment"][row.id]),
            relation=row.relation if row.parent_id is not None else None)

    own_ids = {row.id for row in own}
    posts = [post(row) for row in rows.values()]
    first = min((p for p in posts if p.id in own_ids), key=lambda p: (p.seen_at, p.id))
    most = sorted((p for p in posts if p.reposts or p.comments),
                  key=lambda p: (-(p.reposts + p.comments), p.seen_at, p.id))[:top]
    by_author: dict[str, list[SpreadPost]] = defaultdict(list)
    for p in posts:
        if p.author:
            by_author[p.author].append(p)
    accounts = sorted((Account(author, len(items), sum(i.reposts for i in items),
                               sum(i.comments for i in items))
                       for author, items in by_author.items()),
                      key=lambda a: (-(a.reposts + a.comments), -a.posts, a.author))[:top]
    relations = Counter(p.relation for p in posts)
    step, curve = _curve(posts, own_ids)
    return Spread(posts=len(own_ids), thread_posts=len(posts) - len(own_ids),
                  comments=relations["comment"], reposts=relations["repost"],
                  first=first, most_spread=tuple(most), accounts=tuple(accounts),
                  platforms=tuple(Counter(p.platform for p in posts).most_common()),
                  sources=tuple(Counter(p.source for p in posts).most_common()),
                  step=step, curve=curve, story_id=story_id, event_id=event_id)


def story_spread(engine: Engine, story_id: int, top: int = 5) -> Spread | None:
    """The spread of story `story_id`, or None when it has no posts."""
    with engine.connect() as conn:
        own = _read(conn, Post.story_id == story_id)
        if not own:
            return None
        rows = _with_threads(conn, own)
    return _spread(own, rows, top, story_id=story_id)


def event_spread(engine: Engine, event_id: int, top: int = 5) -> Spread | None:
    """The spread of event `event_id` (the event it was merged into, if it was), or None
    when it has no posts."""
    from warehouse.events import live_event

    with Session(engine) as session:
        event_id = live_event(session, event_id)
    with engine.connect() as conn:
        own = _read(conn, Post.id.in_(select(EventPostRow.post_id)
                                      .where(EventPostRow.event_id == event_id)))
        if not own:
            return None
        rows = _with_threads(conn, own)
    return _spread(own, rows, top, event_id=event_id)


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
        own = [row for chunk in _chunks(stories) for row in _read(conn, Post.story_id.in_(chunk))]
        own += [row for chunk in _chunks(loose) for row in _read(conn, Post.id.in_(chunk))]
        if not own:
            return None
        rows = _with_threads(conn, own)
    return _spread(own, rows, top, story_id=stories[0] if len(stories) == 1 else None)
