"""Stories in the warehouse: new posts join the story of a stored near duplicate, in the
transaction that stores them; a story's size, growth and official voice are read back."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from jingyu.timeutil import as_utc_naive, from_db
from transforms.stories import SAME_STORY, jaccard, shingles
from warehouse.db import one_at_a_time
from warehouse.models import Post, PostBand, Source, Story

# A key shared by a hot story's thousands of reposts would bring them all back as
# candidates; the most recent few represent the story well enough.
CANDIDATES_PER_KEY = 20
GROWTH_WINDOW = timedelta(hours=1)
# Joins run one at a time on PostgreSQL (a transaction-level advisory lock), so two sources
# storing copies of one new story at once cannot open two stories. SQLite writers are
# serialised already: the posts' INSERT comes first and takes the write lock.
_STORY_LOCK = 0x6A_7973_746F  # "jystory"
_IN_CHUNK = 500


@dataclass(frozen=True)
class StoryMember:
    """A stored post that needs its story."""

    post_id: int
    seen_at: datetime                 # naive UTC, as stored
    text: str                         # the stored (normalised) text
    keys: tuple[int, ...]             # transforms.stories.fingerprints


@dataclass(frozen=True)
class StorySummary:
    """A story as duty staff see it: how big, how fast it grows, whether police spoke."""

    id: int
    first_seen: datetime              # aware UTC
    last_seen: datetime
    size: int
    representative_post_id: int | None
    has_official_post: bool
    official_first_at: datetime | None
    last_hour: int                    # posts seen in the hour before `now`
    before: int                       # posts seen earlier

    @property
    def growing(self) -> bool:
        """More posts in the last hour than in all the time before."""
        return self.last_hour > self.before


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    values = list(values)
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]


def join_stories(session: Session, members: Sequence[StoryMember]) -> set[int]:
    """Give each member a story: that of its most similar stored post (shingle Jaccard at
    least SAME_STORY among the posts sharing a band key), else a new one. Members join in
    seen_at order, so a copy stored in the same batch as its original joins it. Stores the
    members' band keys, refreshes the stories touched and returns their ids."""
    if not members:
        return set()
    one_at_a_time(session, _STORY_LOCK)
    candidates: dict[int, list[tuple[int, int]]] = defaultdict(list)  # key -> (post, story)
    texts: dict[int, str] = {}
    for chunk in _chunks({key for member in members for key in member.keys}):
        ranked = (select(PostBand.band_key, PostBand.post_id,
                         func.row_number().over(partition_by=PostBand.band_key,
                                                order_by=PostBand.post_id.desc()).label("rank"))
                  .where(PostBand.band_key.in_(chunk)).subquery())
        rows = session.execute(
            select(ranked.c.band_key, Post.id, Post.story_id, Post.text)
            .join(Post, Post.id == ranked.c.post_id)
            .where(ranked.c.rank <= CANDIDATES_PER_KEY, Post.story_id.is_not(None)))
        for key, post_id, story_id, post_text in rows:
            candidates[key].append((post_id, story_id))
            texts[post_id] = post_text
    grams = {post_id: shingles(post_text) for post_id, post_text in texts.items()}

    assignments: list[dict[str, int]] = []
    bands: list[dict[str, int]] = []
    touched: set[int] = set()
    for member in sorted(members, key=lambda m: (m.seen_at, m.post_id)):
        mine = shingles(member.text)
        best: tuple[float, int, int] | None = None      # (similarity, -post id, story)
        for post_id, story_id in {c for key in member.keys for c in candidates.get(key, ())}:
            similarity = jaccard(mine, grams[post_id])
            if similarity >= SAME_STORY and (best is None
                                             or (similarity, -post_id) > best[:2]):
                best = (similarity, -post_id, story_id)
        if best is not None:
            story_id = best[2]
        else:
            story = Story(first_seen=member.seen_at, last_seen=member.seen_at, size=1,
                          representative_post_id=member.post_id, has_official_post=False)
            session.add(story)
            session.flush()
            story_id = story.id
        touched.add(story_id)
        assignments.append({"id": member.post_id, "story_id": story_id})
        grams[member.post_id] = mine
        for key in member.keys:
            candidates[key].append((member.post_id, story_id))
            bands.append({"band_key": key, "post_id": member.post_id})
    session.execute(update(Post), assignments)
    if bands:
        session.execute(insert(PostBand), bands)
    refresh_stories(session, touched)
    return touched


def refresh_stories(session: Session, story_ids: Iterable[int]) -> None:
    """Recompute size, first and last seen, representative and official voice of stories
    from their posts (a story left without posts is deleted)."""
    official = [source_id for source_id, tags in session.execute(select(Source.id, Source.tags))
                if "official" in (tags or [])]
    official_seen = func.min(case((Post.source_id.in_(official), Post.seen_at)))
    earlier = aliased(Post)
    first_of_story = (select(func.min(earlier.seen_at)).where(earlier.story_id == Post.story_id)
                      .scalar_subquery())
    for chunk in _chunks(story_ids):
        stats = {row[0]: row for row in session.execute(
            select(Post.story_id, func.count(), func.min(Post.seen_at), func.max(Post.seen_at),
                   official_seen)
            .where(Post.story_id.in_(chunk)).group_by(Post.story_id))}
        firsts = dict(session.execute(
            select(Post.story_id, func.min(Post.id))
            .where(Post.story_id.in_(chunk), Post.seen_at == first_of_story)
            .group_by(Post.story_id)).all())
        for story in session.scalars(select(Story).where(Story.id.in_(chunk))):
            if story.id not in stats:
                session.delete(story)
                continue
            _, size, first_seen, last_seen, official_first = stats[story.id]
            story.size, story.first_seen, story.last_seen = size, first_seen, last_seen
            story.representative_post_id = firsts.get(story.id)
            story.has_official_post = official_first is not None
            story.official_first_at = official_first


def story_summaries(session: Session, now: datetime, story_ids: Sequence[int] | None = None,
                    since: datetime | None = None, limit: int = 50) -> list[StorySummary]:
    """Stories by id, or the `limit` last seen since `since`, newest first, with growth."""
    query = select(Story)
    if story_ids is not None:
        query = query.where(Story.id.in_(list(story_ids)))
    if since is not None:
        query = query.where(Story.last_seen >= as_utc_naive(since))
    stories = list(session.scalars(query.order_by(Story.last_seen.desc(), Story.id.desc())
                                   .limit(None if story_ids is not None else limit)))
    hour_ago = as_utc_naive(now - GROWTH_WINDOW)
    recent: dict[int, int] = {}
    for chunk in _chunks(story.id for story in stories):
        recent.update(session.execute(
            select(Post.story_id, func.count())
            .where(Post.story_id.in_(chunk), Post.seen_at > hour_ago,
                   Post.seen_at <= as_utc_naive(now))
            .group_by(Post.story_id)).all())
    return [StorySummary(
        id=story.id, first_seen=from_db(story.first_seen), last_seen=from_db(story.last_seen),
        size=story.size, representative_post_id=story.representative_post_id,
        has_official_post=story.has_official_post,
        official_first_at=from_db(story.official_first_at),
        last_hour=recent.get(story.id, 0),
        before=story.size - recent.get(story.id, 0),
    ) for story in stories]
