"""How a story spread: who posted first, which posts and accounts were reposted or commented
most, the platforms it reached, and its curve over time — its posts and their comment and
repost threads (posts.parent_id), read in two queries."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from jingyu.timeutil import from_db
from warehouse.models import Post, Source

MAX_THREAD_DEPTH = 5


@dataclass(frozen=True)
class SpreadPost:
    id: int
    title: str
    author: str | None
    platform: str                      # the post's platform, else its source's name
    url: str | None
    seen_at: datetime                  # aware UTC
    reposts: int                       # the platform's count, or the reposts we hold if more
    comments: int                      # likewise


@dataclass(frozen=True)
class Account:
    author: str
    posts: int
    reposts: int
    comments: int


@dataclass(frozen=True)
class StorySpread:
    story_id: int
    posts: int                         # the story's own posts
    thread_posts: int                  # comments and reposts of them we hold
    first: SpreadPost
    most_spread: tuple[SpreadPost, ...]
    accounts: tuple[Account, ...]
    platforms: tuple[tuple[str, int], ...]        # (platform, posts incl. threads), most first
    curve: tuple[tuple[datetime, int], ...]       # (hour, posts incl. threads), oldest first


def story_spread(engine: Engine, story_id: int, top: int = 5) -> StorySpread | None:
    """The spread of story `story_id`, or None when it has no posts."""
    source = aliased(Source)
    columns = (Post.id, Post.title, Post.text, Post.author, Post.platform, Post.url,
               Post.seen_at, Post.reposts, Post.comments, Post.parent_id, Post.relation,
               source.name.label("source_name"))
    with engine.connect() as conn:
        own = conn.execute(select(*columns).join(source, source.id == Post.source_id)
                           .where(Post.story_id == story_id)).all()
        if not own:
            return None
        rows = {row.id: row for row in own}
        frontier = set(rows)
        for _ in range(MAX_THREAD_DEPTH):   # comments of comments, reposts of reposts
            if not frontier:
                break
            children = conn.execute(select(*columns).join(source, source.id == Post.source_id)
                                    .where(Post.parent_id.in_(list(frontier)))).all()
            frontier = {row.id for row in children if row.id not in rows}
            rows.update({row.id: row for row in children})
    held = {"comment": Counter(), "repost": Counter()}
    for row in rows.values():
        if row.parent_id in rows and row.relation in held:
            held[row.relation][row.parent_id] += 1

    def post(row) -> SpreadPost:
        return SpreadPost(
            id=row.id, title=row.title or (row.text or "")[:60], author=row.author,
            platform=row.platform or row.source_name, url=row.url,
            seen_at=from_db(row.seen_at),
            reposts=max(row.reposts or 0, held["repost"][row.id]),
            comments=max(row.comments or 0, held["comment"][row.id]))

    posts = [post(row) for row in rows.values()]
    story_posts = [p for p in posts if p.id in {row.id for row in own}]
    first = min(story_posts, key=lambda p: (p.seen_at, p.id))
    most = sorted((p for p in posts if p.reposts or p.comments),
                  key=lambda p: (-(p.reposts + p.comments), p.seen_at))[:top]
    by_author: dict[str, list[SpreadPost]] = defaultdict(list)
    for p in posts:
        if p.author:
            by_author[p.author].append(p)
    accounts = sorted((Account(author, len(items), sum(i.reposts for i in items),
                               sum(i.comments for i in items))
                       for author, items in by_author.items()),
                      key=lambda a: (-(a.reposts + a.comments), -a.posts, a.author))[:top]
    platforms = Counter(p.platform for p in posts).most_common()
    hours = Counter(p.seen_at.replace(minute=0, second=0, microsecond=0) for p in posts)
    return StorySpread(story_id=story_id, posts=len(own), thread_posts=len(posts) - len(own),
                       first=first, most_spread=tuple(most), accounts=tuple(accounts),
                       platforms=tuple(platforms), curve=tuple(sorted(hours.items())))
