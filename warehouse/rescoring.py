"""Rescore stored posts after a model or rule change: scores, places and missing stories,
batch by batch, each batch one transaction; a second run changes nothing."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from collectors.records import RawPost
from jingyu.timeutil import as_utc_naive, from_db
from transforms.records import ScoredPost
from warehouse.models import Post, PostTopic, Source
from warehouse.stories import StoryMember, join_stories, refresh_stories
from warehouse.store import Warehouse, police_threads

# The columns a scoring decides; the rest (what was collected, when) never changes.
SCORED_COLUMNS = ("content_hash", "keywords", "police_related", "police_terms", "sentiment",
                  "polarity", "police_stance", "police_stance_p", "topics", "rule_hits",
                  "high_risk", "jurisdiction")
# The post_topics bridge copies these columns of its post (the rest is its key).
_BRIDGE_COPIED = tuple(c.key for c in PostTopic.__table__.columns
                       if c.key not in ("post_id", "topic_id"))

# (raw posts, their stored clean texts) -> scored posts, in order: Scorer.score_stored
ScoreStored = Callable[[Sequence[RawPost], Sequence[str]], list[ScoredPost]]


@dataclass(frozen=True)
class RescoreReport:
    posts: int                        # posts read
    changed: int                      # posts whose scores, topics or jurisdiction changed
    stories: int                      # posts that had no story and joined one


def _raw(post: Post) -> RawPost:
    return RawPost(source_id=post.source_id, external_id=post.external_id, url=post.url,
                   title=post.title, body=post.text, author=post.author,
                   published_at=from_db(post.published_at), fetched_at=from_db(post.fetched_at),
                   parent_id=post.parent_external_id, relation=post.relation)


# The transformer's P(positive) of a text can differ in the 8th decimal with the batch it is
# scored in (BLAS rounding); such a difference is not a change.
SENTIMENT_TOLERANCE = 1e-6


def _same(stored: Any, new: Any) -> bool:
    if isinstance(new, list):
        return list(stored or []) == new
    if isinstance(new, float) and isinstance(stored, float):
        return abs(stored - new) <= SENTIMENT_TOLERANCE
    return stored == new


def posts_to_rescore(warehouse: Warehouse, since: datetime | None = None) -> int:
    """How many posts rescore_posts would read (for a progress bar's time left)."""
    query = select(func.count()).select_from(Post)
    if since is not None:
        query = query.where(Post.seen_at >= as_utc_naive(since))
    with warehouse._session() as session:
        return session.scalar(query) or 0


def rescore_posts(warehouse: Warehouse, score: ScoreStored, since: datetime | None = None,
                  batch: int = 1000, on_posts: Callable[[int], None] | None = None
                  ) -> RescoreReport:
    """Recompute the SCORED_COLUMNS of every post seen since `since` (all by default), their
    post_topics rows, and the stories of posts that have none (stored before stories
    existed); refresh the stories of the posts read (a source may have become official).

    Posts are read in (seen_at, id) order, `batch` per transaction, so an interrupted run
    keeps what it finished and a rerun completes it. on_posts hears the size of each batch
    committed (progress).
    """
    if batch < 1:
        raise ValueError(f"the batch must be 1 or more posts, got {batch}")
    read = changed = joined = 0
    after: tuple[datetime, int] | None = None
    while True:
        with warehouse._session.begin() as session:
            query = select(Post, Source.jurisdiction).join(Source, Source.id == Post.source_id)
            if since is not None:
                query = query.where(Post.seen_at >= as_utc_naive(since))
            if after is not None:
                query = query.where(or_(Post.seen_at > after[0],
                                        and_(Post.seen_at == after[0], Post.id > after[1])))
            rows = session.execute(query.order_by(Post.seen_at, Post.id).limit(batch)).all()
            if not rows:
                break
            posts = [post for post, _ in rows]
            scored = score([_raw(post) for post in posts], [post.text for post in posts])
            # A comment in a police-related thread stays police-related (police_threads).
            parents = {post.parent_id for post in posts if post.parent_id is not None}
            police_parents = set(session.scalars(select(Post.id).where(
                Post.id.in_(parents), Post.police_related.is_(True)))) if parents else set()
            rescored: list[Post] = []
            for (post, source_jurisdiction), new in zip(rows, scored):
                values = Warehouse._post_values(new, post.run_id or 0, source_jurisdiction)
                values["police_related"] = (values["police_related"]
                                            or post.parent_id in police_parents)
                if post.parent_id is not None and not values["police_related"]:
                    values["police_stance"] = values["police_stance_p"] = None
                different = {column: values[column] for column in SCORED_COLUMNS
                             if not _same(getattr(post, column), values[column])}
                if different:
                    for column, value in different.items():
                        setattr(post, column, value)
                    rescored.append(post)
            if rescored:
                session.flush()
                ids = [post.id for post in rescored]
                session.execute(delete(PostTopic).where(PostTopic.post_id.in_(ids)))
                bridge = [{"post_id": post.id, "topic_id": topic,
                           **{column: getattr(post, column) for column in _BRIDGE_COPIED}}
                          for post in rescored for topic in dict.fromkeys(post.topics or ())]
                if bridge:
                    session.execute(insert(PostTopic), bridge)
                police_threads(session, ids)
            members = [StoryMember(post.id, post.seen_at, post.text, new.story_keys)
                       for post, new in zip(posts, scored) if post.story_id is None]
            join_stories(session, members)
            refresh_stories(session, {post.story_id for post in posts
                                      if post.story_id is not None})
            read += len(posts)
            changed += len(rescored)
            joined += len(members)
            after = (posts[-1].seen_at, posts[-1].id)
        if on_posts is not None:
            on_posts(len(posts))
    return RescoreReport(posts=read, changed=changed, stories=joined)
